import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openTrace } from '../../src/trace/source.js';
import type { TraceRecord } from '../../src/trace/record.js';
import { FAULTS, runSimulation, SCENARIOS, simulate, writeSimulation } from '../../src/sim/index.js';
import { base64, messages } from './helpers.js';

describe('simulator API', () => {
  it('lists the scenarios and faults with one-line descriptions', () => {
    expect(SCENARIOS.map((s) => s.name)).toEqual(['deep-nesting', 'many-callbacks', 'mixed-returns', 'borrowed-refs', 'drops', 'closure-lifetimes', 'timer-race', 'stress']);
    expect(FAULTS.map((f) => f.name)).toEqual(['callback-params-as-placeholders', 'unpopped-scope', 'underfill', 'misrouted-respond', 'lost-record', 'double-drop']);
    for (const x of [...SCENARIOS, ...FAULTS]) {
      expect(x.description.length).toBeGreaterThan(20);
      expect(x.description).not.toContain('\n');
    }
  });

  it('rejects unknown names', () => {
    expect(() => simulate({ scenario: 'nope', revision: 'legacy' })).toThrow(/unknown scenario/);
    expect(() => simulate({ scenario: 'drops', revision: 'nope' as never })).toThrow(/unknown revision/);
    expect(() => simulate({ scenario: 'drops', revision: 'legacy', faults: ['nope'] })).toThrow(/unknown fault/);
  });

  it('meta records name the revision and the helper fn ids, or leave them out', () => {
    const meta = (opts: Parameters<typeof runSimulation>[0]) => runSimulation(opts).records.filter((r) => r.kind === 'meta');
    const [m] = meta({ scenario: 'drops', revision: 'explicit-ids', sides: 'rust' });
    expect(m).toMatchObject({ rev: 'explicit-ids', side: 'rust' });
    expect(Object.fromEntries(m!.kind === 'meta' ? m!.fields : [])).toMatchObject({
      'fn.drop_heap_ref': '12',
      'fn.clone_heap_ref': '13',
      'fn.dispose_rust_function': '14',
      'fn.cast': '3',
      'sim.scenario': 'drops',
    });
    const legacy = meta({ scenario: 'drops', revision: 'legacy' });
    expect(legacy.map((r) => r.side)).toEqual(['rust', 'js']);
    expect(legacy[0]!.kind === 'meta' && legacy[0]!.fields.some(([k]) => k === 'fn.dispose_rust_function')).toBe(false);
    const bare = meta({ scenario: 'drops', revision: 'legacy', helperMeta: false });
    expect(bare[0]!.kind === 'meta' && bare[0]!.fields.some(([k]) => k.startsWith('fn.'))).toBe(false);
  });

  it('records one side only when asked, with the same bytes as that side of a two-sided run', () => {
    const both = runSimulation({ scenario: 'borrowed-refs', revision: 'seq-id' });
    const js = runSimulation({ scenario: 'borrowed-refs', revision: 'seq-id', sides: 'js' });
    expect(js.records.every((r) => r.side === 'js')).toBe(true);
    expect(messages(js.records).map(base64)).toEqual(messages(both.records, 'js').map(base64));
  });

  it('writeSimulation writes a trace the project reads back unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-'));
    try {
      for (const file of ['t.log', 't.btrace']) {
        const path = join(dir, file);
        const opts = { scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' } as const;
        const truth = await writeSimulation(opts, path);
        expect(truth.mismatchCount).toBe(0);
        const back: TraceRecord[] = [];
        for await (const r of openTrace(path)) back.push(r);
        const expected = runSimulation(opts).records;
        expect(back.map((r) => r.kind)).toEqual(expected.map((r) => r.kind));
        expect(messages(back as never).map(base64)).toEqual(messages(expected).map(base64));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
