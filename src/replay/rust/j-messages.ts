/**
 * The J-messages Rust takes: a J-Eval (decoding a callback's arguments) and a J-Resp, which its
 * flush takes when it is the one waiting (post-answer allocations, decoded refs, recycling),
 * and the exchanges that end without their Respond.
 */
import { formatCallbackKey } from '../../protocol/format.js';
import type { DecodedMessage, JEvalBody, JRespBody } from '../../protocol/messages.js';
import { forEachRef } from '../../protocol/values.js';
import type { FindingLocation } from '../findings.js';
import type { Intent, Made, Origin } from '../ids.js';
import { locationOf, type LMsg, type StepOut } from '../context.js';
import type { RustFrame } from './state.js';
import { RustReadings } from './readings.js';

export abstract class RustJMessages extends RustReadings {
  protected onJEval(lm: LMsg, d: DecodedMessage, body: JEvalBody, out: StepOut): void {
    for (const x of d.abandoned) this.dropFrame(x.serial, true);
    const call = body.call;
    const intent: Intent = { allocs: [] };
    const isCallback = call.kind === 'callback';
    if (isCallback) this.borrowFrames.push(this.borrowPointer);
    if (call.kind === 'callback' && call.args.length > 0) {
      let ref = 0;
      const at = locationOf(this.ctx, lm, 'rust');
      call.args.forEach((arg, i) => {
        forEachRef(arg, (r) => {
          ref++;
          const origin: Origin = { no: lm.no, ref, arg: i + 1 };
          if (r.kind === 'borrowed') {
            if (this.borrowPointer <= 1) {
              out.add({
                kind: 'borrow-stack-overflow',
                severity: 'error',
                key: `borrow-stack-overflow|${lm.no}`,
                message: `callback ${formatCallbackKey(call.key)} in msg ${lm.no} takes a borrowed reference with the borrow stack already at slot ${this.borrowPointer}: more than 127 borrowed references alive (Rust panics, JS throws)`,
                location: at,
              });
              return;
            }
            this.borrowPointer--;
            const info = this.info(origin, 'borrowed-arg', call.key, at);
            this.borrowSlots.set(this.borrowPointer, info);
            this.lastBorrow.set(this.borrowPointer, info);
            return;
          }
          this.allocDecoded(origin, 'callback-arg', call.key, at, r.id, lm, out, intent);
        });
      });
    }
    this.frames.push({ serial: d.exchange?.serial ?? -lm.no, kind: 'j-eval', lm, ops: [], post: [], drops: [], borrowFrame: isCallback });
    out.intent = intent;
    this.quiescence(out);
  }

  /** A HeapRef Rust decodes from JS: L-R3 / R-R3, S-R1 (explicit ID), E-R4 (pending install). */
  protected allocDecoded(origin: Origin, made: Made, name: string | number, at: FindingLocation, wireId: number | undefined, lm: LMsg, out: StepOut, intent: Intent): void {
    if (this.allocator === 'explicit') {
      this.pendingInstall.push(this.info(origin, made, name, at));
      return;
    }
    if (this.ctx.features.jsWritesHeapIds && wireId !== undefined) {
      const info = this.info(origin, made, name, at);
      this.adopt(wireId, info, lm, out, 'seq');
      intent.allocs?.push({ key: info.key, id: wireId, reused: false });
      return;
    }
    const { id, reused } = this.next();
    const info = this.info(origin, made, name, at, reused);
    this.born(id, info);
    intent.allocs?.push({ key: info.key, id, reused });
  }

  protected onJResp(lm: LMsg, d: DecodedMessage, body: JRespBody, out: StepOut): void {
    const serial = d.exchange?.serial;
    if (serial === undefined) return;
    const index = this.frames.findIndex((f) => f.serial === serial);
    if (index < 0) return;
    const waiting = this.waitingFlush();
    if (this.ctx.features.routing === 'by-id' && waiting && waiting.serial !== serial && index < this.frames.indexOf(waiting)) {
      // Set aside: its flush takes it only when it is the innermost one waiting (allocators §5).
      this.stash.set(serial, { lm, d });
      return;
    }
    while (this.frames.length > index + 1) this.abandonTop();
    out.intent = this.take(lm, body, out);
    this.takeStashed(out);
    this.quiescence(out);
  }

  /** The innermost open R-Eval: the flush currently waiting for a J-Resp. */
  protected waitingFlush(): RustFrame | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.kind === 'r-eval') return this.frames[i];
    return undefined;
  }

  protected takeStashed(out: StepOut): void {
    if (this.stash.size === 0) return;
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (!top || top.kind !== 'r-eval') return;
      const s = this.stash.get(top.serial);
      if (!s || s.d.body?.kind !== 'j-resp') return;
      this.stash.delete(top.serial);
      // Its allocations belong to that earlier message; this message's intent stays as it is.
      this.take(s.lm, s.d.body, out);
    }
  }

  /** Rust's flush takes its J-Resp: post-answer allocations, decode, recycle (E-R9, E-R10). */
  protected take(lm: LMsg, body: JRespBody, out: StepOut): Intent {
    const frame = this.frames.pop()!;
    const intent: Intent = { allocs: [] };
    const at = locationOf(this.ctx, lm, 'rust');
    // The frame is done with: its list can be sorted in place.
    const post = frame.post.length > 1 ? frame.post.sort((a, b) => a - b) : frame.post;
    for (const opIndex of post) {
      const op = frame.ops[opIndex - 1];
      if (!op) continue;
      const origin: Origin = { no: frame.lm.no, op: opIndex };
      const result = resultOf(body, opIndex);
      const wireId = result?.value.kind === 'heapref' ? result.value.id : undefined;
      this.allocDecoded(origin, 'result', this.ctx.fnName(op), at, wireId, lm, out, intent);
    }
    const last = frame.ops[frame.ops.length - 1];
    const lastResult = last ? resultOf(body, last.index) : undefined;
    if (last && lastResult && last.signature.ret.kind !== 'heapref') {
      let ref = 0;
      const fn = this.ctx.fnName(last);
      forEachRef(lastResult.value, (r) => {
        if (r.kind !== 'heapref') return;
        ref++;
        const origin: Origin = { no: frame.lm.no, op: last.index, ref };
        this.allocDecoded(origin, 'result-ref', fn, at, r.id, lm, out, intent);
      });
    }
    if (this.allocator === 'explicit') {
      for (const id of frame.drops) if (this.released.get(id)?.serial === frame.serial) this.released.delete(id);
    }
    return intent;
  }

  /** An exchange that ends without its Respond: before explicit-ids nothing restores its borrow frame. */
  protected abandonTop(): void {
    const f = this.frames.pop()!;
    if (f.borrowFrame && this.allocator === 'explicit') this.popBorrowFrame();
    else if (f.borrowFrame) this.borrowFrames.pop();
  }

  protected dropFrame(serial: number, lostRespond: boolean): void {
    const i = this.frames.findIndex((f) => f.serial === serial);
    if (i < 0) return;
    const [f] = this.frames.splice(i, 1);
    if (f!.borrowFrame && (lostRespond || this.allocator === 'explicit')) this.popBorrowFrame();
  }
}

/** The result the J-Resp gives for op `op` (the last, if it gives several). */
function resultOf(body: JRespBody, op: number): JRespBody['results'][number] | undefined {
  const rs = body.results;
  for (let i = rs.length - 1; i >= 0; i--) if (rs[i]!.op === op) return rs[i];
  return undefined;
}
