import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/replay/index.js';
import { openTrace } from '../../src/trace/source.js';

const path = (f: string): string => new URL(`../../traces/${f}`, import.meta.url).pathname;

/** What traces/README.md promises for each sample: the root findings (kind, severity, Rust ID, JS ID). */
const expected: Record<string, Array<[string, string, number?, number?]>> = {
  'spec-deep-nesting.legacy.log': [['placeholder-id-mismatch', 'error', 136, 134]],
  'spec-deep-nesting.reserved-count.log': [],
  'deep-nesting.legacy.batch.log': [['placeholder-id-mismatch', 'error', 136, 134]],
  'deep-nesting.reserved-count.batch.log': [],
  'deep-nesting.reserved-count.nobatch.log': [],
  'deep-nesting.explicit-ids.batch.log': [],
  'many-callbacks.legacy-freelist.batch.log': [['freelist-divergence', 'error', 141, 152]],
  'mixed-returns.evaluate-id.batch.log': [],
  'drops.seq-id.batch.btrace': [],
  'fault.double-drop.reserved-count.log': [['double-free', 'error', 132]],
  'fault.lost-record.reserved-count.log': [['records-lost', 'warning']],
  'fault.misrouted-respond.evaluate-id.log': [['misrouted-respond', 'warning']],
  'fault.unpopped-scope.reserved-count.log': [['unanswered-evaluate', 'error']],
  'fault.underfill.reserved-count.log': [],
};

describe('the sample traces analyze as traces/README.md says', () => {
  for (const [file, roots] of Object.entries(expected)) {
    it(file, async () => {
      const r = await analyze(openTrace(path(file)));
      const got = r.findings
        .filter((f) => f.causedBy === undefined)
        .map((f) => [f.kind, f.severity, ...(f.rustId !== undefined || f.jsId !== undefined ? [f.rustId, f.jsId] : [])].filter((x, i) => i < 2 || x !== undefined));
      expect(got).toEqual(roots.map((x) => x.filter((v) => v !== undefined)));
    });
  }

  it('deep-nesting legacy: the root is at message 3, op 2, with its five consequences', async () => {
    const r = await analyze(openTrace(path('deep-nesting.legacy.batch.log')));
    expect(r.findings.map((f) => f.kind)).toEqual([
      'placeholder-id-mismatch',
      'unknown-heap-id',
      'unanswered-evaluate',
      'unanswered-evaluate',
      'unanswered-evaluate',
      'borrow-frame-unbalanced',
    ]);
    expect(r.findings[0]).toMatchObject({ certainty: 'definite', consequences: 5, location: { message: 3, op: 2 } });
  });

  it('callback parameters counted as placeholders: every R-Eval that reserves for nothing is a root', async () => {
    const r = await analyze(openTrace(path('fault.callback-params-as-placeholders.reserved-count.log')));
    const roots = r.findings.filter((f) => f.causedBy === undefined);
    expect(roots.filter((f) => f.kind === 'reservation-underfilled').length).toBeGreaterThan(0);
    expect(roots[0]!.kind).toBe('reservation-underfilled');
  });

  it('a misrouted Respond without evaluate ids shows as a J-Resp shaped for the other open R-Eval', async () => {
    const r = await analyze(openTrace(path('fault.misrouted-respond.reserved-count.log')));
    expect(r.findings[0]).toMatchObject({ kind: 'respond-shape-mismatch', severity: 'error' });
  });
});

describe('bounded findings', () => {
  it('past maxFindings, findings are counted per kind instead of kept', async () => {
    const file = path('fault.callback-params-as-placeholders.reserved-count.log');
    const all = await analyze(openTrace(file));
    expect(all.findings.length).toBeGreaterThan(5);
    const some = await analyze(openTrace(file), { maxFindings: 5 });
    expect(some.findings).toHaveLength(5);
    const suppressed = Object.values(some.sessions[0]!.suppressed).reduce((a, b) => a + b, 0);
    expect(suppressed).toBe(all.findings.length - 5 + Object.values(all.sessions[0]!.suppressed).reduce((a, b) => a + b, 0));
    expect(some.sessions[0]!.findingsByKind).toEqual(all.sessions[0]!.findingsByKind);
  });
});

describe('many sessions in one log', () => {
  it('finishing idle sessions early changes no finding when sessions do not overlap', async () => {
    const { runSimulation } = await import('../../src/sim/index.js');
    const { records } = runSimulation({ scenario: 'stress', revision: 'legacy', mode: 'batch', seed: 3, size: 6000 });
    const all = await analyze(records);
    expect(all.sessions.length).toBeGreaterThan(20);
    const few = await analyze(records, { maxActiveSessions: 4 });
    const strip = (r: typeof all) => r.findings.map((f) => [f.kind, f.location.ctx, f.location.line, f.rustId, f.jsId, f.causedBy]);
    expect(strip(few)).toEqual(strip(all));
    expect(few.sessions.map((s) => s.ctx).sort()).toEqual(all.sessions.map((s) => s.ctx).sort());
    expect(few.sessions.filter((s) => s.notes.some((n) => n.startsWith('ended when idle'))).length).toBeGreaterThan(0);
  });
});
