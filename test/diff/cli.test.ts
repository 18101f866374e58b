import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/trace.js';
import { writeSimulation } from '../../src/sim/index.js';

const dir = tempDir('bridge-trace-diff-');
const path = (name: string): string => join(dir, name);

beforeAll(async () => {
  await writeSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' }, path('rc-batch.log'));
  await writeSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'non-batch' }, path('rc-nobatch.btrace'));
  await writeSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' }, path('legacy.log'));
  await writeSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch', sides: 'rust' }, path('legacy-rust.log'));
  writeFileSync(path('empty.log'), 'no bridge traffic here\n');
});

describe('bridge-trace diff', () => {
  it('exit 0 and one line when the runs are equivalent (batch vs non-batch, lines vs binary)', async () => {
    const r = await runCli(['diff', path('rc-batch.log'), path('rc-nobatch.btrace')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`--- A ${path('rc-batch.log')} (reserved-count, js side, 19 calls, 12 releases)`);
    expect(r.stdout).toContain(`+++ B ${path('rc-nobatch.btrace')} (reserved-count, js side, 19 calls, 12 releases)`);
    expect(r.stdout).toContain('equivalent: 19 calls aligned; no call, release or finding differs (heap IDs and callback keys by creation order)');
  });

  it('exit 1, the first divergence in unified style with context, then the summary', async () => {
    const r = await runCli(['diff', path('rc-batch.log'), path('legacy.log')]);
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out).toContain('note: revisions differ (A reserved-count, B legacy)');
    expect(out).toMatch(/^first divergence: A call 6 \(.*rc-batch\.log:\d+ js#3 op 2\), B call 6 \(.*legacy\.log:\d+ js#3 op 2\)$/m);
    expect(out).toContain('\n      op 1: fn 3 cast(callback k2) -> JsValue #v3\n~     op 2: fn 22(&127, #v3) -> JsValue …\n~     op 2: fn 22(&127, #136?) -> JsValue (no answer)\n');
    expect(out).toContain("· argument 2: A #v3 = #136 (result of op 1: fn 3 cast); B #136?: JS had stored nothing under #136 at that point; A's #v3 is B's #v3 = #134");
    expect(out).toContain('\n-       callback k2(&126) -> JsValue …\n');
    expect(out).toContain('summary: different');
    expect(out).toMatch(/calls: A 19, B 10: \d+ same, \d+ changed, 9 only in A, 0 only in B/);
    expect(out).toContain('by heap ID (ID assignments)');
    expect(out).toContain('findings present in one run and not the other');
    expect(out).toContain('+ placeholder-id-mismatch at fn 22: A 0, B 1');
    expect(out).toContain('releases only in one run');
  });

  it('--json: the documented document', async () => {
    const r = await runCli(['diff', '--json', path('rc-batch.log'), path('legacy.log')]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as Record<string, any>;
    expect(doc).toMatchObject({ version: 1, equivalent: false, options: { exactIds: false, side: null, window: 1000, context: 3, findings: true }, findingsCompared: true });
    expect(doc.a).toMatchObject({ side: 'js', sidesSeen: ['rust', 'js'], calls: 19, revisions: [{ revision: 'reserved-count', source: 'meta' }] });
    expect(doc.b.revisions[0].revision).toBe('legacy');
    expect(doc.firstDivergence).toMatchObject({ a: 5, b: 5, more: 0 });
    const first = doc.firstDivergence.steps.find((s: { type: string }) => s.type !== 'same');
    expect(first).toMatchObject({
      type: 'changed',
      categories: ['ids', 'result'],
      a: { index: 5, kind: 'op', depth: 2, fnId: 22, text: 'op 2: fn 22(&127, #v3) -> JsValue …', params: '(JsValue, JsValue)', ret: 'JsValue', status: 'open', location: { side: 'js', seq: 3, op: 2, message: 3 } },
      b: { fnId: 22, status: 'no-answer' },
    });
    expect(Object.keys(doc.summary).sort()).toEqual(
      ['same', 'changed', 'onlyA', 'onlyB', 'changedArguments', 'changedReturnTypes', 'changedResults', 'changedIds', 'releasesOnlyA', 'releasesOnlyB', 'findingsOnlyA', 'findingsOnlyB'].sort(),
    );
    expect(doc.differences.length).toBe(doc.summary.changed + doc.summary.onlyA + doc.summary.onlyB);
    expect(doc.releases[0]).toMatchObject({ side: 'a', what: 'drop', value: '#v2', raw: 133 });
    expect(doc.findings[0]).toMatchObject({ kind: 'placeholder-id-mismatch', at: 'fn 22', a: 0, b: 1, example: { side: 'b' } });
    const equal = JSON.parse((await runCli(['diff', '--json', path('rc-batch.log'), path('rc-nobatch.btrace')])).stdout);
    expect(equal).toMatchObject({ equivalent: true, firstDivergence: null, differences: [], releases: [], findings: [] });
  });

  it('--exact-ids compares raw IDs and preludes', async () => {
    const r = await runCli(['diff', '--exact-ids', '--no-findings', path('rc-batch.log'), path('rc-nobatch.btrace')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('note: --exact-ids');
    expect(r.stdout).toContain('~ op 1: fn 20() -> JsValue #132 [reserved 4]');
    expect(r.stdout).toContain('· R-Eval prelude: A [reserved 4], B [reserved 0]');
    expect(r.stdout).toContain('findings not compared (--no-findings)');
  });

  it('--side rust compares the Rust-side records; a missing side is an error (exit 2)', async () => {
    const rust = await runCli(['diff', '--json', '--side', 'rust', path('legacy.log'), path('legacy-rust.log')]);
    expect(rust.code).toBe(0);
    expect(JSON.parse(rust.stdout)).toMatchObject({ equivalent: true, a: { side: 'rust' }, b: { side: 'rust', sidesSeen: ['rust'] } });
    // A trace with only Rust-side records is compared from that side by default.
    const mixed = await runCli(['diff', '--json', '--no-findings', path('legacy.log'), path('legacy-rust.log')]);
    expect(JSON.parse(mixed.stdout)).toMatchObject({ a: { side: 'js' }, b: { side: 'rust' } });
    const missing = await runCli(['diff', '--side', 'js', path('legacy.log'), path('legacy-rust.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no message records of the js side to compare');
  });

  it('--context sets the aligned calls around the first divergence', async () => {
    const r = await runCli(['diff', '--json', '--context', '1', path('rc-batch.log'), path('legacy.log')]);
    const doc = JSON.parse(r.stdout);
    expect(doc.firstDivergence.steps[0].type).toBe('same');
    expect(doc.firstDivergence.steps[1].type).toBe('changed');
    const none = JSON.parse((await runCli(['diff', '--json', '--context', '0', path('rc-batch.log'), path('legacy.log')])).stdout);
    expect(none.firstDivergence.steps[0].type).toBe('changed');
    expect(none.firstDivergence.steps.some((x: { type: string }) => x.type === 'same')).toBe(false);
  });

  it('--symbols names the functions, in the calls and in the findings', async () => {
    writeFileSync(path('symbols.json'), JSON.stringify({ functions: { 21: 'level1', 22: 'level2' } }));
    const r = await runCli(['diff', '--json', '--symbols', path('symbols.json'), path('rc-batch.log'), path('legacy.log')]);
    const doc = JSON.parse(r.stdout);
    const first = doc.firstDivergence.steps.find((s: { type: string }) => s.type !== 'same');
    expect(first.a).toMatchObject({ fnId: 22, name: 'level2', text: 'op 2: fn 22 level2(&127, #v3) -> JsValue …' });
    expect(doc.findings[0]).toMatchObject({ kind: 'placeholder-id-mismatch', at: 'level2' });
  });

  it('reads one of the two from stdin', async () => {
    const r = await runCli(['diff', '-', path('rc-nobatch.btrace')], { stdin: readFileSync(path('rc-batch.log')) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--- A - (reserved-count');
    const both = await runCli(['diff', '-', '-']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('at most one');
  });

  it('exit 2 for an unreadable input, an input without records, and bad options', async () => {
    const missing = await runCli(['diff', path('rc-batch.log'), path('nope.log')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error: .*nope\.log/);
    const empty = await runCli(['diff', path('empty.log'), path('rc-batch.log')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no @btrace records');
    expect((await runCli(['diff', '--side', 'both', path('rc-batch.log'), path('legacy.log')])).code).toBe(2);
    expect((await runCli(['diff', '--window', 'x', path('rc-batch.log'), path('legacy.log')])).code).toBe(2);
    expect((await runCli(['diff', path('rc-batch.log')])).code).toBe(2);
  });
});
