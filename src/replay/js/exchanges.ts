/**
 * How JS's open exchanges end: answered, abandoned (JS threw, or a lost Respond), or unwound
 * by an exception (explicit-ids), with the borrow frames and reservation scopes they pushed.
 */
import type { StepOut } from '../context.js';
import { HeapThrow } from './heap.js';
import type { JsFrame } from './state.js';
import { JsOps } from './ops.js';

export abstract class JsExchanges extends JsOps {
  /** Pops an exchange normally (its Respond went out or came in). */
  protected close(f: JsFrame, out: StepOut, normal: boolean): void {
    const i = this.frames.indexOf(f);
    if (i >= 0 && i < this.frames.length - 1 && f.mark && !this.heap.usesRealHeap) {
      // Not the innermost: the record is not in JS's order (a Respond routed by id). JS ran the
      // exchanges above it elsewhere; end this one alone.
      this.frames.splice(i, 1);
      this.noteUnparsed(f);
      const later = this.frames.slice(i);
      this.heap.model.removeAt(f.mark, f.borrowPushed && (normal || this.allocator === 'explicit'), f.kind === 'r-eval' && f.scopePushed && (normal || this.allocator === 'explicit'));
      for (const g of later) if (g.mark) g.mark = { frame: g.mark.frame - (f.borrowPushed ? 1 : 0), scope: g.mark.scope - (f.scopePushed ? 1 : 0) };
      return;
    }
    if (i >= 0) this.frames.splice(i, 1);
    if (f.kind === 'r-eval') {
      this.noteUnparsed(f);
      if (normal || this.allocator === 'explicit') {
        if (f.borrowPushed) this.heap.popBorrowFrame();
        if (f.scopePushed) {
          try {
            this.heap.popReservationScope(normal && !f.threw);
          } catch (e) {
            if (!(e instanceof HeapThrow)) throw e;
            // "Only filled k of n": reported as reservation-underfilled when the R-Eval arrived.
          }
        }
      }
    } else if (f.borrowPushed && (normal || this.allocator === 'explicit')) {
      this.heap.popBorrowFrame();
    }
    if (this.frames.length === 0) {
      const m = this.heap.model;
      out.quiescent = this.allocator !== 'explicit' ? { maxId: m.maxId, pointer: m.pointer, frames: m.frameDepth() } : { pointer: m.pointer, frames: m.frameDepth() };
    }
  }

  /**
   * An exchange that ends without its Respond. A lost R-Resp (lost-respond) ends the
   * callback's chain normally; otherwise JS threw, and before explicit-ids nothing pops
   * the frames it had pushed.
   */
  protected abandon(serial: number, how: 'lost-respond' | 'exception', out: StepOut): void {
    const i = this.frameIndex(serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    if (f.kind === 'r-eval' && !f.threw) this.runOn(f, out);
    this.close(f, out, how === 'lost-respond');
  }

  /**
   * Runs the rest of an R-Eval that was never answered, as JS would, up to the first op
   * that fails its checks: that is most likely where JS threw.
   */
  protected runOn(f: JsFrame, out: StepOut): void {
    for (let j = f.done + 1; j <= f.ops.length && !f.threw; j++) {
      if (f.started < j && !this.startOp(f, j, out)) {
        f.threw ??= `stopped|${f.lm.no}|${j}`;
        return;
      }
      this.completeOp(f, j, undefined, out);
    }
  }

  /**
   * explicit-ids: JS threw, and the exception left through every exchange on JS's call stack.
   * The R-Eval loop and RustFunction.call pop their borrow frame (and the R-Eval its reservation
   * scope, unchecked) in `finally`, so none of the open exchanges holds a frame any more, although
   * none of them was answered. Earlier revisions have no finally: their frames stay.
   */
  protected unwind(): void {
    this.unwoundAfterThrow = true;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.borrowPushed) this.heap.popBorrowFrame();
      if (f.scopePushed) this.heap.popReservationScope(false);
      f.borrowPushed = false;
      f.scopePushed = false;
    }
  }
}
