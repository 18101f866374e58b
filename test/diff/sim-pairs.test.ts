import { describe, expect, it } from 'vitest';
import { diffTraces, type DiffOptions, type DiffResult, type StepView } from '../../src/diff/index.js';
import { F, JsValue, OBJ_CB, runSimulation, type ScenarioProgram, type SimulationOptions } from '../../src/sim/index.js';
import type { Revision } from '../../src/protocol/revisions.js';

async function diffSims(a: SimulationOptions, b: SimulationOptions, options: DiffOptions = {}): Promise<DiffResult> {
  return diffTraces({ name: 'A', records: runSimulation(a).records }, { name: 'B', records: runSimulation(b).records }, options);
}

const notSame = (r: DiffResult): StepView[] => r.differences;
const firstChange = (r: DiffResult): StepView | undefined => r.firstDivergence?.steps.find((s) => s.type !== 'same');

describe('diff: batch and non-batch runs of the same scenario are equivalent under normalised IDs', () => {
  const scenarios = ['deep-nesting', 'many-callbacks', 'mixed-returns', 'borrowed-refs', 'drops'] as const;
  const revisions: Revision[] = ['legacy', 'reserved-count-slotmap', 'reserved-count', 'evaluate-id-draft', 'evaluate-id', 'seq-id', 'explicit-ids'];
  for (const scenario of scenarios) {
    for (const revision of revisions) {
      // legacy batch mode breaks deep nesting (protocol §7.4): that pair is a real difference.
      if (scenario === 'deep-nesting' && revision === 'legacy') continue;
      it(`${scenario}, ${revision}`, async () => {
        const size = scenario === 'many-callbacks' ? 20 : undefined;
        const base = { scenario, revision, ...(size !== undefined && { size }) };
        const batch = runSimulation({ ...base, mode: 'batch' });
        const nonBatch = runSimulation({ ...base, mode: 'non-batch' });
        // The simulator's ground truth: both runs are healthy.
        expect(batch.truth.mismatchCount + nonBatch.truth.mismatchCount).toBe(0);
        const r = await diffTraces({ name: 'batch', records: batch.records }, { name: 'non-batch', records: nonBatch.records });
        expect(notSame(r).map((s) => `${s.type} ${s.a?.text ?? ''} | ${s.b?.text ?? ''}`)).toEqual([]);
        expect(r.releases).toEqual([]);
        expect(r.findings).toEqual([]);
        expect(r.findingsCompared).toBe(true);
        expect(r.equivalent).toBe(true);
        expect(r.summary.same).toBeGreaterThan(0);
        expect(r.a.side).toBe('js');
        // Message grouping differs (that is the point), the calls do not.
        expect(r.a.messages).not.toBe(r.b.messages);
      });
    }
  }

  it('callbacks nested in a batch are placed in the op that receives their closure', async () => {
    // One R-Eval in batch mode: make, cast cb1, call_with(cb1) (calls cb1), cast cb2,
    // set_flag (no callback), call_with(cb2) (calls cb2). cb2's closure is predicted from the
    // reservation while op 3 is still running.
    const twoClosures: ScenarioProgram = function* ({ rt }) {
      // Warm-up: JS learns drop_heap_ref's and get_n's types before the batch (else the callbacks'
      // nested R-Evals hit the type-cache race, a real failure of the batch run).
      const w = yield* rt.callValue(F.make_obj, [0]);
      yield* rt.call(F.get_n, [w]);
      yield* rt.drop(w);
      yield* rt.section(function* () {
        const o = yield* rt.callValue(F.make_obj, [1]);
        // (Returning the argument would be the freed-callback-return bug in batch mode.)
        const cb1 = yield* rt.closure(OBJ_CB, function* () {
          return undefined;
        }, 'cb1');
        const r1 = yield* rt.callValue(F.call_with, [cb1, o]);
        const cb2 = yield* rt.closure(OBJ_CB, function* ([v]) {
          yield* rt.call(F.get_n, [v as JsValue]);
          return undefined;
        }, 'cb2');
        yield* rt.call(F.set_flag, [o, true]);
        const r2 = yield* rt.callValue(F.call_with, [cb2, o]);
        for (const v of [r1, r2, cb1, cb2, o]) yield* rt.drop(v);
      });
    };
    // (In legacy the batch itself is broken here: cb1's argument takes the ID promised to cb2.)
    for (const revision of ['reserved-count', 'evaluate-id', 'seq-id', 'explicit-ids'] as const) {
      expect(runSimulation({ scenario: 'two-closures', program: twoClosures, revision, mode: 'batch' }).truth.mismatchCount).toBe(0);
      const r = await diffSims({ scenario: 'two-closures', program: twoClosures, revision, mode: 'batch' }, { scenario: 'two-closures', program: twoClosures, revision, mode: 'non-batch' });
      expect(r.differences.map((x) => `${x.a?.text} | ${x.b?.text}`), revision).toEqual([]);
      expect(r.equivalent, revision).toBe(true);
    }
  });

  it('also from the Rust side (--side rust)', async () => {
    for (const scenario of ['deep-nesting', 'borrowed-refs', 'mixed-returns'] as const) {
      const r = await diffSims({ scenario, revision: 'reserved-count', mode: 'batch' }, { scenario, revision: 'reserved-count', mode: 'non-batch' }, { side: 'rust' });
      expect(r.a.side).toBe('rust');
      expect(r.equivalent, scenario).toBe(true);
    }
  });

  it('raw IDs differ between the two runs: --exact-ids reports only ID changes', async () => {
    const r = await diffSims(
      { scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' },
      { scenario: 'deep-nesting', revision: 'reserved-count', mode: 'non-batch' },
      { exactIds: true, findings: false },
    );
    expect(r.equivalent).toBe(false);
    expect(r.summary.onlyA + r.summary.onlyB).toBe(0);
    expect(r.summary.changedArguments + r.summary.changedResults + r.summary.changedReturnTypes).toBe(0);
    expect(r.summary.changedIds).toBeGreaterThan(0);
    // level2's closure argument: reserved #136 in the batch, inserted #134 without batching.
    const level2 = r.differences.find((s) => s.a?.fnId === 22 && s.a.kind === 'op')!;
    expect(level2.a!.text).toContain('(&127, #136)');
    expect(level2.b!.text).toContain('(&127, #134)');
    expect(level2.details!.some((d) => d.startsWith('argument 2: A #136'))).toBe(true);
    // The same trace against itself is equivalent even with raw IDs.
    const same = await diffSims({ scenario: 'deep-nesting', revision: 'reserved-count' }, { scenario: 'deep-nesting', revision: 'reserved-count' }, { exactIds: true });
    expect(same.equivalent).toBe(true);
  });
});

describe('diff: legacy vs reserved-count deep nesting', () => {
  it('parts at the cb2 placeholder: JS stored cb2 at #134 while Rust promised #136; the legacy run then stops', async () => {
    const r = await diffSims({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' }, { scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' });
    expect(r.equivalent).toBe(false);
    expect(r.notes.some((n) => n.includes('revisions differ (A reserved-count, B legacy)'))).toBe(true);
    const first = firstChange(r)!;
    expect(first.type).toBe('changed');
    // level2(ref2, cb2): fn 22, op 2 of the R-Eval sent from cb1's body.
    expect(first.a!.fnId).toBe(22);
    expect(first.b!.fnId).toBe(22);
    expect(first.a!.text).toBe('op 2: fn 22(&127, #v3) -> JsValue …');
    expect(first.b!.text).toBe('op 2: fn 22(&127, #136?) -> JsValue (no answer)');
    expect(first.categories).toContain('ids');
    const idLine = first.details!.find((d) => d.startsWith('argument 2'))!;
    expect(idLine).toContain('A #v3 = #136 (result of op 1: fn 3 cast)');
    expect(idLine).toContain('B #136?: JS had stored nothing under #136');
    expect(idLine).toContain("A's #v3 is B's #v3 = #134");
    // Everything before it is the same call for call: make_level1, the cast of cb1, level1, cb1's call, cb2's cast.
    const before = r.firstDivergence!.steps.slice(0, r.firstDivergence!.steps.indexOf(first));
    expect(before.every((s) => s.type === 'same')).toBe(true);
    expect(before.at(-1)!.a!.text).toBe('op 1: fn 3 cast(callback k2) -> JsValue #v3');
    expect(r.firstDivergence!.a).toBe(5);
    // The legacy run stops there: cb2, level3, cb3 and level4 happen only in A.
    const after = r.differences.slice(1);
    expect(after.filter((s) => s.type === 'only-b')).toEqual([]);
    expect(after.slice(0, 9).every((s) => s.type === 'only-a')).toBe(true);
    expect(after.slice(0, 9).map((s) => `${s.a!.kind} ${s.a!.fnId ?? ''}`.trim())).toEqual([
      'callback', // cb2
      'op 3', // cast of cb3
      'op 23', // level3
      'callback', // cb3
      'op 24', // level4
      'return', // from cb3
      'return 23', // from level3
      'return', // from cb2
      'return 22', // from level2
    ]);
    expect(r.summary.onlyB).toBe(0);
    expect(r.b.calls).toBeLessThan(r.a.calls);
    // The replay's findings for the legacy run, none for the other.
    const mismatch = r.findings.find((f) => f.kind === 'placeholder-id-mismatch')!;
    expect(mismatch).toMatchObject({ at: 'fn 22', a: 0, b: 1 });
    expect(r.summary.findingsOnlyA).toBe(0);
    expect(r.summary.findingsOnlyB).toBeGreaterThan(0);
  });

  it('the other way round names the same place', async () => {
    const r = await diffSims({ scenario: 'deep-nesting', revision: 'legacy' }, { scenario: 'deep-nesting', revision: 'reserved-count' });
    const first = firstChange(r)!;
    expect(first.a!.text).toBe('op 2: fn 22(&127, #136?) -> JsValue (no answer)');
    expect(first.b!.text).toBe('op 2: fn 22(&127, #v3) -> JsValue …');
    expect(r.summary.onlyA).toBe(0);
    expect(r.summary.onlyB).toBeGreaterThan(0);
  });
});

/** A small program; `variant` makes the one-op changes. */
function program(variant: 'base' | 'flag' | 'extra' | 'extra-value' | 'removed'): ScenarioProgram {
  return function* ({ rt }) {
    yield* rt.section(function* () {
      const a = yield* rt.callValue(F.make_obj, [7]);
      if (variant !== 'removed') yield* rt.call(F.get_name, [a]);
      yield* rt.call(F.set_flag, [a, variant !== 'flag']);
      if (variant === 'extra') yield* rt.call(F.get_n, [a]);
      const x = variant === 'extra-value' ? yield* rt.callValue(F.make_obj, [99]) : undefined;
      const b = yield* rt.callValue(F.make_obj, [8]);
      yield* rt.call(F.is_same, [a, b]);
      yield* rt.call(F.get_f64, [b]);
      yield* rt.drop(a);
      yield* rt.drop(b);
      if (x) yield* rt.drop(x);
    });
  };
}

describe('diff: a one-op change is reported as exactly that op', () => {
  const run = (variant: Parameters<typeof program>[0], revision: Revision = 'reserved-count', mode: 'batch' | 'non-batch' = 'batch'): SimulationOptions => ({
    scenario: `one-op-${variant}`,
    program: program(variant),
    revision,
    mode,
  });

  it('a changed argument', async () => {
    const r = await diffSims(run('base'), run('flag'));
    expect(r.differences).toHaveLength(1);
    const [d] = r.differences;
    expect(d).toMatchObject({ type: 'changed', categories: ['arguments'] });
    expect(d!.a!.text).toBe('op 1: fn 35(#v1, true) -> ()');
    expect(d!.b!.text).toBe('op 1: fn 35(#v1, false) -> ()');
    expect(d!.details).toEqual(['arguments: A (#v1, true), B (#v1, false)']);
    expect(r.summary).toMatchObject({ changed: 1, changedArguments: 1, onlyA: 0, onlyB: 0, releasesOnlyA: 0, releasesOnlyB: 0, findingsOnlyA: 0, findingsOnlyB: 0 });
    expect(firstChange(r)).toBe(r.firstDivergence!.steps[2]);
  });

  it('an added op, even when the other run is not batched', async () => {
    const r = await diffSims(run('base', 'explicit-ids', 'batch'), run('extra', 'explicit-ids', 'non-batch'));
    expect(r.differences.map((s) => [s.type, s.b?.text])).toEqual([['only-b', 'op 1: fn 31(#v1) -> u32 7']]);
    expect(r.summary.same).toBe(r.a.calls);
  });

  it('a removed op', async () => {
    const r = await diffSims(run('base', 'legacy'), run('removed', 'legacy'));
    expect(r.differences.map((s) => [s.type, s.a?.text])).toEqual([['only-a', 'op 2: fn 32(#v1) -> String "obj-7"']]);
  });

  it('an added op creating a value: later calls still pair by what their IDs stand for', async () => {
    const r = await diffSims(run('base', 'seq-id'), run('extra-value', 'seq-id', 'non-batch'));
    // B's second object is #v3, A's is #v2: they pair, and the extra value's drop belongs to the extra op.
    expect(r.differences.map((s) => [s.type, s.b?.text])).toEqual([['only-b', 'op 1: fn 30(99) -> JsValue #v2']]);
    expect(r.releases).toEqual([]);
    const isSame = r.firstDivergence!.steps.find((s) => s.a?.fnId === 45)!;
    expect(isSame.type).toBe('same');
  });
});
