/**
 * The Rust side's heap-ID bookkeeping (allocators.md §2, §4-§6), driven only by what the
 * Rust peer sees and does: the R-messages it sends (encode-time events) and the
 * J-messages it takes (decode-time events), in Rust's order.
 *
 * One concept a file, each layer a class on the one below: rust-state (what the model knows,
 * taking and releasing IDs), rust-plan (placeholders), rust-readings (L-R1 / L-R2),
 * rust-j-messages and rust-r-messages (the handlers); this file steps the model, copies it
 * for the replay's readings and shows its state.
 */
import type { DecodedMessage } from '../protocol/messages.js';
import type { LMsg, StepOut } from './context.js';
import { RustRMessages } from './rust-r-messages.js';

export interface RustSnapshot {
  maxId: number;
  freeList?: number[];
  live: number;
  borrowPointer: number;
  borrowFrames: number;
  openExchanges: Array<{ kind: string; message: number }>;
  pendingInstall?: number;
  releasedNotRecycled?: number[];
}

export class RustModel extends RustRMessages {
  clone(): RustModel {
    const c = new RustModel(this.ctx);
    c.maxId = this.maxId;
    c.free = [...this.free];
    c.live = new Map(this.live);
    c.freed = this.freed.clone();
    c.released = new Map(this.released);
    c.borrowPointer = this.borrowPointer;
    c.borrowFrames = [...this.borrowFrames];
    c.borrowSlots = new Map(this.borrowSlots);
    c.lastBorrow = new Map(this.lastBorrow);
    c.frames = this.frames.map((f) => ({ ...f, post: [...f.post], drops: [...f.drops], ...(f.ambiguous && { ambiguous: { ...f.ambiguous } }) }));
    c.pendingInstall = [...this.pendingInstall];
    c.stash = new Map(this.stash);
    c.guessed = this.guessed.map((g) => ({ ...g }));
    c.settled = this.settled;
    c.keyIndex = new Map(this.keyIndex);
    c.created = this.created;
    c.freedCount = this.freedCount;
    if (this.idEvents) c.idEvents = [];
    return c;
  }

  snapshot(): RustSnapshot {
    return {
      maxId: this.maxId,
      ...(this.allocator === 'freelist' && { freeList: this.free.slice(-16) }),
      live: this.live.size,
      borrowPointer: this.borrowPointer,
      borrowFrames: this.borrowFrames.length,
      openExchanges: this.frames.map((f) => ({ kind: f.kind, message: f.lm.no })),
      ...(this.allocator === 'explicit' && { pendingInstall: this.pendingInstall.length, releasedNotRecycled: [...this.released.keys()].slice(0, 16) }),
    };
  }

  /** Rust sends (R-messages) or takes (J-messages) one message. */
  step(lm: LMsg, d: DecodedMessage, out: StepOut): void {
    this.reconcile();
    const body = d.body;
    if (!body) return;
    switch (body.kind) {
      case 'r-eval':
        this.onREval(lm, d, body, out);
        return;
      case 'r-resp':
        this.onRResp(lm, d, body, out);
        return;
      case 'j-eval':
        this.onJEval(lm, d, body, out);
        return;
      case 'j-resp':
        this.onJResp(lm, d, body, out);
        return;
    }
  }

  /** End of trace: values decoded from JS that never received an install ID. */
  pendingInstallCount(): number {
    return this.pendingInstall.length;
  }
}

export type { Reading } from './rust-state.js';
