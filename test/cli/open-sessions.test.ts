import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// Three copies of one clean session, interleaved record by record under three ctx labels.
const lines = readFileSync('traces/deep-nesting.reserved-count.batch.log', 'utf8').split('\n').filter((l) => l.startsWith('@btrace'));
const interleaved = lines.flatMap((l) => ['a', 'b', 'c'].map((ctx) => l.replace(/^@btrace (meta )?/, (m) => `${m}ctx=${ctx} `)));
const file = join(mkdtempSync(join(tmpdir(), 'btrace-open-')), 'three.log');
writeFileSync(file, interleaved.join('\n') + '\n');

interface Report {
  sessions: Array<{ ctx: string; notes: string[] }>;
  summary: { sessions: number; findings: number };
}

const run = async (...extra: string[]): Promise<{ code: number; report: Report }> => {
  const r = await runCli(['analyze', '--json', ...extra, file]);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
};

describe('analyze --max-open-sessions', () => {
  it('replays interleaved sessions together under the default', async () => {
    const { code, report } = await run();
    expect(code).toBe(0);
    expect(report.summary).toMatchObject({ sessions: 3, findings: 0 });
    expect(report.sessions.flatMap((s) => s.notes)).toEqual([]);
  });

  it('ends the least recently seen past the limit, and a ctx seen again says it started over', async () => {
    const { report } = await run('--max-open-sessions', '2');
    expect(report.summary.sessions).toBeGreaterThan(3);
    const notes = report.sessions.flatMap((s) => s.notes);
    expect(notes.some((n) => n.startsWith('ended when idle: 2 newer sessions'))).toBe(true);
    expect(notes.some((n) => n.startsWith('this ctx was seen before'))).toBe(true);
  });

  it('rejects a limit that is not a positive integer', async () => {
    const r = await runCli(['analyze', '--max-open-sessions', '0', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/max-open-sessions/);
  });
});
