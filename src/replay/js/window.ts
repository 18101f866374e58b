/**
 * Op windows (allocators.md §8): where in an open R-Eval the nested traffic seen so far ran,
 * narrowed by evidence, and the ops before a window committed. Under legacy* the positions
 * that give JS different IDs are the choices the replay forks on.
 */
import type { DecodedMessage, JsCall, Op } from '../../protocol/messages.js';
import { forEachCallback, type Value } from '../../protocol/values.js';
import { valueKey, type Belief } from '../ids.js';
import { isCastLike, type StepOut } from '../context.js';
import { JsModelState, type JsFrame } from './state.js';

export interface WindowChoice {
  readonly kmin: number;
  readonly kmax: number;
}

export interface ForkPlan {
  readonly serial: number;
  readonly choices: readonly WindowChoice[];
  readonly primary: number;
  /** Where the callback is assumed to run and why (heuristic). */
  readonly heuristic?: number;
  /** The window before the heuristic narrowed it, when it did. */
  readonly bare?: [number, number];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export abstract class JsOpWindows extends JsModelState {
  /** JS parses op j's type and decodes its arguments. Returns false if a check failed. */
  protected abstract startOp(f: JsFrame, j: number, out: StepOut): boolean;
  /** Applies op j's effects: a drop, the result's slot. */
  protected abstract completeOp(f: JsFrame, j: number, result: Value | undefined, out: StepOut): void;

  /**
   * For a J-Eval nested in an open R-Eval: the op positions it may run in. When the
   * allocator makes JS IDs depend on that position (legacy*), the positions that give
   * different IDs are returned as separate choices; otherwise one choice.
   */
  forkPlan(d: DecodedMessage): ForkPlan | undefined {
    const top = this.frames[this.frames.length - 1];
    if (!top || top.kind !== 'r-eval' || top.threw || d.body?.kind !== 'j-eval') return undefined;
    const w = this.windowFor(top, d.body.call);
    const narrowed = !this.ctx.strict && w.h !== undefined;
    const a = narrowed ? w.h! : w.a;
    const b = narrowed ? w.h! : w.b;
    const legacy = this.allocator === 'freelist' || this.allocator === 'monotonic';
    if (!legacy || a === b) {
      const plan: Mutable<ForkPlan> = { serial: top.serial, choices: [{ kmin: a, kmax: b }], primary: 0 };
      if (w.h !== undefined) plan.heuristic = w.h;
      if (narrowed && w.a !== w.b) plan.bare = [w.a, w.b];
      return plan;
    }
    // Positions k and k+1 give the same JS state when op k has no heap effect.
    const choices: WindowChoice[] = [];
    let start = a;
    for (let k = a; k <= b; k++) {
      if (k === b || this.hasEffect(top.ops[k - 1]!)) {
        choices.push({ kmin: start, kmax: k });
        start = k + 1;
      }
    }
    const assumed = w.h ?? a;
    const primary = Math.max(0, choices.findIndex((c) => assumed >= c.kmin && assumed <= c.kmax));
    return w.h !== undefined ? { serial: top.serial, choices, primary, heuristic: w.h } : { serial: top.serial, choices, primary };
  }

  protected hasEffect(op: Op): boolean {
    return op.signature.ret.kind === 'heapref' || this.ctx.role(op) === 'drop_heap_ref';
  }

  /** allocators.md §8: the window rules that do not depend on later evidence, and the heuristic. */
  protected windowFor(f: JsFrame, call: JsCall): { a: number; b: number; h?: number } {
    let a = Math.max(f.kmin, f.started > f.done ? f.started : f.done + 1);
    a = Math.max(f.kmin, Math.min(a, f.kmax));
    const b = f.kmax;
    if (call.kind !== 'callback') return { a, b };
    // Where the key reached JS: an op of this R-Eval carrying it, else an earlier message.
    let holder: number | undefined;
    let found = false;
    const key = call.key;
    const match = (cb: { key: number }): void => {
      if (cb.key === key) found = true;
    };
    for (const op of f.ops) {
      for (const arg of op.args) forEachCallback(arg, match);
      if (found) {
        holder = op.index;
        break;
      }
    }
    let heapId: number | undefined;
    const holderIsCast = holder !== undefined && isCastLike(f.ops[holder - 1]!, this.ctx);
    if (holder !== undefined) {
      if (holder > b) return { a, b };
      a = Math.max(a, holder);
      if (holderIsCast) heapId = f.intent?.ops?.[holder - 1]?.resultId ?? this.keyIndex.get(valueKey({ no: f.lm.no, op: holder }));
    } else {
      const c = this.callbacks.get(call.key);
      // Unbatched casts (L-R2) get their ID from Rust only after the J-Resp: use where JS put it.
      heapId = c ? (c.heapId ?? this.keyIndex.get(valueKey({ no: c.no, op: c.op }))) : undefined;
    }
    let h: number | undefined;
    if (heapId !== undefined && f.intent?.ops) {
      for (let j = a; j <= b; j++) {
        if (f.intent.ops[j - 1]?.refs.some((r) => r.role === 'arg' && r.id === heapId)) {
          h = j;
          break;
        }
      }
    } else if (holder !== undefined && !holderIsCast) {
      // A stack closure has no heap ID: the op that carries it is the one that calls it.
      h = holder;
    }
    return h !== undefined ? { a, b, h } : { a, b };
  }

  protected narrow(f: JsFrame, kmin: number, kmax: number, out: StepOut): void {
    const lo = Math.max(f.kmin, kmin);
    const hi = Math.min(f.kmax, kmax);
    if (lo > hi) {
      out.inconsistent = true;
      return;
    }
    f.kmin = lo;
    f.kmax = hi;
    this.advance(f, out);
  }

  /** Commits every op before the window and starts the first op of the window. */
  protected advance(f: JsFrame, out: StepOut): void {
    if (f.threw) return;
    while (f.done < f.kmin - 1 && !f.threw) {
      const j = f.done + 1;
      // Even if its checks fail, the trace says JS went on past this op.
      if (f.started < j) this.startOp(f, j, out);
      this.completeOp(f, j, undefined, out);
    }
    if (!f.threw && f.started < f.kmin && f.kmin <= f.ops.length) this.startOp(f, f.kmin, out);
  }

  /** allocators.md §8: a nested reference to an op's result or drop narrows that R-Eval's window. */
  protected evidence(b: Belief, f: JsFrame | undefined, out: StepOut): void {
    const origin = b.state === 'live' ? b.info?.origin : b.state === 'freed' ? b.freedOrigin : undefined;
    if (!origin || origin.op === undefined) return;
    for (const g of this.frames) {
      if (g === f || g.kind !== 'r-eval' || g.lm.no !== origin.no || g.threw) continue;
      if (b.state === 'live') {
        if (g.kmin <= origin.op) this.narrow(g, origin.op + 1, g.kmax, out);
      } else if (g.kmax > origin.op && g.done < origin.op) {
        this.narrow(g, g.kmin, origin.op, out);
      }
    }
  }
}
