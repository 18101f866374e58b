import { describe, expect, it } from 'vitest';
import { REVISIONS } from '../../src/protocol/revisions.js';
import { MODES, runSimulation, SCENARIOS, simulate, type TruthItem } from '../../src/sim/index.js';
import { messages } from './helpers.js';

describe('legacy: the seed bug in deep-nesting', () => {
  const { records, truth } = runSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' });

  it('the first mismatch is cb2: Rust #136, JS #134, in M2 (seq 3), op 1', () => {
    expect(truth.mismatches[0]).toMatchObject({ fn: 'cast', kind: 'op-result', rustId: 136, jsId: 134, seq: 3, rustSeq: 3, jsSeq: 3, op: 1, match: false });
    expect(truth.mismatchCount).toBe(1);
  });

  it('JS throws "cb2 is not a function"; no J-Resp follows; three borrow frames stay pushed', () => {
    expect(truth.events.map((e) => e.kind)).toEqual(['unknown-heap-id', 'js-exception', 'deadlock']);
    expect(truth.events[1]).toMatchObject({ side: 'js', seq: 3, message: 'TypeError: cb2 is not a function' });
    const messageType = (data: Uint8Array): number => data[Buffer.from(data).readUInt32LE(4)]!;
    expect(messages(records).map((r) => messageType(r.data))).toEqual([0, 0, 0, 0, 0, 0]); // Evaluates only
    const session = truth.sessions[0]!;
    expect(session.outcome).toBe('deadlock');
    expect(session.end.js).toMatchObject({ borrowFrames: 3, borrowPointer: 127, maxId: 135 });
    expect(session.end.rust).toMatchObject({ borrowPointer: 127, maxId: 138 });
    expect(messages(records, 'rust').map((r) => r.dir)).toEqual(['r2j', 'j2r', 'r2j']);
  });

  it('the earlier placeholders agree (make_level1 132, cast cb1 133)', () => {
    expect(truth.values.filter((v) => v.match).map((v) => [v.fn, v.rustId])).toEqual([
      ['make_level1', 132],
      ['cast', 133],
      ['callback', 127],
    ]);
  });

  it('non-batch mode and the non-nested scenarios produce no mismatch in legacy', () => {
    expect(runSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'non-batch' }).truth.mismatchCount).toBe(0);
    for (const scenario of ['mixed-returns', 'borrowed-refs', 'drops', 'many-callbacks']) {
      for (const mode of MODES) {
        const t = runSimulation({ scenario, revision: 'legacy', mode }).truth;
        expect(t.mismatchCount, `${scenario} ${mode}`).toBe(0);
        expect(t.sessions[0]!.outcome).toBe('completed');
      }
    }
  });
});

describe('reserved-count: the ids agree', () => {
  it('deep-nesting has no mismatch, and each R-Eval filled exactly what it reserved', () => {
    const { truth } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' });
    expect(truth.mismatchCount).toBe(0);
    expect(truth.events).toEqual([]);
    expect(truth.evals.slice(0, 4).map((e) => [e.rustSeq, e.reserved, e.heapRefOps, e.filled])).toEqual([
      [7, 1, 1, 1],
      [5, 2, 2, 2],
      [3, 2, 2, 2],
      [1, 4, 4, 4],
    ]);
    expect(truth.underfilledEvals).toBe(0);
    const cb2 = truth.values.find((v) => v.fn === 'cast' && v.rustSeq === 3)!;
    expect(cb2).toMatchObject({ rustId: 136, jsId: 136, match: true });
    expect(truth.sessions[0]).toMatchObject({ outcome: 'completed', end: { rust: { liveCount: 0, maxId: 141 }, js: { liveCount: 0, maxId: 141, borrowFrames: 0 } } });
  });

  it('no unfaulted scenario produces an id mismatch in any revision after legacy', () => {
    for (const revision of REVISIONS.filter((r) => !r.startsWith('legacy'))) {
      // timer-race is a race by design: evaluate-id* swap IDs there (crossed-in-flight), checked below.
      for (const scenario of SCENARIOS.filter((s) => s.name !== 'timer-race')) {
        for (const mode of MODES) {
          for (const seed of scenario.name === 'stress' ? [1, 2] : [1]) {
            const size = scenario.name === 'stress' ? 1500 : undefined;
            const t = runSimulation({ scenario: scenario.name, revision, mode, seed, size }).truth;
            expect(t.mismatchCount, `${scenario.name} ${revision} ${mode} ${seed}`).toBe(0);
            expect(t.eventCounts['wrong-object'] ?? 0).toBe(0);
          }
        }
      }
    }
  });
});

describe('timer-race: the page timer racing a burst', () => {
  it('swaps IDs only where the protocol lets it: evaluate-id* (taken late), not seq-id (JS writes IDs) or explicit-ids', () => {
    for (const mode of MODES) {
      for (const revision of ['evaluate-id-draft', 'evaluate-id'] as const) {
        const t = runSimulation({ scenario: 'timer-race', revision, mode, size: 2 }).truth;
        expect(t.mismatchCount, `${revision} ${mode}`).toBeGreaterThan(0);
        expect(t.sessions[0]!.outcome).toBe('completed');
      }
      for (const revision of ['seq-id', 'explicit-ids'] as const) {
        const t = runSimulation({ scenario: 'timer-race', revision, mode, size: 2 }).truth;
        expect(t.mismatchCount, `${revision} ${mode}`).toBe(0);
        expect(Object.keys(t.eventCounts), `${revision} ${mode}`).toEqual([]);
      }
      // Up to reserved-count Rust takes the app call's J-Resp as the callback's answer.
      const r = runSimulation({ scenario: 'timer-race', revision: 'reserved-count', mode, size: 2 }).truth;
      expect(r.eventCounts['misrouted-respond'], mode).toBeGreaterThan(0);
    }
  });
});

