/**
 * One R-Eval op as JS runs it: start (parse the type, decode the arguments, check the IDs)
 * and complete (a drop frees, a JsValue result takes its slot).
 */
import type { Op } from '../../protocol/messages.js';
import { forEachCallback, forEachRef, type Value } from '../../protocol/values.js';
import type { TypeDef } from '../../protocol/types.js';
import { JSIDX_RESERVED, type RefIntent } from '../ids.js';
import { helperIdArg, locationOf, type StepOut } from '../context.js';
import { HeapThrow } from './heap.js';
import type { JsFrame } from './state.js';
import { JsRefChecks } from './ref-checks.js';

export abstract class JsOps extends JsRefChecks {
  /** JS parses op j's type and decodes its arguments. Returns false if a check failed. */
  protected override startOp(f: JsFrame, j: number, out: StepOut): boolean {
    const op = f.ops[j - 1];
    if (!op) return true;
    f.started = Math.max(f.started, j);
    const lm = f.lm;
    let ok = true;
    if (op.marker === 'full') {
      this.types.add(op.typeId);
    } else if (!this.types.has(op.typeId)) {
      ok = this.typeRace(f, op, out) && ok;
      if (!ok) return false;
    }
    const opIntent = f.intent?.ops?.[j - 1];
    const refs = opIntent?.refs ?? this.refsFromOp(op);
    if (refs.length > 0) {
      const guess = this.ctx.roleGuess(op);
      for (const r of refs) {
        if (!this.checkRef(this.currentRole(op, r), lm, f, j, out, guess)) ok = false;
      }
    }
    if (op.args.length > 0) {
      const heapId = opIntent?.resultId;
      const note = (cb: { key: number }): void => {
        this.callbacks.set(cb.key, heapId !== undefined ? { serial: f.serial, no: lm.no, op: j, heapId } : { serial: f.serial, no: lm.no, op: j });
      };
      for (const a of op.args) forEachCallback(a, note);
    }
    // (currentRole only moves a ref between drop and dispose.)
    if (!ok && this.allocator === 'explicit' && refs.some((r) => r.role === 'arg' || r.role === 'cached-string')) {
      // E-J7: an unknown HeapRef argument throws, and so does a cached-string reference to a slot
      // without a string ("Cached string ID n does not refer to a string").
      f.threw ??= `unknown-heap-id|${lm.no}|${j}`;
    }
    return ok;
  }

  /** A drop/dispose helper's role as known when JS runs the op (evidence may have settled it since Rust sent it). */
  protected currentRole(op: Op, r: RefIntent): RefIntent {
    if (r.role !== 'drop' && r.role !== 'dispose') return r;
    const role = this.ctx.role(op);
    const now = role === 'drop_heap_ref' ? 'drop' : role === 'dispose_rust_function' ? 'dispose' : r.role;
    return now === r.role ? r : { ...r, role: now };
  }

  /** Without an intent (a message only the JS side recorded), the IDs as written. */
  protected refsFromOp(op: Op): RefIntent[] {
    const role = this.ctx.role(op);
    if (role === 'drop_heap_ref' || role === 'clone_heap_ref' || role === 'dispose_rust_function') {
      const id = helperIdArg(op);
      return id === undefined ? [] : [{ id, belief: { id, state: 'unknown' }, role: role === 'drop_heap_ref' ? 'drop' : role === 'clone_heap_ref' ? 'clone' : 'dispose', param: 1 }];
    }
    const refs: RefIntent[] = [];
    op.args.forEach((a, i) =>
      forEachRef(a, (r) => {
        if (r.id !== undefined) refs.push({ id: r.id, belief: { id: r.id, state: 'unknown' }, role: 'arg', param: i + 1 });
      }),
    );
    return refs;
  }

