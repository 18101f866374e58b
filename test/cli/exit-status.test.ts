import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * Exit status and stderr agree across commands (issue 12 item 5): exit 2 always comes with an
 * error on stderr naming the file, in --json mode too, and timeline exits 2 where analyze does.
 */

const dir = mkdtempSync(join(tmpdir(), 'btrace-exit-'));
const sample = readFileSync('traces/deep-nesting.reserved-count.batch.log', 'utf8');

const inputs: Record<string, string> = {
  'only-bad.log': sample
    .split('\n')
    .filter((l) => l.includes('data='))
    .map((l) => l.replace(/data=\S+/, 'data=@@@@'))
    .join('\n'),
  'empty.log': '',
  'noise.log': 'hello\nworld\n',
  'cut.log': sample.slice(0, 40),
};
for (const [name, text] of Object.entries(inputs)) writeFileSync(join(dir, name), text);
mkdirSync(join(dir, 'a-directory'));
const files = [...Object.keys(inputs), 'a-directory', 'missing.log'].map((n) => join(dir, n));

const commands = (f: string): string[][] => [
  ['analyze', f],
  ['analyze', '--json', f],
  ['timeline', f, '-o', join(dir, 'out.html')],
  ['dump', f],
  ['dump', '--json', f],
  ['diff', f, 'traces/deep-nesting.reserved-count.batch.log'],
  ['diff', '--json', f, 'traces/deep-nesting.reserved-count.batch.log'],
];

describe('exit 2 always says why, naming the file', () => {
  for (const f of files) {
    it(f.slice(dir.length + 1), async () => {
      const codes: Record<string, number> = {};
      for (const args of commands(f)) {
        const r = await runCli(args);
        codes[args.slice(0, 2).join(' ')] = r.code;
        if (r.code !== 2) continue;
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
        expect(errors.length, `${args.join(' ')}: ${r.stderr}`).toBeGreaterThan(0);
        expect(errors.some((l) => l.includes(f)), `${args.join(' ')}: ${r.stderr}`).toBe(true);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      // timeline exits 2 exactly where analyze does.
      expect(codes[`timeline ${f}`] === 2).toBe(codes[`analyze ${f}`] === 2);
    });
  }
});
