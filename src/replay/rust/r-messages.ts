/**
 * The R-messages Rust sends: an R-Eval (placeholders, helper drops, what Rust means by every
 * ID it writes) and an R-Resp, with explicit-ids install lists.
 */
import type { DecodedMessage, Op, REvalBody, RRespBody } from '../../protocol/messages.js';
import { forEachRef } from '../../protocol/values.js';
import { JSIDX_RESERVED, type Belief, type Intent, type RefIntent, type ValueInfo, type OpIntent, type MadeValue } from '../ids.js';
import { helperIdArg, locationOf, type LMsg, type StepOut } from '../context.js';
import type { RustFrame } from './state.js';
import { RustJMessages } from './j-messages.js';

export abstract class RustRMessages extends RustJMessages {
  protected onREval(lm: LMsg, d: DecodedMessage, body: REvalBody, out: StepOut): void {
    const serial = d.exchange?.serial ?? -lm.no;
    const intent: Intent = { ops: [] };
    if (this.allocator === 'explicit') this.applyInstall(body.installIds ?? [], lm, out, intent);
    const plan = this.plan(body);
    const frame: RustFrame = { serial, kind: 'r-eval', lm, ops: body.ops, post: plan.post, drops: [], borrowFrame: false };
    if (this.allocator === 'explicit') intent.reserved = (body.reservedIds ?? []).map((id) => this.belief(id));
    const planned = this.planIds(body, plan.placeholder);
    // Placeholders of this message, by ID, with the value each stands for (before they are taken);
    // the op takes that same value when its turn comes.
    let pending: Map<number, ValueInfo> | undefined;
    let infoByOp: Map<number, MadeValue> | undefined;
    if (planned && planned.size > 0) {
      pending = new Map();
      infoByOp = new Map();
      for (const op of body.ops) {
        const id = planned.get(op.index);
        if (id === undefined) continue;
        const info = this.resultInfo(lm, op);
        pending.set(id, info);
        infoByOp.set(op.index, info);
      }
    }
    const ops = intent.ops!;
    for (const op of body.ops) {
      const role = this.ctx.role(op);
      const refs: RefIntent[] = [];
      if (role === 'drop_heap_ref' || role === 'clone_heap_ref' || role === 'dispose_rust_function') {
        const id = helperIdArg(op);
        if (id !== undefined) {
          const belief = this.pendingBelief(id, pending);
          refs.push({ id, belief, role: role === 'drop_heap_ref' ? 'drop' : role === 'clone_heap_ref' ? 'clone' : 'dispose', param: 1 });
          if (belief.state === 'unknown' && id >= JSIDX_RESERVED) out.inconsistent = true;
        }
      } else if (op.args.length > 0) {
        this.argRefs(op, pending, refs);
        for (const r of refs) if (r.belief.state === 'unknown' && r.id >= JSIDX_RESERVED) out.inconsistent = true;
      }
      if (role === 'drop_heap_ref' || role === 'dispose_rust_function') this.helperDrop(op, role, lm, frame);
      let resultId: number | undefined;
      let resultKey: string | undefined;
      if (plan.placeholder[op.index - 1]) {
        const info = infoByOp?.get(op.index) ?? this.resultInfo(lm, op);
        if (planned) {
          const id = planned.get(op.index);
          if (id !== undefined) {
            if (this.allocator === 'explicit') this.adopt(id, info, lm, out, 'reserved');
            else {
              this.born(id, info);
              if (id >= this.maxId) this.maxId = id + 1;
            }
            resultId = id;
          }
        } else {
          const { id, reused } = this.next();
          this.born(id, reused ? info.asReused() : info);
          resultId = id;
        }
        resultKey = info.key;
      }
      const opIntent: OpIntent = resultId !== undefined ? { refs, resultId, resultKey } : { refs };
      ops.push(opIntent);
    }
    if (plan.ambiguous !== undefined) frame.ambiguous = { op: plan.ambiguous, tentative: this.peekNext() };
    this.frames.push(frame);
    out.intent = intent;
  }

  /** The value an op's JsValue result is, in Rust's model. */
  private resultInfo(lm: LMsg, op: Op): MadeValue {
    return this.info({ no: lm.no, op: op.index }, 'result', this.ctx.fnName(op), locationOf(this.ctx, lm, 'rust', op.index));
  }

  /** What Rust means by `id` while this message's placeholders are not taken yet. */
  private pendingBelief(id: number, pending: Map<number, ValueInfo> | undefined): Belief {
    const p = pending?.get(id);
    return p && !this.live.has(id) ? { id, state: 'pending', info: p } : this.belief(id);
  }

  /** The IDs an op's arguments carry, with what Rust means by each. */
  private argRefs(op: Op, pending: Map<number, ValueInfo> | undefined, refs: RefIntent[]): void {
    let param = 0;
    const add = (r: { id?: number }): void => {
      if (r.id !== undefined) refs.push({ id: r.id, belief: this.pendingBelief(r.id, pending), role: 'arg', param });
    };
    for (const a of op.args) {
      param++;
      forEachRef(a, add);
      if (a.kind === 'cached-string') refs.push({ id: a.id, belief: this.belief(a.id), role: 'cached-string', param });
    }
  }

  /** A drop or dispose helper op: a drop releases its ID; either is remembered while its role is a guess. */
  private helperDrop(op: Op, role: 'drop_heap_ref' | 'dispose_rust_function', lm: LMsg, frame: RustFrame): void {
    const guess = this.ctx.roleGuess(op);
    const id = helperIdArg(op);
    const at = locationOf(this.ctx, lm, 'rust', op.index);
    if (role === 'drop_heap_ref' && id !== undefined) this.release(id, at, frame);
    if (guess !== undefined) {
      if (id !== undefined && id >= JSIDX_RESERVED) this.guessed.push({ id, op, at, released: role === 'drop_heap_ref' });
      if (this.guessed.length > 4096) this.guessed.shift();
    }
  }


  protected applyInstall(ids: readonly number[], lm: LMsg, out: StepOut, intent: Intent): void {
    const beliefs: Belief[] = [];
    const keys: string[] = [];
    const infos: ValueInfo[] = [];
    for (const id of ids) {
      beliefs.push(this.belief(id));
      const info = this.pendingInstall.shift();
      if (!info) {
        out.inconsistent = true;
        continue;
      }
      keys.push(info.key);
      infos.push(info);
      this.adopt(id, info, lm, out, 'install');
    }
    intent.install = beliefs;
    intent.installKeys = keys;
    intent.installInfo = infos;
  }

  protected onRResp(lm: LMsg, d: DecodedMessage, body: RRespBody, out: StepOut): void {
    const intent: Intent = {};
    if (this.allocator === 'explicit') this.applyInstall(body.installIds ?? [], lm, out, intent);
    const serial = d.exchange?.serial;
    const at = this.frames.findIndex((f) => f.serial === serial);
    if (at >= 0) {
      // Exchanges above it were abandoned (a panic skipped their cleanup).
      while (this.frames.length > at + 1) this.abandonTop();
      const frame = this.frames.pop()!;
      if (frame.borrowFrame) this.popBorrowFrame();
    }
    const refs: RefIntent[] = [];
    if (body.value) this.refsOf(body.value, 1, 'return', refs);
    intent.value = refs;
    out.intent = intent;
    this.takeStashed(out);
    this.quiescence(out);
  }
}