describe('legacy-freelist: the free lists diverge where failure-modes.md says', () => {
  it('timers with JsValue arguments racing queued drops (many-callbacks) diverge; legacy does not', () => {
    for (const mode of MODES) {
      const t = runSimulation({ scenario: 'many-callbacks', revision: 'legacy-freelist', mode }).truth;
      expect(t.eventCounts['freelist-divergence'], mode).toBe(1);
      expect(t.mismatchCount).toBeGreaterThan(0);
      const first = t.mismatches[0]!;
      // Rust popped the id of a drop it had queued; JS, which has not run that drop yet, took another.
      expect(first).toMatchObject({ kind: 'callback-arg', rustFromFreeList: true, match: false });
      expect(t.events.find((e) => e.kind === 'freelist-divergence')!.message).toContain('from its free list');
      expect(runSimulation({ scenario: 'many-callbacks', revision: 'legacy', mode }).truth.mismatchCount).toBe(0);
    }
  });

  it('drops that JS runs in the order Rust queued them keep both free lists equal', () => {
    for (const mode of MODES) {
      const t = runSimulation({ scenario: 'drops', revision: 'legacy-freelist', mode }).truth;
      expect(t.mismatchCount).toBe(0);
      expect(t.values.some((v) => v.rustFromFreeList && v.jsFromFreeList)).toBe(true); // ids really were reused
      expect(t.sessions[0]!.end.js.freeList).toBeDefined();
    }
  });
});

describe('real bugs of later revisions appear in long stress runs', () => {
  it('reserved-count batch stress shows the freed-callback-return use-after-free and the type-cache race', () => {
    const t = runSimulation({ scenario: 'stress', revision: 'reserved-count', mode: 'batch', size: 12000, seed: 2 }).truth;
    expect(t.mismatchCount).toBe(0);
    expect(t.eventCounts['use-after-free']).toBeGreaterThan(0);
    expect(t.eventCounts['unknown-type-id']).toBeGreaterThan(0);
    expect(t.sessionCount).toBeGreaterThan(1); // each hang is followed by a fresh session
  });

  it('explicit-ids stress has neither', () => {
    const t = runSimulation({ scenario: 'stress', revision: 'explicit-ids', mode: 'batch', size: 6000, seed: 2 }).truth;
    expect(t.eventCounts).toEqual({});
    expect(t.sessions[0]!.outcome).toBe('completed');
  });
});

describe('ground truth shape', () => {
  it('is JSON-serialisable and lists every value with its creating call and both ids', () => {
    const { truth } = runSimulation({ scenario: 'mixed-returns', revision: 'seq-id', mode: 'batch' });
    expect(JSON.parse(JSON.stringify(truth))).toEqual(truth);
    expect(truth.valueCount).toBe(truth.values.length);
    for (const v of truth.values) {
      expect(typeof v.fn).toBe('string');
      expect(v.rustId).toBe(v.jsId);
      expect(v.seq).toBeGreaterThan(0);
    }
    expect(truth.values.map((v) => v.fn)).toEqual(
      expect.arrayContaining(['make_obj', 'try_get', 'maybe_get', 'list_of']),
    );
    const inner = truth.values.find((v) => v.fn === 'try_get')!;
    expect(inner.kind).toBe('result-inner');
    expect(truth.sessions[0]!.end).toMatchObject({ rust: { liveCount: 0 }, js: { liveCount: 0 } });
  });

  it('objects alive at the end are listed for each side', () => {
    const { truth } = runSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' });
    expect(truth.sessions[0]!.end.rust.liveIds).toEqual([132, 134, 135]);
    expect(truth.sessions[0]!.end.js.liveIds).toEqual([132, 133, 134]);
  });

  it('is bounded: lists keep the first N items, counters keep counting, a sink sees everything', () => {
    const items: TruthItem[] = [];
    const sim = simulate({ scenario: 'stress', revision: 'legacy', mode: 'batch', size: 3000, truthLimit: 5, truthSink: (i) => items.push(i) });
    for (const _ of sim.records) void _;
    const t = sim.truth();
    expect(t.values).toHaveLength(5);
    expect(t.mismatches.length).toBeLessThanOrEqual(5);
    expect(t.valueCount).toBeGreaterThan(100);
    expect(t.mismatchCount).toBeGreaterThan(5);
    expect(items.filter((i) => i.type === 'value')).toHaveLength(t.valueCount);
    expect(items.filter((i) => i.type === 'mismatch')).toHaveLength(t.mismatchCount);
    expect(items.filter((i) => i.type === 'session')).toHaveLength(t.sessionCount);
    expect(t.mismatches[0]).toEqual(items.find((i) => i.type === 'mismatch')!.item);
  });
});
