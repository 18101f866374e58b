/**
 * The J-messages JS sends: a J-Eval (a callback or export call, nested in the open R-Evals'
 * op windows) and a J-Resp, which runs the rest of its R-Eval with the results it carries.
 */
import { formatCallbackKey } from '../../protocol/format.js';
import type { DecodedMessage, JEvalBody, JRespBody } from '../../protocol/messages.js';
import { forEachRef, type Value } from '../../protocol/values.js';
import type { Origin } from '../ids.js';
import { locationOf, type LMsg, type StepOut } from '../context.js';
import { HeapThrow } from './heap.js';
import { NO_TYPES, type JsFrame } from './state.js';
import type { WindowChoice } from './window.js';
import { JsRMessages } from './r-messages.js';

export abstract class JsJMessages extends JsRMessages {
  protected onJEval(lm: LMsg, d: DecodedMessage, body: JEvalBody, out: StepOut, choice: WindowChoice | undefined): void {
    for (const x of d.abandoned) this.abandon(x.serial, x.kind === 'j-eval' ? 'lost-respond' : 'exception', out);
    const top = this.frames[this.frames.length - 1];
    const call = body.call;
    // The callback can only run once the op that handed JS its key has started, in every
    // enclosing R-Eval, not just the innermost one.
    if (call.kind === 'callback' && !this.heap.usesRealHeap) {
      for (const g of this.frames) {
        if (g === top || g.kind !== 'r-eval' || g.threw) continue;
        const w = this.windowFor(g, call);
        const lo = !this.ctx.strict && w.h !== undefined ? w.h : w.a;
        if (lo > g.kmin && lo <= g.kmax) this.narrow(g, lo, g.kmax, out);
      }
    }
    if (top && top.kind === 'r-eval' && !top.threw) {
      const fp = this.forkPlan(d);
      const plan = choice ?? fp?.choices[fp.primary];
      if (fp?.bare && fp.heuristic !== undefined && call.kind === 'callback') top.assumed = { op: fp.heuristic, window: fp.bare, callback: lm.no };
      if (plan) this.narrow(top, plan.kmin, plan.kmax, out);
    }
    const frame: JsFrame = {
      serial: d.exchange?.serial ?? -lm.no,
      kind: 'j-eval',
      lm,
      ops: [],
      kmin: 0,
      kmax: 0,
      started: 0,
      done: 0,
      reservation: 'none',
      reserved: 0,
      incomplete: d.exchange?.incomplete ?? false,
      typeDefs: NO_TYPES,
      borrowPushed: false,
      scopePushed: false,
      resultsPending: [],
    };
    if (call.kind === 'callback' || call.kind === 'export') {
      frame.mark = this.heap.model.marks();
      this.heap.pushBorrowFrame();
      frame.borrowPushed = true;
    }
    const allocs: Array<{ key: string; id: number; reused: boolean }> = [];
    if (call.kind === 'callback') {
      const at = locationOf(this.ctx, lm, 'js');
      let ref = 0;
      call.args.forEach((arg, i) => {
        forEachRef(arg, (r) => {
          ref++;
          if (frame.threw) return;
          const origin: Origin = { no: lm.no, ref, arg: i + 1 };
          if (r.kind === 'borrowed') {
            const v = this.val(origin, 'borrowed-arg', call.key, at);
            try {
              this.heap.addBorrowedRef(v);
            } catch (e) {
              if (!(e instanceof HeapThrow)) throw e;
              const key = `borrow-stack-overflow|${lm.no}`;
              out.add({
                kind: 'borrow-stack-overflow',
                severity: 'error',
                key,
                message: `callback ${formatCallbackKey(call.key)} in msg ${lm.no} takes a borrowed reference with the borrow stack already at slot ${this.heap.model.pointer}: more than 127 borrowed references alive (JS throws, Rust panics)`,
                location: at,
              });
              frame.threw = key;
            }
            return;
          }
          const reused = this.allocator === 'freelist' && this.heap.model.freeCount() > 0;
          const v = this.val(origin, 'callback-arg', call.key, at, reused);
          if (this.allocator === 'explicit') {
            frame.deferred ??= this.heap.newDeferred();
            this.heap.deferPush(frame.deferred, v);
            return;
          }
          let id = this.heap.insert(v);
          this.stored(id, v);
          if (this.ctx.features.jsWritesHeapIds && r.id !== undefined && r.id !== id) {
            this.relocate(id, r.id, v);
            id = r.id;
          }
          allocs.push({ key: v.key, id, reused });
        });
      });
    }
    this.frames.push(frame);
    out.jsAllocs = allocs;
  }

  protected onJResp(d: DecodedMessage, body: JRespBody, out: StepOut): void {
    for (const x of d.abandoned) this.abandon(x.serial, 'exception', out);
    const i = this.frameIndex(d.exchange?.serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    // A J-Resp exists, so JS did not throw in it after all.
    f.threw = undefined;
    // The result of op j, the last given for it; only ops 1..n are looked up.
    const n = f.ops.length;
    const byOp: Array<Value | undefined> = new Array(n + 1);
    for (const r of body.results) if (r.op >= 1 && r.op <= n) byOp[r.op] = r.value;
    for (const j of f.resultsPending) {
      const v = byOp[j];
      if (v) this.storeResultRefs(f, j, v, out);
    }
    f.resultsPending.length = 0;
    for (let j = f.done + 1; j <= n; j++) {
      if (f.started < j) this.startOp(f, j, out);
      this.completeOp(f, j, byOp[j], out);
    }
    f.threw = undefined;
    this.close(f, out, true);
  }
}
