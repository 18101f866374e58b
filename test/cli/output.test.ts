import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/** One vocabulary (issue 13 item 5): -o everywhere, the format from the extension, one form for callbacks. */

const dir = mkdtempSync(join(tmpdir(), 'btrace-output-'));
const LEGACY = 'traces/deep-nesting.legacy.batch.log';
const CLEAN = 'traces/deep-nesting.reserved-count.batch.log';

describe('-o FILE on every command that writes a report, the format from its extension', () => {
  it('analyze: .json is JSON, anything else the text report, never coloured', async () => {
    const j = join(dir, 'r.json');
    expect((await runCli(['analyze', LEGACY, '-o', j], { env: { FORCE_COLOR: '1' } })).code).toBe(1);
    expect(JSON.parse(readFileSync(j, 'utf8')).version).toBe(1);
    const t = join(dir, 'r.txt');
    const r = await runCli(['analyze', LEGACY, '-o', t], { env: { FORCE_COLOR: '1' } });
    expect(r.stdout).toBe('');
    const text = readFileSync(t, 'utf8');
    expect(text).toContain('error[placeholder-id-mismatch]');
    expect(text).not.toContain('\x1b[');
    const forced = join(dir, 'forced.json');
    await runCli(['analyze', LEGACY, '--format', 'text', '-o', forced]);
    expect(readFileSync(forced, 'utf8')).toMatch(/^bridge-trace analyze/);
  });

  it('dump: .ndjson/.jsonl/.json are NDJSON; --format json too', async () => {
    for (const ext of ['ndjson', 'jsonl', 'json']) {
      const f = join(dir, `d.${ext}`);
      expect((await runCli(['dump', CLEAN, '-o', f])).code).toBe(0);
      for (const line of readFileSync(f, 'utf8').trim().split('\n')) JSON.parse(line);
    }
    const r = await runCli(['dump', CLEAN, '--format', 'json']);
    for (const line of r.stdout.trim().split('\n')) JSON.parse(line);
  });

  it('diff: .json is JSON; timeline: .csv is CSV and .svg the chart, whatever --format is not given', async () => {
    const d = join(dir, 'd.json');
    expect((await runCli(['diff', CLEAN, LEGACY, '-o', d])).code).toBe(1);
    expect(JSON.parse(readFileSync(d, 'utf8')).equivalent).toBe(false);
    const csv = join(dir, 't.csv');
    expect((await runCli(['timeline', LEGACY, '-o', csv])).code).toBe(0);
    expect(readFileSync(csv, 'utf8')).toMatch(/^bucket,msg_from,msg_to,/);
    const svg = join(dir, 't.svg');
    expect((await runCli(['timeline', LEGACY, '-o', svg])).code).toBe(0);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg /);
    const html = join(dir, 'forced.csv');
    await runCli(['timeline', LEGACY, '-o', html, '--format', 'html']);
    expect(readFileSync(html, 'utf8')).toMatch(/^<!DOCTYPE html>/);
  });

  it('an -o that cannot be written is one line, exit 2, before any replay', async () => {
    for (const args of [['analyze', LEGACY], ['dump', LEGACY], ['diff', CLEAN, LEGACY]]) {
      const r = await runCli([...args, '-o', '/nonexistent/dir/out.json']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('error: -o /nonexistent/dir/out.json: no such directory /nonexistent/dir\n');
    }
  });
});

describe('one human form for callbacks', () => {
  it('dump, analyze and diff --exact-ids say "callback 1v1"; diff by creation order "callback k1"; none says "cb "', async () => {
    const dump = (await runCli(['dump', LEGACY])).stdout;
    const analysis = (await runCli(['analyze', LEGACY])).stdout;
    const json = (await runCli(['analyze', '--json', LEGACY])).stdout;
    const diff = (await runCli(['diff', CLEAN, LEGACY])).stdout;
    const exact = (await runCli(['diff', '--exact-ids', LEGACY, LEGACY])).stdout;
    expect(dump).toContain('cast(callback 1v1)');
    expect(analysis).toContain('cast(callback 1v1)');
    expect(json).toContain('the J-Eval (callback 1v1) of msg 2');
    expect(diff).toContain('callback k1(&127)');
    for (const out of [dump, analysis, json, diff, exact]) {
      expect(out).not.toMatch(/\bcb \S/);
      expect(out).not.toContain('4294967297');
    }
  });
});
