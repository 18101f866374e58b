/**
 * Issue 10, replay exactness: for each class a hand-built trace written from the protocol
 * reference's rules (not from the simulator), the findings it must give, and its clean twin;
 * then the simulator reproducing the situation the way the real runtime does.
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/replay/index.js';
import { runSimulation } from '../../src/sim/index.js';
import { Ops, T, V, jResp, rEval, rResp, show, trace, type Msg } from './helpers.js';
import { CAST, CB0, MAKE, USE } from './scenarios.js';
import type { JEvalBody } from '../../src/protocol/messages.js';
import type { TraceRecord } from '../../src/trace/record.js';

const filled = { type: T.ref, value: V.ref(), filled: true };
const unit = { type: T.null, value: V.unit() };

// ---- class 1: explicit-ids, dispose is not drop (wire §9.1) ----------------------------------

/** Without fn.* keys: 14 is dispose_rust_function, 12 drop_heap_ref; both are `(u64) -> ()`. */
const DISPOSE = 14;
const DROP_FN = 12;
const nativeDrop = (key: number): JEvalBody => ({ kind: 'j-eval', call: { kind: 'drop-native', key } });

/**
 * A closure (cast of callback 1, Rust-owned) and a string object; Rust drops the Closure,
 * which disposes its slot and then drops it, and drops the object, all in one batch.
 * `doubleDrop`: the object is dropped twice (a real double-free).
 */
function disposeThenDropInOneBatch(doubleDrop: boolean): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 0)]), o.op(MAKE, [T.str], T.ref, [V.str('a')])], { installIds: [], reservedIds: [132, 133] })],
    ['j2r', jResp([filled, filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132), o.drop(DROP_FN, 132), o.drop(DROP_FN, 133), ...(doubleDrop ? [o.drop(DROP_FN, 133)] : [])], { installIds: [], reservedIds: [] })],
    ['j2r', jResp(doubleDrop ? [unit, unit, unit, unit] : [unit, unit, unit])],
  ];
  return trace('explicit-ids', msgs);
}

/**
 * Unbatched, a JS-owned closure (policy 1): the dispose goes out alone, JS answers it with a
 * native-ref drop nested inside that R-Eval (sessions §9), and the heap drop follows in its
 * own R-Eval. `dropAgain`: the drop helper frees the slot a second time.
 */
function disposeAloneThenDrop(dropAgain: boolean): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 1)])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', nativeDrop(1)],
    ['r2j', rResp(undefined, undefined, [])],
    ['j2r', jResp([unit])],
    ['r2j', rEval([o.drop(DROP_FN, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([unit])],
  ];
  if (dropAgain) msgs.push(['r2j', rEval([o.drop(DROP_FN, 132)], { installIds: [], reservedIds: [] })], ['j2r', jResp([unit])]);
  return trace('explicit-ids', msgs);
}

/**
 * A Rust-owned closure disposed (no native-ref drop follows) and then passed to JS again:
 * legal if fn 14 is the dispose (the slot still holds the disposed function), a
 * use-after-free if it is the drop. Nothing in the bytes decides.
 */
function disposedThenPassed(meta: Array<[string, string]> = []): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 0)])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([unit])],
    ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(132)])], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])],
  ];
  return trace('explicit-ids', msgs, { meta });
}

describe('class 1: explicit-ids dispose vs drop without fn.* keys', () => {
  it('dispose then drop of one closure in one batch is clean; a real double drop is a definite double-free', async () => {
    const clean = await analyze(disposeThenDropInOneBatch(false));
    expect(clean.findings, show(clean)).toEqual([]);
    expect(clean.sessions[0]!.helperSource).toBe('heuristic');
    const bad = await analyze(disposeThenDropInOneBatch(true));
    expect(bad.findings.map((f) => [f.kind, f.certainty, f.rustId]), show(bad)).toEqual([['double-free', 'definite', 133]]);
  });

  it('a dispose flushed alone, answered by a nested native-ref drop, then the drop: clean; dropping again is definite', async () => {
    const clean = await analyze(disposeAloneThenDrop(false));
    expect(clean.findings, show(clean)).toEqual([]);
    const bad = await analyze(disposeAloneThenDrop(true));
    expect(bad.findings.map((f) => [f.kind, f.certainty, f.rustId]), show(bad)).toEqual([['double-free', 'definite', 132]]);
  });

  it('where the bytes do not decide, the finding is possible and names the guess', async () => {
    const r = await analyze(disposedThenPassed());
    expect(r.findings.map((f) => [f.kind, f.certainty, f.severity]), show(r)).toEqual([['use-after-free', 'possible', 'warning']]);
    expect(r.findings[0]!.message).toContain('relies on a guess of the signature heuristic');
    expect(r.findings[0]!.message).toContain('fn 14');
    // Declared roles decide it both ways.
    const asDispose = await analyze(disposedThenPassed([['fn.dispose_rust_function', '14'], ['fn.drop_heap_ref', '12']]));
    expect(asDispose.findings, show(asDispose)).toEqual([]);
    const asDrop = await analyze(disposedThenPassed([['fn.drop_heap_ref', '14']]));
    expect(asDrop.findings.map((f) => [f.kind, f.certainty]), show(asDrop)).toEqual([['use-after-free', 'definite']]);
  });

  it('simulator: closures disposed then dropped, with and without fn.* keys, batched or not, on each recorded side', async () => {
    const wrong: string[] = [];
    for (const scenario of ['drops', 'stress', 'many-callbacks'] as const) {
      for (const mode of ['batch', 'non-batch'] as const) {
        for (const sides of ['both', 'rust', 'js'] as const) {
          for (const helperMeta of [true, false]) {
            const sim = runSimulation({ scenario, revision: 'explicit-ids', mode, sides, helperMeta, size: scenario === 'stress' ? 600 : 10 });
            expect(sim.truth.mismatchCount).toBe(0);
            const r = await analyze(sim.records);
            if (r.findings.length > 0) wrong.push(`${scenario} ${mode} ${sides} meta=${helperMeta}: ${show(r)}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
