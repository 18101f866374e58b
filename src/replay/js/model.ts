/**
 * The JS side's heap-ID bookkeeping (allocators.md §3-§6), driven only by what the webview
 * sees and does: the R-messages it receives (in processing order) and the J-messages it
 * sends. An R-Eval's ops run one after another; where nested traffic happened inside it
 * is not on the wire, so every open R-Eval keeps an op window (allocators.md §8) and only
 * the ops before the window's start are committed until its J-Resp.
 *
 * One concept a file, each layer a class on the one below: js-state (what the model knows),
 * js-window (op windows), js-ref-checks (INV-3..5), js-ops (one op), js-exchanges (how
 * exchanges end), js-r-messages and js-j-messages (the handlers), js-snapshot; this file
 * steps the model, copies it for the replay's readings and ends the trace.
 */
import type { DecodedMessage } from '../../protocol/messages.js';
import type { Intent } from '../ids.js';
import type { Draft, LMsg, StepOut } from '../context.js';
import type { WindowChoice } from './window.js';
import { JsJMessages } from './j-messages.js';
import { type JsSnapshot, jsSnapshotOf } from './snapshot.js';

export class JsModel extends JsJMessages {
  /** The last snapshot taken: the next shares its unchanged lists. */
  private lastSnapshot?: JsSnapshot;

  clone(): JsModel | undefined {
    const heap = this.heap.clone();
    if (!heap) return undefined;
    const c = new JsModel(this.ctx, heap);
    c.frames = this.frames.map((f) => ({ ...f, typeDefs: f.typeDefs, resultsPending: [...f.resultsPending] }));
    c.types = new Set(this.types);
    c.unparsed = new Map(this.unparsed);
    c.callbacks = new Map(this.callbacks);
    c.keyIndex = new Map(this.keyIndex);
    c.freed = this.freed.clone();
    c.guessed = this.guessed.map((g) => ({ ...g }));
    c.settled = this.settled;
    c.awaiting = this.awaiting.clone();
    c.created = this.created;
    c.freedCount = this.freedCount;
    if (this.idEvents) c.idEvents = [];
    return c;
  }

  snapshot(): JsSnapshot {
    return (this.lastSnapshot = jsSnapshotOf(this.allocator, this.heap.model, this.frames, this.lastSnapshot));
  }

  step(lm: LMsg, d: DecodedMessage, intent: Intent | undefined, out: StepOut, choice?: WindowChoice): void {
    this.reconcile();
    const body = d.body;
    if (!body) return;
    switch (body.kind) {
      case 'r-eval':
        this.onREval(lm, d, body, intent, out);
        return;
      case 'j-eval':
        this.onJEval(lm, d, body, out, choice);
        return;
      case 'j-resp':
        this.onJResp(d, body, out);
        return;
      case 'r-resp':
        this.onRResp(lm, d, body, intent, out);
        return;
    }
  }

  /** End of trace: let the innermost open R-Eval run as far as it can; report values never installed. */
  finish(out: StepOut): void {
    const top = this.frames[this.frames.length - 1];
    if (top && top.kind === 'r-eval' && !top.threw) this.runOn(top, out);
    if (this.allocator === 'explicit' && this.threwAt()) this.unwind();
    if (this.allocator === 'explicit') {
      const n = this.heap.model.pendingDeferred();
      if (n > 0 && this.frames.length === 0) {
        out.add({
          kind: 'install-mismatch',
          severity: 'error',
          key: 'install-mismatch|end',
          message: `${n} value${n === 1 ? '' : 's'} JS sent without an ID never received one from an install list by the end of the trace`,
          location: { input: '', side: 'js' },
          detail: { pending: n },
        });
      }
    }
  }
}

export type { JsFrame } from './state.js';
export type { ForkPlan, WindowChoice } from './window.js';
export type { JsSnapshot } from './snapshot.js';
export type { Draft };
