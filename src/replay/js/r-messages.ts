/**
 * The R-messages JS receives: an R-Eval opens an exchange (its borrow frame, its reservation
 * scope or list, explicit-ids install list) and starts its first op; an R-Resp ends a J-Eval.
 */
import type { DecodedMessage, REvalBody, RRespBody } from '../../protocol/messages.js';
import { forEachRef } from '../../protocol/values.js';
import { JSIDX_RESERVED, describe, provenanceOf, type Intent, type RefIntent } from '../ids.js';
import { locationOf, type LMsg, type StepOut } from '../context.js';
import { HeapThrow } from './heap.js';
import { NO_TYPES, type JsFrame } from './state.js';
import { JsExchanges } from './exchanges.js';

export abstract class JsRMessages extends JsExchanges {
  protected onREval(lm: LMsg, d: DecodedMessage, body: REvalBody, intent: Intent | undefined, out: StepOut): void {
    const f = this.ctx.features;
    let heapOps = 0;
    let typeDefs: Map<number, number> | undefined;
    for (const op of body.ops) {
      if (op.signature.ret.kind === 'heapref') heapOps++;
      if (op.marker === 'full' && !typeDefs?.has(op.typeId)) (typeDefs ??= new Map()).set(op.typeId, op.index);
    }
    const incomplete = d.exchange?.incomplete ?? false;
    const reservation = f.evalPrelude === 'install-and-reserved' ? 'list' : f.evalPrelude === 'none' ? 'none' : 'count';
    const reserved = reservation === 'list' ? body.reservedIds?.length ?? 0 : body.reservedCount ?? 0;
    const frame: JsFrame = {
      serial: d.exchange?.serial ?? -lm.no,
      kind: 'r-eval',
      lm,
      ops: body.ops,
      kmin: 1,
      kmax: Math.max(1, body.ops.length),
      started: 0,
      done: 0,
      reservation,
      reserved,
      incomplete,
      typeDefs: typeDefs ?? NO_TYPES,
      intent,
      borrowPushed: false,
      scopePushed: false,
      resultsPending: [],
    };
    this.frames.push(frame);
    if (reservation === 'list' && body.installIds && body.installIds.length > 0) {
      if (!this.install(body.installIds, intent, lm, out)) frame.threw = `install-mismatch|${lm.no}`;
    }
    frame.mark = this.heap.model.marks();
    this.heap.pushBorrowFrame();
    frame.borrowPushed = true;
    if (!incomplete && reserved > 0 && reserved !== heapOps) {
      const over = reserved < heapOps;
      const key = `${over ? 'reservation-overfilled' : 'reservation-underfilled'}|${lm.no}`;
      out.add({
        kind: over ? 'reservation-overfilled' : 'reservation-underfilled',
        severity: 'error',
        key,
        message: over
          ? `msg ${lm.no} reserves ${reserved} placeholder${reserved === 1 ? '' : 's'} but ${heapOps} of its ops return a JsValue: JS throws "No reserved slots available" at the ${ordinal(reserved + 1)} of them and never answers`
          : reservation === 'count'
            ? `msg ${lm.no} reserves ${reserved} placeholders but only ${heapOps} of its ops return a JsValue: JS skips ${reserved - heapOps} ID${reserved - heapOps === 1 ? '' : 's'} that Rust never hands out, and its counter runs ${reserved - heapOps} ahead from here`
            : `msg ${lm.no} reserves ${reserved} IDs but only ${heapOps} of its ops return a JsValue: JS throws "Only filled ${heapOps} of ${reserved} reserved heap slots" when the R-Eval ends`,
        location: locationOf(this.ctx, lm, 'js'),
        detail: { reserved, heapResults: heapOps },
      });
    }
    if (reservation === 'count') {
      this.heap.pushReservationScope(reserved);
      frame.scopePushed = true;
    } else if (reservation === 'list' && !frame.threw) {
      const ids = body.reservedIds ?? [];
      let bad: string | undefined;
      ids.forEach((id, i) => {
        const occupant = id >= JSIDX_RESERVED ? this.heap.get(id) : undefined;
        if (id >= JSIDX_RESERVED && !occupant) return;
        const belief = intent?.reserved?.[i];
        bad ??= this.occupied(id, occupant, belief, 'reserved', lm, out);
      });
      try {
        this.heap.pushReservationScope(ids);
        frame.scopePushed = true;
      } catch (e) {
        frame.scopePushed = true;
        if (!(e instanceof HeapThrow)) throw e;
        frame.threw = bad ?? `reserved-id-occupied|${lm.no}`;
      }
    }
    if (!frame.threw && body.ops.length > 0) this.startOp(frame, 1, out);
  }

