import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/trace.js';
import { recorderSnippet } from '../../src/recorder/snippet.js';

const dir = tempDir();

describe('bridge-trace recorder', () => {
  it('prints the snippet with the revision and label baked in', async () => {
    const r = await runCli(['recorder', '--rev', 'reserved-count', '--ctx', 'webview-1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(recorderSnippet({ rev: 'reserved-count', ctx: 'webview-1' }));
    expect(r.stdout).toContain('var REV = "reserved-count";');
    expect(r.stdout).toContain('var CTX = "webview-1";');
    expect(() => new vm.Script(r.stdout)).not.toThrow();
    expect(r.stderr).toBe('');
  });

  it('-o writes the file; without --rev there is no meta line, and it says so', async () => {
    const out = `${dir}/recorder.js`;
    const r = await runCli(['recorder', '-o', out]);
    expect(r.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(recorderSnippet({}));
    expect(r.stderr).toContain(`recorder snippet written to ${out}`);
    expect(r.stderr).toContain('no --rev');
    expect((await runCli(['recorder', '-o', '-'])).stdout).toBe(recorderSnippet({}));
  });

  it('rejects an unknown revision and labels that do not fit in one field (exit 2)', async () => {
    const a = await runCli(['recorder', '--rev', 'nope']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('expected one of');
    const b = await runCli(['recorder', '--ctx', 'my webview']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('error: --ctx "my webview" contains a space');
    const c = await runCli(['recorder', '--ctx', 'a"b']);
    expect(c.code).toBe(2);
    expect(c.stdout).toBe('');
    const d = await runCli(['recorder', '-o', `${dir}/no/such/dir/r.js`]);
    expect(d.code).toBe(2);
    expect(d.stderr).toContain('error: -o');
  });
});
