import { describe, expect, it } from 'vitest';
import { REVISIONS } from '../../src/protocol/revisions.js';
import { MODES, runSimulation, SCENARIOS } from '../../src/sim/index.js';
import { decodeIssues, messages } from './helpers.js';

describe('every scenario decodes cleanly under every revision and mode', () => {
  // timer-race crosses messages on purpose (set-aside and misrouted Responds, a dropped R-Resp): test/replay/exactness.test.ts.
  for (const scenario of SCENARIOS.filter((s) => s.name !== 'timer-race')) {
    for (const revision of REVISIONS) {
      for (const mode of MODES) {
        it(`${scenario.name} / ${revision} / ${mode}`, () => {
          const size = scenario.name === 'stress' ? 600 : scenario.name === 'many-callbacks' ? 20 : undefined;
          const { records, truth } = runSimulation({ scenario: scenario.name, revision, mode, size, seed: 11 });
          expect(messages(records).length).toBeGreaterThan(0);
          // Both sides recorded every message (no fault removes one): same count per session.
          for (const s of truth.sessions) expect(s.messages.rust).toBe(s.messages.js);
          expect(decodeIssues(revision, records)).toEqual([]);
        });
      }
    }
  }
});

describe('record framing', () => {
  it('each side starts with its meta record and numbers its messages 1, 2, 3... with a monotonic clock', () => {
    const { records } = runSimulation({ scenario: 'stress', revision: 'reserved-count', mode: 'batch', size: 400, seed: 3 });
    const seen = new Map<string, { seq: number; t: number; meta: boolean }>();
    for (const r of records) {
      const key = `${r.ctx}/${r.side}`;
      if (r.kind === 'meta') {
        expect(seen.has(key)).toBe(false);
        expect(r.fields[0]).toEqual(['rev', 'reserved-count']);
        seen.set(key, { seq: 0, t: 0, meta: true });
        continue;
      }
      if (r.kind !== 'message') continue;
      const s = seen.get(key);
      expect(s?.meta).toBe(true);
      expect(r.seq).toBe(s!.seq + 1);
      expect(r.t).toBeGreaterThan(s!.t);
      s!.seq = r.seq!;
      s!.t = r.t!;
      expect(r.ctx).toMatch(/^stress-\d+$/);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });

  it('records carry line numbers in stream order', () => {
    const { records } = runSimulation({ scenario: 'drops', revision: 'legacy', mode: 'batch' });
    expect(records.map((r) => r.loc.line)).toEqual(records.map((_, i) => i + 1));
    expect(records[0]!.loc.input).toBe('sim:drops');
  });
});
