import { describe, expect, it } from 'vitest';
import { DEEP_NESTING } from '../fixtures/spec-examples.js';
import { kinds, run, show, trace, type Msg } from './helpers.js';

/** examples.md §5.1: `legacy` C1 is the slotmap-key J-Eval (index 1, version 1). */
const LEGACY_C1 = 'GAAAABgAAAAZAAAAAAAAAAEAAAABAAAAAA==';

const legacy: Msg[] = [
  ['r2j', DEEP_NESTING.legacy.M1],
  ['j2r', LEGACY_C1],
  ['r2j', DEEP_NESTING.legacy.M2],
];

const R = DEEP_NESTING.reservedCount;
const reservedCount: Msg[] = [
  ['r2j', R.M1], ['j2r', R.C1], ['r2j', R.M2], ['j2r', R.C2], ['r2j', R.M3], ['j2r', R.C3], ['r2j', R.M4],
  ['j2r', R.R4], ['r2j', R.RC3], ['j2r', R.R3], ['r2j', R.RC2], ['j2r', R.R2], ['r2j', R.RC1], ['j2r', R.R1],
];

describe('deep nesting (examples.md §5)', () => {
  it('legacy: cb2 diverges (Rust #136, JS #134) at msg 3 op 2, then its consequences', async () => {
    const r = await run(trace('legacy', legacy));
    expect(kinds(r), show(r)).toEqual([
      'placeholder-id-mismatch',
      'unknown-heap-id',
      'unanswered-evaluate',
      'unanswered-evaluate',
      'unanswered-evaluate',
      'borrow-frame-unbalanced',
    ]);
    const root = r.findings[0]!;
    expect(root).toMatchObject({
      severity: 'error',
      certainty: 'definite',
      rustId: 136,
      jsId: 134,
      consequences: 5,
      location: { input: 'test', line: 4, seq: 3, op: 2, message: 3 },
    });
    expect(root.causedBy).toBeUndefined();
    expect(root.message).toContain('Rust: #136 = result of op 1');
    expect(root.message).toContain('JS stored it at #134');
    expect(root.provenance?.map((p) => [p.side, p.id])).toEqual([['rust', 136], ['js', 134]]);
    expect(r.findings.slice(1).every((f) => f.causedBy === 0)).toBe(true);
    expect(r.findings[1]).toMatchObject({ rustId: 136, location: { message: 3, op: 2 } });
    // unanswered innermost first: M2 (msg 3), C1 (msg 2), M1 (msg 1)
    expect(r.findings.slice(2, 5).map((f) => f.location.message)).toEqual([3, 2, 1]);
    expect(r.firstDivergence?.finding).toBe(0);
    expect(r.firstDivergence?.jsState).toMatchObject({ maxId: 135, borrowPointer: 127 });
    expect(r.firstDivergence?.rustState).toMatchObject({ maxId: 138, borrowPointer: 127 });
    expect(r.firstDivergence?.window.map((m) => m.message)).toEqual([1, 2, 3]);
    // docs/protocol.md §8.10: definite only thanks to the callback-holder heuristic, and it says so.
    expect(root.detail?.reliesOnHeuristic).toEqual([{ message: 1, op: 3, window: [2, 6], callbackIn: 2 }]);
    expect(root.message).toContain('relies on the callback-holder heuristic');
  });

  it('legacy --strict: without the callback-holder heuristic the mismatch is only possible', async () => {
    const r = await run(trace('legacy', legacy), { strict: true });
    const root = r.findings[0]!;
    expect(root.kind).toBe('placeholder-id-mismatch');
    expect(root).toMatchObject({ severity: 'warning', certainty: 'possible', rustId: 136, jsId: 134 });
    // k = 6 (every earlier op done) would give cb2 the ID Rust promised; with k = 2 JS throws
    // earlier, on the cached type of level2 that op 3 defines (reported separately).
    expect(root.detail?.failsFor).toContain('op 6 of msg 1');
    expect(root.detail?.holdsFor).toEqual(['op 3 of msg 1', 'op 4 of msg 1', 'op 5 of msg 1']);
    expect(r.findings.some((f) => f.kind === 'unknown-type-id' && f.certainty === 'possible')).toBe(true);
    expect(root.message).toMatch(/possible: holds if the nested call ran in op 3 of msg 1/);
  });

  it('reserved-count: the IDs agree at every step, no findings', async () => {
    const steps: number[] = [];
    const r = await run(trace('reserved-count', reservedCount), { onStep: (s) => s.side === 'js' && steps.push(s.js.nextId ?? 0) });
    expect(r.findings, show(r)).toEqual([]);
    const s = r.sessions[0]!;
    expect(s).toMatchObject({ revision: 'reserved-count', revisionSource: 'meta', allocator: 'model', messages: 14, liveAtEnd: { rust: 8, js: 8 } });
    expect(s.helperSource).toBe('heuristic');
    // counters at the R-Evals: 136, 138, 140, 141 (examples.md §5.2)
    expect(steps.filter((_, i) => [0, 2, 4, 6].includes(i))).toEqual([136, 138, 140, 141]);
  });

  it('reserved-count with the helper fn ids declared: exact helper source', async () => {
    const r = await run(trace('reserved-count', reservedCount, { meta: [['fn.drop_heap_ref', '12'], ['fn.cast', '3']] }));
    expect(r.findings).toEqual([]);
    expect(r.sessions[0]!.helperSource).toBe('meta');
  });

  it('the seed note assumes no batching inside callbacks; the code keeps batching (sessions.md §8) and so do we', async () => {
    // legacy M2 is a two-op batch sent by the callback's force_flush: placeholders 136, 137 before sending.
    const r = await run(trace('legacy', legacy));
    expect(r.firstDivergence?.rustState.maxId).toBe(138);
  });
});
