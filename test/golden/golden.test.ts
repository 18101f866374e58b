import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

/**
 * Golden check: the full `analyze --json` and `dump --json` output of every sample trace, as it was when the
 * file under test/golden/out/ was written. A change that alters any finding, location or decoded value shows
 * up here as a diff; when the change is intended, rewrite the files with `UPDATE_GOLDEN=1 npx vitest run
 * test/golden` and say why in the commit.
 */
const tracesDir = new URL('../../traces/', import.meta.url).pathname;
const outDir = new URL('./out/', import.meta.url).pathname;
const update = process.env.UPDATE_GOLDEN === '1';
const samples = readdirSync(tracesDir).filter((f) => f.endsWith('.log') || f.endsWith('.btrace')).sort();

const commands: Array<[string, string[]]> = [
  ['analyze', ['analyze', '--json']],
  ['dump', ['dump', '--json']],
];

describe('golden --json output of the sample traces', () => {
  it('finds the samples', () => {
    expect(samples.length).toBeGreaterThan(10);
  });
  for (const file of samples) {
    for (const [name, args] of commands) {
      it(`${name} ${file}`, async () => {
        const run = await runCli([...args, `traces/${file}`]);
        expect(run.code).toBeLessThan(2);
        const golden = `${outDir}${file}.${name}.json`;
        if (update) {
          mkdirSync(outDir, { recursive: true });
          writeFileSync(golden, run.stdout);
        }
        expect(run.stdout).toBe(readFileSync(golden, 'utf8'));
      });
    }
  }
});
