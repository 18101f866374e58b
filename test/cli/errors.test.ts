import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { analyze } from '../../src/replay/index.js';
import { findingsBySession } from '../../src/report/ci-sessions.js';
import { clip } from '../../src/report/github.js';
import { junitXml } from '../../src/report/junit.js';
import { openTrace } from '../../src/trace/source.js';
import { runCli } from '../helpers/cli.js';

/** Small errors (issue 13 item 7): each is one line on stderr and exit 2, or a quiet end. */

const dir = mkdtempSync(join(tmpdir(), 'btrace-errors-'));
const SAMPLE = 'traces/many-callbacks.legacy-freelist.batch.log';

/** stdout that takes one chunk and then behaves like a pipe whose reader exited (`| head -1`). */
function closingPipe(): { stream: Writable; got: () => string } {
  let first = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (first === '') {
        first = chunk.toString('utf8');
        cb();
        return;
      }
      const e = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' });
      cb(e);
    },
  });
  return { stream, got: () => first };
}

async function runWith(stdout: Writable, args: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await main(args, { stdout, stderr, stdin: Readable.from([]), env: { NO_COLOR: '1' }, stdoutIsTTY: false, stderrIsTTY: false });
  return { code, stderr: Buffer.concat(err).toString('utf8') };
}

describe('a closed pipe ends the command quietly', () => {
  // Large enough that each command writes more than one chunk.
  const LONG = join(dir, 'long.log');
  for (const args of [['dump', '--json', LONG], ['dump', LONG], ['analyze', '--json', LONG], ['simulate', 'stress', '--messages', '3000', '-o', '-']]) {
    it(args.join(' ').replace(dir, '…'), async () => {
      if (!existsSync(LONG)) expect((await runCli(['simulate', 'many-callbacks', '--rev', 'legacy-freelist', '--messages', '100', '-o', LONG])).code).toBe(0);
      const pipe = closingPipe();
      const r = await runWith(pipe.stream, args);
      expect(r.stderr).toBe('');
      expect(r.code).not.toBe(2);
      expect(pipe.got().length).toBeGreaterThan(0);
    });
  }
});

describe('files named by options: one-line usage errors', () => {
  it('--js-heap nope.ts', async () => {
    const r = await runCli(['analyze', SAMPLE, '--js-heap', join(dir, 'nope.ts')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`error: --js-heap ${join(dir, 'nope.ts')}: no such file\n`);
  });
  it('--junit /nonexistent/x.xml, before any replay', async () => {
    const r = await runCli(['analyze', SAMPLE, '--junit', '/nonexistent/x.xml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: --junit /nonexistent/x.xml: no such directory /nonexistent\n');
    expect(r.stdout).toBe('');
  });
  it('--symbols missing.json', async () => {
    const r = await runCli(['analyze', SAMPLE, '--symbols', join(dir, 'missing.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no such file');
  });
});

describe('the same log given twice', () => {
  it('the same path twice, or a copy of it, is refused; a Rust log and a JS log are not', async () => {
    const a = await runCli(['analyze', SAMPLE, SAMPLE]);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe(`error: ${SAMPLE} is given twice: give one log, or a Rust-side log and a JS-side log\n`);
    expect(a.stdout).not.toContain('double-free');
    const copy = join(dir, 'copy.log');
    copyFileSync(SAMPLE, copy);
    const b = await runCli(['analyze', SAMPLE, copy]);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('are the same log');
    const t = await runCli(['timeline', SAMPLE, SAMPLE, '-o', join(dir, 't.html')]);
    expect(t.code).toBe(2);
    const lines = readFileSync(SAMPLE, 'utf8').split('\n');
    writeFileSync(join(dir, 'rust.log'), lines.filter((l) => l.includes('side=rust')).join('\n') + '\n');
    writeFileSync(join(dir, 'js.log'), lines.filter((l) => l.includes('side=js')).join('\n') + '\n');
    const c = await runCli(['analyze', '--json', join(dir, 'rust.log'), join(dir, 'js.log')]);
    expect(c.code).toBe(1);
    expect(JSON.parse(c.stdout).summary.sessions).toBe(1);
  });
});

describe('wording', () => {
  it('a session with nothing to guess from is not "guessed from the bytes"', async () => {
    const f = join(dir, 'tiny.log');
    writeFileSync(f, '@btrace side=rust seq=1 data=AAAA\n');
    const r = await runCli(['analyze', f]);
    expect(r.stdout).toContain('reserved-count (assumed: nothing to guess from)');
    expect(r.stdout).not.toContain('guessed from the bytes');
  });

  it('step-summary cells are cut at a word, with an ellipsis', () => {
    const long = 'word '.repeat(100).trim();
    const c = clip(long, 40);
    expect(c.length).toBeLessThanOrEqual(40);
    expect(c.endsWith('word…')).toBe(true);
    expect(clip('short', 40)).toBe('short');
  });

  it('JUnit: one failure per test case, listing every error in its body', async () => {
    const r = await analyze(openTrace('traces/fault.callback-params-as-placeholders.reserved-count.log'));
    const xml = junitXml(findingsBySession(r, ['f.log']));
    expect(xml.match(/<failure /g)).toHaveLength(1);
    const errors = r.findings.filter((f) => f.severity === 'error').length;
    expect(xml).toContain(`message="${errors} errors; first reservation-underfilled`);
    expect(xml.match(/error\[/g)).toHaveLength(errors);
  });
});
