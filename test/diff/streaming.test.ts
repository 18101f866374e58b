import { describe, expect, it } from 'vitest';
import { diffTraces, MAX_HUNK_STEPS } from '../../src/diff/index.js';
import { MAX_ACTIVE_SESSIONS } from '../../src/diff/stream.js';
import { simulate, type SimulationOptions } from '../../src/sim/index.js';

/** The simulator's records, generated lazily: neither trace is ever held in memory. */
const lazy = (o: SimulationOptions): Iterable<import('../../src/trace/record.js').TraceRecord> => simulate(o).records;

describe('diff on long traces', () => {
  it('streams a long single-session trace against itself: memory follows the live values, not the length', async () => {
    const o: SimulationOptions = { scenario: 'stress', revision: 'explicit-ids', size: 12_000, seed: 11 };
    const r = await diffTraces({ name: 'A', records: lazy(o) }, { name: 'B', records: lazy(o) });
    expect(r.equivalent).toBe(true);
    expect(r.a.messages).toBeGreaterThan(12_000);
    expect(r.summary.same).toBe(r.a.calls);
    // Heads stay equal: no alignment table is ever built.
    expect(r.stats.tables).toBe(0);
    expect(r.stats.fastPairs).toBe(r.a.calls);
    // The value model holds the live heap only (far fewer than the values created).
    expect(r.stats.maxLive).toBeLessThan(200);
    expect(r.a.releases).toBeGreaterThan(1000);
    expect(r.findingsCompared).toBe(true);
  });

  it('a stress run with many sessions (hung sessions are ended early) against itself', async () => {
    const o: SimulationOptions = { scenario: 'stress', revision: 'reserved-count', size: 8_000, seed: 3 };
    const r = await diffTraces({ name: 'A', records: lazy(o) }, { name: 'B', records: lazy(o) }, { findings: false });
    expect(r.a.sessions).toBeGreaterThan(MAX_ACTIVE_SESSIONS);
    expect(r.a.evicted).toBeGreaterThan(0);
    expect(r.equivalent).toBe(true);
    expect(r.findingsCompared).toBe(false);
  });

  it('two different long runs: the result stays bounded and the first divergence is found', async () => {
    const r = await diffTraces(
      { name: 'A', records: lazy({ scenario: 'stress', revision: 'seq-id', size: 6_000, seed: 1 }) },
      { name: 'B', records: lazy({ scenario: 'stress', revision: 'seq-id', size: 6_000, seed: 2 }) },
      { window: 64, maxListed: 50 },
    );
    expect(r.equivalent).toBe(false);
    expect(r.differences).toHaveLength(50);
    expect(r.differencesTruncated).toBeGreaterThan(0);
    expect(r.summary.same + r.summary.changed + r.summary.onlyA).toBe(r.a.calls);
    expect(r.summary.same + r.summary.changed + r.summary.onlyB).toBe(r.b.calls);
    expect(r.firstDivergence!.steps.length).toBeLessThanOrEqual(3 + MAX_HUNK_STEPS);
  });
});