  /** TYPE_CACHED for a type JS has not parsed: defined later in an enclosing R-Eval, or never parsed. */
  protected typeRace(f: JsFrame, op: Op, out: StepOut): boolean {
    const loc = locationOf(this.ctx, f.lm, 'js', op.index);
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const g = this.frames[i]!;
      if (g === f || g.kind !== 'r-eval') continue;
      const m = g.typeDefs.get(op.typeId);
      if (m === undefined) continue;
      const definite = m > g.kmax;
      const key = `unknown-type-id|${f.lm.no}|${op.index}`;
      out.add(this.withAssumptions({
        kind: 'unknown-type-id',
        severity: definite ? 'error' : 'warning',
        certainty: definite ? 'definite' : 'possible',
        key,
        message: `op ${op.index} of msg ${f.lm.no} uses cached type ${op.typeId}, whose TYPE_FULL is in op ${m} of the enclosing msg ${g.lm.no}; the nested exchange runs during op ${g.kmin === g.kmax ? g.kmin : `${g.kmin}..${g.kmax}`} of msg ${g.lm.no}, so JS ${definite ? 'has' : 'may have'} not parsed it yet and throws "Unknown cached type ID"`,
        location: loc,
        detail: { typeId: op.typeId, definedIn: { message: g.lm.no, op: m }, window: [g.kmin, g.kmax] },
      }));
      if (definite) f.threw ??= key;
      return !definite;
    }
    const never = this.unparsed.get(op.typeId);
    if (never) {
      const key = `unknown-type-id|${f.lm.no}|${op.index}`;
      out.add(this.withAssumptions({
        kind: 'unknown-type-id',
        severity: 'error',
        key,
        message: `op ${op.index} of msg ${f.lm.no} uses cached type ${op.typeId}, defined only in op ${never.op} of msg ${never.no}, which JS never parsed (it stopped before that op): JS throws "Unknown cached type ID"`,
        location: loc,
        detail: { typeId: op.typeId, definedIn: { message: never.no, op: never.op } },
      }));
      f.threw ??= key;
      return false;
    }
    return true;
  }

  /** Applies op j's effects: a drop, the result's slot. */
  protected override completeOp(f: JsFrame, j: number, result: Value | undefined, out: StepOut): void {
    const op = f.ops[j - 1];
    f.done = Math.max(f.done, j);
    if (!op) return;
    const lm = f.lm;
    const role = this.ctx.role(op);
    if (role === 'drop_heap_ref' || role === 'dispose_rust_function') {
      const id = helperIdArg(op);
      const guess = this.ctx.roleGuess(op) !== undefined;
      if (id !== undefined && id >= JSIDX_RESERVED) {
        const v = role === 'drop_heap_ref' ? this.free(id, locationOf(this.ctx, lm, 'js', j)) : this.heap.get(id);
        if (guess) {
          this.guessed.push(v ? { id, op, value: v, freed: role === 'drop_heap_ref' } : { id, op, freed: role === 'drop_heap_ref' });
          if (this.guessed.length > 4096) this.guessed.shift();
        }
      }
    }
    const ret = op.signature.ret;
    if (ret.kind === 'heapref') {
      const v = this.val({ no: lm.no, op: j }, 'result', this.ctx.fnName(op), locationOf(this.ctx, lm, 'js', j));
      try {
        if (f.reserved > 0 && f.reservation !== 'none') {
          const id = this.heap.fillNextReserved(v, f.mark?.scope);
          if (id >= 0) this.stored(id, v);
        } else if (this.allocator === 'explicit') {
          f.deferred ??= this.heap.newDeferred();
          this.heap.deferPush(f.deferred, v);
        } else {
          const id = this.heap.insert(v);
          this.stored(id, v);
          if (this.ctx.features.jsWritesHeapIds && result?.kind === 'heapref' && result.id !== undefined && result.id !== id) this.relocate(id, result.id, v);
        }
      } catch (e) {
        if (!(e instanceof HeapThrow)) throw e;
        f.threw ??= `reservation-overfilled|${lm.no}`;
      }
      return;
    }
    if (mayHoldRefs(ret)) {
      if (result) this.storeResultRefs(f, j, result, out);
      else f.resultsPending.push(j);
    }
  }

  /** Heap refs inside a non-HeapRef result (Option, Result, Vec): `insert` in decode order (R-J3, E-J4). */
  protected storeResultRefs(f: JsFrame, j: number, result: Value, _out: StepOut): void {
    const op = f.ops[j - 1]!;
    const fn = this.ctx.fnName(op);
    const at = locationOf(this.ctx, f.lm, 'js', j);
    let ref = 0;
    forEachRef(result, (r) => {
      if (r.kind !== 'heapref') return;
      ref++;
      const v = this.val({ no: f.lm.no, op: j, ref }, 'result-ref', fn, at);
      if (this.allocator === 'explicit') {
        f.deferred ??= this.heap.newDeferred();
        this.heap.deferPush(f.deferred, v);
        return;
      }
      const id = this.heap.insert(v);
      this.stored(id, v);
      if (this.ctx.features.jsWritesHeapIds && r.id !== undefined && r.id !== id) this.relocate(id, r.id, v);
    });
  }

  protected noteUnparsed(f: JsFrame): void {
    for (let j = f.started + 1; j <= f.ops.length; j++) {
      const op = f.ops[j - 1]!;
      if (op.marker === 'full' && !this.types.has(op.typeId)) this.unparsed.set(op.typeId, { no: f.lm.no, op: j });
    }
  }
}

function mayHoldRefs(t: TypeDef): boolean {
  switch (t.kind) {
    case 'heapref':
      return true;
    case 'option':
      return mayHoldRefs(t.inner);
    case 'result':
      return mayHoldRefs(t.ok) || mayHoldRefs(t.err);
    case 'array':
      return mayHoldRefs(t.element);
    default:
      return false;
  }
}
