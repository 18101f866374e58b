import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/sim/index.js';
import { base64, decodeIssues, messages } from './helpers.js';

describe('fault: callback-params-as-placeholders', () => {
  it('reserved-count: the next R-Eval reserves a slot nobody fills, and the counters drift', () => {
    const clean = runSimulation({ scenario: 'many-callbacks', revision: 'reserved-count', mode: 'non-batch', size: 10 }).truth;
    const t = runSimulation({ scenario: 'many-callbacks', revision: 'reserved-count', mode: 'non-batch', size: 10, faults: ['callback-params-as-placeholders'] }).truth;
    expect(clean.mismatchCount).toBe(0);
    expect(t.eventCounts.fault).toBe(1);
    expect(t.eventCounts['reservation-underfilled']).toBeGreaterThan(0);
    expect(t.mismatchCount).toBeGreaterThan(0);
    expect(t.mismatches[0]).toMatchObject({ kind: 'callback-arg' });
  });

  it('legacy has no count to corrupt: the trace is unchanged', () => {
    const opts = { scenario: 'many-callbacks', revision: 'legacy', mode: 'batch', size: 10 } as const;
    const a = runSimulation(opts);
    const b = runSimulation({ ...opts, faults: ['callback-params-as-placeholders'] });
    expect(messages(b.records).map(base64)).toEqual(messages(a.records).map(base64));
  });
});

describe('fault: unpopped-scope', () => {
  it('reserved-count deep-nesting: level3 fills from M4\'s stale scope and JS throws', () => {
    const { records, truth } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch', faults: ['unpopped-scope'] });
    expect(truth.events.map((e) => e.kind)).toEqual(['fault', 'reservation-overfilled', 'js-exception', 'deadlock']);
    expect(truth.events[2]!.message).toBe('No reserved slots available');
    expect(messages(records, 'js')).toHaveLength(9); // M1..R4, RC3: then nothing
    expect(truth.sessions[0]!.end.js.reservationScopes).toBeGreaterThan(0);
  });
});

describe('fault: underfill', () => {
  it('reserved-count: the unfilled slot becomes a hole and the value lands one id higher in JS', () => {
    const { truth } = runSimulation({ scenario: 'mixed-returns', revision: 'reserved-count', mode: 'batch', faults: ['underfill'] });
    expect(truth.mismatches[0]).toMatchObject({ fn: 'make_obj', rustId: 132, jsId: 133 });
    expect(truth.evals[0]).toMatchObject({ reserved: 1, filled: 0, inserted: 1 });
    expect(truth.eventCounts['unknown-heap-id']).toBe(1);
  });

  it('explicit-ids: the value is never stored where Rust said, and JS refuses the id', () => {
    const { truth } = runSimulation({ scenario: 'mixed-returns', revision: 'explicit-ids', mode: 'batch', faults: ['underfill'] });
    expect(truth.events.find((e) => e.kind === 'js-exception')!.message).toBe('Unknown JS heap reference ID: 132');
  });
});

