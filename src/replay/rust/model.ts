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
import type { DecodedMessage } from '../../protocol/messages.js';
import type { LMsg, StepOut } from '../context.js';
import type { RustFrame } from './state.js';
import { RustRMessages } from './r-messages.js';

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
  /** The last snapshot taken: the next shares its unchanged lists. */
  private lastSnapshot?: RustSnapshot;

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

  /**
   * Taken after every step: the lists are shared with the last snapshot (never changed once
   * made) where they did not change; keys are in the order of the JSON schema.
   */
  snapshot(): RustSnapshot {
    const prev = this.lastSnapshot;
    const openExchanges = prev && sameExchanges(prev.openExchanges, this.frames) ? prev.openExchanges : this.frames.map((f) => ({ kind: f.kind, message: f.lm.no }));
    let s: RustSnapshot;
    if (this.allocator === 'explicit') {
      s = {
        maxId: this.maxId,
        live: this.live.size,
        borrowPointer: this.borrowPointer,
        borrowFrames: this.borrowFrames.length,
        openExchanges,
        pendingInstall: this.pendingInstall.length,
        releasedNotRecycled: firstKeysOr(this.released, 16, prev?.releasedNotRecycled),
      };
    } else if (this.allocator === 'freelist') {
      const freeList = tailOr(this.free, 16, prev?.freeList);
      s = { maxId: this.maxId, freeList, live: this.live.size, borrowPointer: this.borrowPointer, borrowFrames: this.borrowFrames.length, openExchanges };
    } else {
      s = { maxId: this.maxId, live: this.live.size, borrowPointer: this.borrowPointer, borrowFrames: this.borrowFrames.length, openExchanges };
    }
    return (this.lastSnapshot = s);
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

/** The last `n` of `xs`, or `prev` when it holds the same. */
function tailOr(xs: readonly number[], n: number, prev: number[] | undefined): number[] {
  const from = Math.max(0, xs.length - n);
  if (prev && prev.length === xs.length - from) {
    let same = true;
    for (let i = 0; i < prev.length && same; i++) same = prev[i] === xs[from + i];
    if (same) return prev;
  }
  return xs.slice(from);
}

/** The first `n` keys of `m` in insertion order, or `prev` when they are the same. */
function firstKeysOr(m: ReadonlyMap<number, unknown>, n: number, prev: number[] | undefined): number[] {
  if (prev) {
    let i = 0;
    let same = true;
    for (const k of m.keys()) {
      if (i === n) break;
      if (prev[i] !== k) {
        same = false;
        break;
      }
      i++;
    }
    if (same && i === prev.length) return prev;
  }
  const keys: number[] = [];
  for (const k of m.keys()) {
    if (keys.length === n) break;
    keys.push(k);
  }
  return keys;
}

function sameExchanges(prev: RustSnapshot['openExchanges'], frames: readonly RustFrame[]): boolean {
  if (prev.length !== frames.length) return false;
  for (let i = 0; i < frames.length; i++) if (prev[i]!.kind !== frames[i]!.kind || prev[i]!.message !== frames[i]!.lm.no) return false;
  return true;
}

export type { Reading } from './state.js';
