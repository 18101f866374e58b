import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/trace.js';

const dir = tempDir();

describe('bridge-trace simulate', () => {
  it('writes a trace and its ground truth; the same seed gives the same bytes', async () => {
    const a = await runCli(['simulate', 'deep-nesting', '--rev', 'legacy', '-o', `${dir}/a.log`, '--truth', `${dir}/a.json`]);
    expect(a.code).toBe(0);
    expect(a.stderr).toMatch(/simulated deep-nesting \(legacy, batch\) → .*a\.log: 3 messages, \d+ JS values, 1 ID mismatch/);
    const truth = JSON.parse(readFileSync(`${dir}/a.json`, 'utf8')) as { mismatches: Array<{ rustId: number; jsId: number }> };
    expect(truth.mismatches[0]).toMatchObject({ rustId: 136, jsId: 134 });
    await runCli(['simulate', 'deep-nesting', '--rev', 'legacy', '-o', `${dir}/b.log`]);
    expect(readFileSync(`${dir}/b.log`)).toEqual(readFileSync(`${dir}/a.log`));
  });

  it('--no-fn-meta leaves the helper ids out, and analyze then says it used the heuristic', async () => {
    const r = await runCli(['simulate', 'drops', '--rev', 'reserved-count', '--no-fn-meta', '-o', `${dir}/noMeta.btrace`]);
    expect(r.code).toBe(0);
    const dump = await runCli(['dump', `${dir}/noMeta.btrace`]);
    expect(dump.stdout).not.toContain('fn.drop_heap_ref');
    const analysis = await runCli(['analyze', `${dir}/noMeta.btrace`]);
    expect(analysis.stdout).toContain('helpers found by the signature heuristic');
  });

  it('--side js, --mode nobatch, --fault and --list', async () => {
    const r = await runCli(['simulate', 'deep-nesting', '--rev', 'reserved-count', '--mode', 'nobatch', '--side', 'js', '--fault', 'lost-record', '-o', `${dir}/js.log`]);
    expect(r.code).toBe(0);
    const text = readFileSync(`${dir}/js.log`, 'utf8');
    expect(text).not.toContain('side=rust');
    expect(text).not.toContain('seq=3 ');
    const list = await runCli(['simulate', '--list']);
    expect(list.stdout).toContain('deep-nesting');
    expect(list.stdout).toContain('double-drop');
    const bad = await runCli(['simulate', 'nope', '-o', `${dir}/x.log`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown scenario "nope"/);
  });
});