describe('fault: misrouted-respond', () => {
  it('reserved-count: the top-level R-Eval travels through the callback\'s XHR and Rust decodes its J-Resp as the callback\'s bool', () => {
    const { records, truth } = runSimulation({ scenario: 'drops', revision: 'reserved-count', mode: 'non-batch', faults: ['misrouted-respond'] });
    expect(truth.eventCounts['misrouted-respond']).toBe(1);
    expect(truth.sessions[0]!.outcome).toBe('rust-panic');
    expect(truth.events.find((e) => e.kind === 'rust-panic')!.message).toMatch(/^Failed to decode return value/);
    // The two sides saw the crossing in different orders.
    const order = (side: 'rust' | 'js'): string[] => messages(records, side).slice(6, 9).map((r) => `${r.dir}:${base64(r)}`);
    expect(order('rust')).not.toEqual(order('js'));
    expect(decodeIssues('reserved-count', records).map((i) => `${i.where.split('#')[0]} ${i.issue.kind}`)).toEqual(['/rust respond-shape-mismatch']);
  });

  it('evaluate-id routes the J-Resp by id: the run completes with no mismatch', () => {
    for (const revision of ['evaluate-id', 'evaluate-id-draft', 'seq-id'] as const) {
      const { records, truth } = runSimulation({ scenario: 'drops', revision, mode: 'non-batch', faults: ['misrouted-respond'] });
      expect(truth.sessions[0]!.outcome, revision).toBe('completed');
      expect(truth.mismatchCount).toBe(0);
      expect(truth.eventCounts['misrouted-respond']).toBeUndefined();
      expect(decodeIssues(revision, records).map((i) => i.issue.kind)).toEqual(['misrouted-respond']); // answered out of order, set aside
    }
  });

  it('explicit-ids delivers top-level R-Evals by evaluate_script: nothing crosses', () => {
    const { records, truth } = runSimulation({ scenario: 'drops', revision: 'explicit-ids', mode: 'non-batch', faults: ['misrouted-respond'] });
    expect(truth.eventCounts).toEqual({ fault: 1 });
    expect(decodeIssues('explicit-ids', records)).toEqual([]);
  });
});

describe('fault: lost-record', () => {
  it('the rust side misses seq 3 (a gap), the js side has it, and only the rust conversation decodes with damage', () => {
    const { records, truth } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch', faults: ['lost-record'] });
    const rustSeqs = messages(records, 'rust').map((r) => r.seq);
    expect(rustSeqs.slice(0, 3)).toEqual([1, 2, 4]);
    expect(messages(records, 'js').map((r) => r.seq).slice(0, 3)).toEqual([1, 2, 3]);
    expect(truth.events.find((e) => e.kind === 'lost-record')).toMatchObject({ side: 'rust', seq: 3 });
    const issues = decodeIssues('reserved-count', records);
    expect(issues.length).toBeGreaterThan(0);
    expect(issues.every((i) => i.where.startsWith('/rust'))).toBe(true);
    expect(truth.mismatchCount).toBe(0); // the conversation itself was fine
  });

  it('can remove any record of either side', () => {
    const { records } = runSimulation({ scenario: 'drops', revision: 'legacy', faults: ['lost-record'], lostRecord: { side: 'js', seq: 1 } });
    expect(messages(records, 'js')[0]!.seq).toBe(2);
    expect(messages(records, 'rust')[0]!.seq).toBe(1);
  });
});

describe('fault: double-drop', () => {
  it('legacy-freelist: the id is on both free lists twice and is handed out twice', () => {
    const { truth } = runSimulation({ scenario: 'drops', revision: 'legacy-freelist', mode: 'batch', faults: ['double-drop'] });
    expect(truth.events[1]).toMatchObject({ kind: 'double-free', message: 'drop_heap_ref(132) for an empty slot' });
    expect(truth.events.filter((e) => e.kind === 'id-alias').map((e) => e.side)).toEqual(expect.arrayContaining(['rust', 'js']));
    expect(truth.eventCounts['wrong-object']).toBeGreaterThan(0);
  });

  it('reserved-count: JS ignores the second drop (double-free), ids stay in step', () => {
    const { truth } = runSimulation({ scenario: 'drops', revision: 'reserved-count', mode: 'batch', faults: ['double-drop'] });
    expect(truth.eventCounts).toEqual({ fault: 1, 'double-free': 1 });
    expect(truth.mismatchCount).toBe(0);
  });

  it('explicit-ids: releasing a non-live id panics the Rust slab', () => {
    const { truth } = runSimulation({ scenario: 'drops', revision: 'explicit-ids', mode: 'batch', faults: ['double-drop'] });
    expect(truth.sessions[0]!.outcome).toBe('rust-panic');
    expect(truth.events.find((e) => e.kind === 'rust-panic')!.message).toMatch(/not live/);
  });
});