  /** E-J1: an install list arrives; the top deferred batch takes it. Returns false if JS throws. */
  protected install(ids: readonly number[], intent: Intent | undefined, lm: LMsg, out: StepOut): boolean {
    const top = this.heap.model.topDeferred();
    if (!top || ids.length > top.remaining) {
      out.add({
        kind: 'install-mismatch',
        severity: 'error',
        key: `install-mismatch|${lm.no}`,
        message: top
          ? `msg ${lm.no} installs ${ids.length} IDs but the pending deferred batch has only ${top.remaining} value${top.remaining === 1 ? '' : 's'} left: JS throws "Heap-ref install count mismatch"`
          : `msg ${lm.no} installs ${ids.length} ID${ids.length === 1 ? '' : 's'} (${ids.slice(0, 8).map((i) => `#${i}`).join(', ')}) but JS has no deferred values waiting: JS throws`,
        location: locationOf(this.ctx, lm, 'js'),
        detail: { ids: ids.slice(0, 32), pending: top?.remaining ?? 0 },
      });
      return false;
    }
    ids.forEach((id, i) => {
      const occupant = this.heap.get(id);
      if (occupant) this.occupied(id, occupant, intent?.install?.[i], 'install', lm, out);
      const jsVal = top.values[top.next + i]!;
      const rustKey = intent?.installKeys?.[i];
      if (rustKey !== undefined && rustKey !== jsVal.key) {
        out.add({
          kind: 'install-mismatch',
          severity: 'error',
          key: `install-mismatch|${lm.no}|${id}`,
          mismatch: true,
          message: `msg ${lm.no} installs #${id}: Rust gave it to ${intent?.installInfo?.[i] ? describe(intent.installInfo[i]!) : rustKey}, but JS applies it to ${describe(jsVal.info)} (the newest pending batch)`,
          location: locationOf(this.ctx, lm, 'js'),
          rustId: id,
          jsId: id,
          provenance: [...(intent?.installInfo?.[i] ? [provenanceOf(id, 'rust', intent.installInfo[i]!)] : []), provenanceOf(id, 'js', jsVal.info)],
        });
      }
    });
    try {
      for (const [id, v] of this.heap.resolveDeferred(ids)) this.stored(id, v);
    } catch (e) {
      if (!(e instanceof HeapThrow)) throw e;
      return false;
    }
    return true;
  }

  protected onRResp(lm: LMsg, d: DecodedMessage, body: RRespBody, intent: Intent | undefined, out: StepOut): void {
    if (this.allocator === 'explicit' && body.installIds && body.installIds.length > 0) this.install(body.installIds, intent, lm, out);
    for (const x of d.abandoned) this.abandon(x.serial, 'exception', out);
    const i = this.frameIndex(d.exchange?.serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    // L-J5: the frame is popped before the return value is decoded.
    if (f.borrowPushed) {
      this.heap.popBorrowFrame();
      f.borrowPushed = false;
    }
    const refs: RefIntent[] = intent?.value ?? [];
    if (!intent && body.value) {
      forEachRef(body.value, (r) => {
        if (r.id !== undefined) refs.push({ id: r.id, belief: { id: r.id, state: 'unknown' }, role: 'return' });
      });
    }
    for (const r of refs) this.checkRef(r, lm, undefined, undefined, out);
    this.close(f, out, true);
  }
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}
