import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../src/sim/index.js';
import { formatTraceLine } from '../../src/trace/lines.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/trace.js';
import { rng } from '../helpers/rng.js';

const dir = tempDir();


/**
 * A CI job log: thousands of unrelated lines with timestamps and ANSI colours, and the
 * @btrace lines of two sessions (both sides each) interleaved in it.
 */
function noisyLog(): { text: string; firstLegacyLine: number } {
  const sessions = [
    runSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch', ctx: 'test_borrowed_ref_deep_nesting' }).records,
    runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch', ctx: 'test_batch_ok' }).records,
  ].map((records) => records.map((r) => formatTraceLine(r)));
  const next = rng(99);
  const lines: string[] = [];
  const cursors = [0, 0];
  let firstLegacyLine = 0;
  for (let i = 0; i < 4000 || cursors.some((c, k) => c < sessions[k]!.length); i++) {
    const ts = `2026-11-24T03:${String(10 + (i % 50)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z`;
    const k = Math.floor(next() * 40);
    if (k < 2 && cursors[k]! < sessions[k]!.length) {
      const colour = k === 0 ? '\x1b[36m' : '\x1b[35m';
      lines.push(`${ts} ${colour}[webview]\x1b[0m console.log: ${sessions[k]![cursors[k]!++]}\r`);
      if (k === 0 && firstLegacyLine === 0) firstLegacyLine = lines.length;
    } else {
      const noise = [
        `${ts} \x1b[32m   Compiling\x1b[0m wry-bindgen v0.2.106 (/home/runner/work/app)`,
        `${ts} test tests::test_${i} ... \x1b[32mok\x1b[0m`,
        `${ts} warning: unused variable: \`x\` at src/lib.rs:${i}:9`,
        `${ts} mail from someone@btrace.example.org arrived`,
        '',
      ];
      lines.push(noise[Math.floor(next() * noise.length)]!);
    }
  }
  return { text: lines.join('\n') + '\n', firstLegacyLine };
}

describe('CI log checks', () => {
  const { text } = noisyLog();
  const log = `${dir}/job.log`;
  writeFileSync(log, text);

  it('replays each interleaved session on its own and reports it under its label', async () => {
    const r = await runCli(['analyze', '--json', log]);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { sessions: Array<{ ctx: string; revision: string; messages: number; sides: string[] }>; findings: Array<{ kind: string; location: { ctx: string; line: number }; causedBy?: number; rustId?: number; jsId?: number }> };
    expect(doc.sessions.map((s) => [s.ctx, s.revision, s.sides.sort().join('+')]).sort()).toEqual([
      ['test_batch_ok', 'reserved-count', 'js+rust'],
      ['test_borrowed_ref_deep_nesting', 'legacy', 'js+rust'],
    ]);
    const roots = doc.findings.filter((f) => f.causedBy === undefined);
    expect(roots).toHaveLength(1);
    expect(roots[0]).toMatchObject({ kind: 'placeholder-id-mismatch', rustId: 136, jsId: 134, location: { ctx: 'test_borrowed_ref_deep_nesting' } });
    // The location is the line of the log itself.
    expect(text.split('\n')[roots[0]!.location.line - 1]).toContain('@btrace');
    expect(doc.findings.every((f) => f.location.ctx === 'test_borrowed_ref_deep_nesting')).toBe(true);
  });

  it('--format github: annotations first, then the full report, and a step summary', async () => {
    const summary = `${dir}/step-summary.md`;
    writeFileSync(summary, '# earlier step content\n');
    const r = await runCli(['analyze', '--format', 'github', log], { env: { GITHUB_STEP_SUMMARY: summary } });
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^::error file=.*job\.log,line=\d+,title=bridge-trace placeholder-id-mismatch \(test_borrowed_ref_deep_nesting\)::argument 2 \(#136\)/);
    expect(lines.filter((l) => l.startsWith('::'))).toHaveLength(1);
    expect(r.stdout).toContain('errors (1 root cause)');
    const md = readFileSync(summary, 'utf8');
    expect(md).toContain('# earlier step content');
    expect(md).toContain('| test_borrowed_ref_deep_nesting | 6 | 0 | 0 | `placeholder-id-mismatch`');
    expect(md).toContain('| test_batch_ok | 0 | 0 | 0 | clean |');
  });

  it('--junit writes one test case per session, failed by one failure that lists its errors', async () => {
    const junit = `${dir}/junit.xml`;
    const r = await runCli(['analyze', '--quiet', '--junit', junit, log]);
    expect(r.code).toBe(1);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('<testsuite name="bridge-trace" tests="2" failures="1"');
    expect(xml).toContain('name="test_borrowed_ref_deep_nesting"');
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml).toContain('message="6 errors; first placeholder-id-mismatch');
    expect(xml.match(/error\[/g)).toHaveLength(6);
    expect(xml).toMatch(/<testcase classname="bridge-trace\.[^"]*job\.log" name="test_batch_ok">\s*<\/testcase>/);
  });

  it('--fail-on decides the exit code', async () => {
    const clean = `${dir}/clean.log`;
    writeFileSync(clean, text.split('\n').filter((l) => !l.includes('test_borrowed_ref_deep_nesting')).join('\n'));
    expect((await runCli(['analyze', '--quiet', clean])).code).toBe(0);
    const lost = new URL('../../traces/fault.lost-record.reserved-count.log', import.meta.url).pathname;
    expect((await runCli(['analyze', '--quiet', lost])).code).toBe(0);
    expect((await runCli(['analyze', '--quiet', '--fail-on', 'warning', lost])).code).toBe(1);
  });

  it('a log without any @btrace line is exit 2, unless --allow-empty', async () => {
    const empty = `${dir}/empty.log`;
    writeFileSync(empty, 'Compiling\nall tests passed\nsomeone@btrace.example.org\n');
    const r = await runCli(['analyze', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no @btrace records found in .*empty\.log/);
    const ok = await runCli(['analyze', '--allow-empty', empty]);
    expect(ok.code).toBe(0);
  });

  it('the README CI snippet runs the command these tests run', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(snippet).toContain('npx bridge-trace analyze --format github --junit bridge-trace.xml');
    expect(snippet).toContain('cargo test 2>&1 | tee test.log');
  });
});
