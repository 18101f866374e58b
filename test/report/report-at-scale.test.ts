import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { wrapLine, visibleLength } from '../../src/report/wrap.js';
import { runCli } from '../helpers/cli.js';

/**
 * The report at any size (issue 13 items 3, 4, 6): a stress log of several hundred sessions,
 * one after another, read as a user would.
 */

const dir = mkdtempSync(join(tmpdir(), 'btrace-scale-'));
const BIG = join(dir, 'stress.log.gz');
// Fewer sessions, for the runs that only need several.
const SMALL = join(dir, 'small.log.gz');
const LONG = join(dir, 'many-callbacks.log');
let text = '';
let small: typeof doc;
let doc: { findings: Array<{ id: string; kind: string; causedBy?: number; causedById?: string; location: { ctx?: string } }>; sessions: Array<{ ctx?: string }> };

beforeAll(async () => {
  expect((await runCli(['simulate', 'stress', '--messages', '40000', '--seed', '7', '-o', BIG])).code).toBe(0);
  expect((await runCli(['simulate', 'many-callbacks', '--rev', 'legacy-freelist', '--messages', '100', '-o', LONG])).code).toBe(0);
  expect((await runCli(['simulate', 'stress', '--messages', '6000', '--seed', '7', '-o', SMALL])).code).toBe(0);
  text = (await runCli(['analyze', BIG])).stdout;
  doc = JSON.parse((await runCli(['analyze', '--json', BIG])).stdout);
  small = JSON.parse((await runCli(['analyze', '--json', SMALL])).stdout);
}, 120_000);

const lines = (): string[] => text.split('\n');

describe('scale', () => {
  it('the verdict comes first, then the tables; the report stays short', () => {
    expect(doc.sessions.length).toBeGreaterThan(256);
    const l = lines();
    expect(l[1]).toMatch(/^✖ [\d,]+ root causes, [\d,]+ consequences .* in [\d,]+ messages, [\d,]+ sessions$/);
    expect(l.indexOf('by kind')).toBeGreaterThan(1);
    expect(l.findIndex((x) => x.startsWith('by session'))).toBeGreaterThan(l.indexOf('by kind'));
    expect(l.findIndex((x) => x.startsWith('errors ('))).toBeGreaterThan(l.findIndex((x) => x.startsWith('by session')));
    expect(l.length).toBeLessThan(150);
  });

  it('no per-session note repeated: tallied, and true (sessions ran one after another)', () => {
    expect(text).not.toContain('sessions were active at once');
    const notes = lines().filter((x) => x.includes('note:'));
    expect(notes.length).toBeLessThanOrEqual(10);
    expect(notes.some((x) => /\([\d,]+ sessions\) ended when idle/.test(x))).toBe(true);
  });

  it('the same root kind across sessions is one group, with a count and the first places', () => {
    const kinds = new Map<string, number>();
    for (const f of doc.findings) if (f.causedBy === undefined) kinds.set(f.kind, (kinds.get(f.kind) ?? 0) + 1);
    for (const [kind, n] of kinds) {
      const heads = lines().filter((x) => x.startsWith(`  error[${kind}]`));
      expect(heads, kind).toHaveLength(1);
      if (n > 1) expect(heads[0]).toContain(`×${n}`);
    }
    expect(text).toMatch(/ {4}also at:\n {6}\S/);
    expect(text).toMatch(/… [\d,]+ more use-after-free \(--kind use-after-free lists them\)/);
  });

  it('--max-findings caps the roots printed and says how many were left out', async () => {
    const r = await runCli(['analyze', '--max-findings', '2', SMALL]);
    const printed = r.stdout.split('\n').filter((x) => x.startsWith('  error[') || /^ {6}[^·\s].* id [0-9a-f]{6}$/.test(x));
    expect(printed.length).toBeLessThanOrEqual(2);
    expect(r.stdout).toMatch(/… [\d,]+ more root causes not shown: .*--max-findings N shows more/);
  });

  it('--quiet: the verdict and one line per kind', async () => {
    const r = await runCli(['analyze', '--quiet', SMALL]);
    const kinds = new Set(small.findings.filter((f) => f.causedBy === undefined).map((f) => f.kind));
    expect(r.stdout.trim().split('\n')).toHaveLength(1 + kinds.size);
  });

  it('--format github: at most 10 annotations; the step summary has the table by kind', async () => {
    const summary = join(dir, 'summary.md');
    writeFileSync(summary, '');
    const r = await runCli(['analyze', '--format', 'github', SMALL], { env: { GITHUB_STEP_SUMMARY: summary } });
    const annotations = r.stdout.split('\n').filter((x) => x.startsWith('::'));
    expect(annotations.length).toBeGreaterThan(0);
    expect(annotations.length).toBeLessThanOrEqual(10);
    expect(annotations[0]).toMatch(/title=bridge-trace use-after-free ×\d+ in \d+ sessions \(first%3A stress-\d+\)::/);
    const md = readFileSync(summary, 'utf8');
    expect(md).toContain('| kind | severity | root findings | sessions | first place |');
    expect(md).toMatch(/\| `use-after-free` \| error \| \d+ \| \d+ \|/);
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(64 * 1024);
  });

  it('progress on a terminal: messages with a percentage of the bytes read; none when not a terminal', async () => {
    const run = async (tty: boolean): Promise<string> => {
      const err: Buffer[] = [];
      const stderr = new PassThrough();
      stderr.on('data', (c: Buffer) => err.push(c));
      await main(['analyze', '--quiet', SMALL], { stdout: new PassThrough().resume(), stderr, stdin: Readable.from([]), env: { NO_COLOR: '1' }, stdoutIsTTY: false, stderrIsTTY: tty });
      return Buffer.concat(err).toString('utf8');
    };
    const tty = await run(true);
    expect(tty).toMatch(/replaying… [\d,]+ records(, \d+% \([\d.]+ [KM]iB of [\d.]+ [KM]iB read\))?/);
    if (process.platform === 'linux') expect(tty).toMatch(/\d+% \(/);
    expect(await run(false)).toBe('');
  });
});

describe('filters, IDs and --explain', () => {
  it('IDs are unique, stable across runs and independent of how the path is written', async () => {
    const ids = small.findings.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    const again = JSON.parse((await runCli(['analyze', '--json', resolve(SMALL)])).stdout) as typeof small;
    expect(again.findings.map((f) => f.id)).toEqual(ids);
    for (const f of small.findings) if (f.causedBy !== undefined) expect(f.causedById).toBe(ids[f.causedBy]);
  });

  it('--kind, --ctx and --session keep only those findings (text and JSON); a bad value is a usage error', async () => {
    const kind = await runCli(['analyze', '--json', '--kind', 'unknown-type-id', SMALL]);
    const k = JSON.parse(kind.stdout) as typeof small & { filtered: { shown: number; of: number } };
    expect(k.findings.length).toBeGreaterThan(0);
    expect(k.findings.every((f) => f.kind === 'unknown-type-id')).toBe(true);
    expect(k.filtered).toEqual({ shown: k.findings.length, of: small.findings.length });
    const ctx = small.findings[0]!.location.ctx!;
    const c = await runCli(['analyze', '--ctx', ctx, SMALL]);
    expect(c.stdout).toContain(`filter: ctx=${ctx}: `);
    expect(c.stdout.split('\n').filter((x) => / ctx=stress-\d+ /.test(x)).every((x) => x.includes(` ctx=${ctx} `))).toBe(true);
    const n = small.sessions.findIndex((s) => s.ctx === ctx) + 1;
    const s = await runCli(['analyze', '--json', '--session', String(n), SMALL]);
    expect((JSON.parse(s.stdout) as typeof small).findings.every((f) => f.location.ctx === ctx)).toBe(true);
    for (const bad of [['--kind', 'nope'], ['--ctx', 'nope'], ['--session', '99999']]) {
      const r = await runCli(['analyze', ...bad, SMALL]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('--explain ID: the finding in full and the records around it, decoded, its own marked', async () => {
    const r = await runCli(['analyze', '--json', LONG]);
    const late = (JSON.parse(r.stdout) as typeof small).findings.find((f) => f.kind === 'double-free')!;
    const e = await runCli(['analyze', '--explain', late.id, LONG]);
    expect(e.code).toBe(1);
    expect(e.stdout).toMatch(/^error\[double-free\]/);
    expect(e.stdout).toContain(`id ${late.id}`);
    expect(e.stdout).toContain('(msg 7, which js ran after msg 607)');
    expect(e.stdout).toMatch(/▶ +R-Eval rust→js js #607/);
    expect(e.stdout).toContain('drop_heap_ref(141)');
    expect((await runCli(['analyze', '--explain', 'ffffff', LONG])).code).toBe(2);
  });

  it('dump --msg 7 shows both copies of msg 7, numbered, as the finding names it', async () => {
    const r = await runCli(['dump', '--msg', '7', LONG]);
    expect(r.stdout).toMatch(/R-Eval rust→js msg 7 rust #7 /);
    expect(r.stdout).toMatch(/R-Eval rust→js msg 7 js #607 /);
    const j = await runCli(['dump', '--json', '--msg', '7', LONG]);
    const msgs = j.stdout.trim().split('\n').map((x) => JSON.parse(x) as { message?: number; seq?: number }).filter((x) => x.message !== undefined);
    expect(msgs.map((x) => [x.message, x.seq])).toEqual([[7, 7], [7, 607]]);
    expect((await runCli(['dump', '--msg', '7', '-'], { stdin: readFileSync(LONG) })).code).toBe(2);
  });

  it('timeline charts one session of a multi-session log and lists the others; --ctx picks; diff --ctx', async () => {
    const html = join(dir, 't.html');
    const t = await runCli(['timeline', SMALL, '-o', html]);
    expect(t.code).toBe(0);
    expect(t.stderr).toMatch(/note: \d+ sessions in .*: charting ctx=stress-\d+ \(the session of the first divergence\)/);
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('Session charted');
    expect(page).toMatch(/bridge-trace timeline .* --ctx stress-\d+ -o stress-\d+\.html/);
    const one = await runCli(['timeline', SMALL, '--ctx', 'stress-2', '-o', join(dir, 'one.html')]);
    expect(one.code).toBe(0);
    expect(readFileSync(join(dir, 'one.html'), 'utf8')).not.toContain('Session charted');
    const d = await runCli(['diff', '--json', '--ctx', 'stress-2', SMALL, SMALL]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout).equivalent).toBe(true);
  });
});

describe('diagnostics like rustc', () => {
  it('headline of about 100 columns, --> location, = message, provenance, = help: with the docs link', () => {
    const heads = lines().filter((x) => /^ {2}(error|warning|info)\[/.test(x));
    expect(heads.length).toBeGreaterThan(0);
    for (const h of heads) expect(visibleLength(h)).toBeLessThanOrEqual(106);
    expect(text).toMatch(/\n {4}--> \S+:\d+ ctx=stress-\d+ js#\d+.* id [0-9a-f]{6}\n {4}= /);
    expect(text).toMatch(/\n {4}= help: .+ \(docs\/findings\.md#use-after-free\)\n/);
  });

  it('provenance lines are not dimmed', async () => {
    const r = await runCli(['analyze', 'traces/deep-nesting.legacy.batch.log'], { env: { FORCE_COLOR: '1' } });
    const prov = r.stdout.split('\n').filter((x) => x.includes('rust #136: result of op 1'));
    expect(prov).toHaveLength(1);
    expect(prov[0]).not.toContain('\x1b[2m');
  });

  it('long lines wrap to the terminal width at spaces', () => {
    const line = `    = ${'word '.repeat(60).trim()}`;
    const wrapped = wrapLine(line, 80);
    expect(wrapped.length).toBeGreaterThan(3);
    for (const w of wrapped) expect(w.length).toBeLessThanOrEqual(80);
    expect(wrapped.slice(1).every((w) => w.startsWith('        word'))).toBe(true);
    expect(wrapped.join(' ').replace(/\s+/g, ' ')).toBe(line.replace(/\s+/g, ' '));
  });

  it('a single bad record is an unreadable record in the verdict, not a root cause', async () => {
    const f = join(dir, 'one-bad.log');
    writeFileSync(f, readFileSync('traces/deep-nesting.reserved-count.batch.log', 'utf8').replace(/data=[A-Za-z0-9+/=]+/, 'data=!!!!'));
    const r = await runCli(['analyze', f]);
    const verdict = r.stdout.split('\n')[1]!;
    expect(verdict).toContain('1 unreadable record');
    expect(verdict).not.toMatch(/1 root cause\b/);
  });
});
