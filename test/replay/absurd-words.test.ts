import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleForChild } from '../helpers/bundle.js';
import { rng } from '../helpers/rng.js';

/**
 * Property: no count, length or ID read off the wire drives work beyond what the input justifies. Every
 * sample gets seeded variants in which one word of one record's frame header or u32 prelude is replaced by
 * an absurd value (a reservation of 2^30 placeholders, a length of 4 GiB, ...); analyze, timeline and diff
 * must each finish quickly on every variant. They run in a child process with a deadline, because a
 * synchronous loop over a huge range would also stop this process's own timers.
 */
const tracesDir = new URL('../../traces/', import.meta.url).pathname;
const samples = readdirSync(tracesDir).filter((f) => f.endsWith('.log')).sort();
const ABSURD = [0xffffffff, 0x40000000, 0x7fffffff, 0x80000000, 0x00100000];
const VARIANTS_PER_SAMPLE = 6;
/** Generous: each run takes a few milliseconds; a loop driven by a wire count takes seconds or never ends. */
const PER_RUN_MS = 3000;

const dataField = /data=([A-Za-z0-9+/=]+)/;

function variantsOf(text: string, seed: number): string[] {
  const lines = text.split('\n');
  const records = lines.map((l, i) => [i, dataField.exec(l)] as const).filter(([, m]) => m !== null);
  const next = rng(seed);
  const out: string[] = [];
  for (let v = 0; v < VARIANTS_PER_SAMPLE && records.length > 0; v++) {
    const [lineNo, match] = records[Math.floor(next() * records.length)]!;
    const bytes = Buffer.from(match![1]!, 'base64');
    const words = Math.min(6, Math.floor(bytes.length / 4));
    if (words === 0) continue;
    const at = Math.floor(next() * words) * 4;
    const value = next() < 0.8 ? ABSURD[Math.floor(next() * ABSURD.length)]! : Math.floor(next() * 0x1_0000_0000);
    bytes.writeUInt32LE(value >>> 0, at);
    const copy = [...lines];
    copy[lineNo] = lines[lineNo]!.replace(match![1]!, bytes.toString('base64'));
    out.push(copy.join('\n'));
  }
  return out;
}

describe('absurd header and prelude words finish quickly in analyze, timeline and diff', () => {
  let child = '';
  beforeAll(async () => {
    child = await bundleForChild(new URL('./absurd-words.child.ts', import.meta.url).pathname);
  }, 60_000);

  it('includes the reserved-count word of 0x40000000 from the bug report', () => {
    const text = readFileSync(join(tracesDir, 'fault.callback-params-as-placeholders.reserved-count.log'), 'utf8');
    const line108 = text.split('\n')[107]!;
    expect(line108).toContain('side=js');
    expect(line108).toContain('HAAAABwAAAAeAAAAAAAAAB4A');
  });

  samples.forEach((sample, index) => {
    it(sample, () => {
      const dir = mkdtempSync(join(tmpdir(), 'bt-absurd-'));
      const text = readFileSync(join(tracesDir, sample), 'utf8');
      const files = variantsOf(text, 1000 + index).map((variant, i) => {
        const file = join(dir, `v${i}.log`);
        writeFileSync(file, variant);
        return file;
      });
      if (sample === 'fault.callback-params-as-placeholders.reserved-count.log') {
        const file = join(dir, 'reported.log');
        // Line 108, the JS side's copy of the message (line 107, the Rust side's, holds the same bytes).
        const lines = text.split('\n');
        lines[107] = lines[107]!.replace('HAAAABwAAAAeAAAAAAAAAB4A', 'HAAAABwAAAAeAAAAAAAAQB4A');
        writeFileSync(file, lines.join('\n'));
        files.push(file);
      }
      const deadline = 2000 * files.length + 10_000;
      const run = spawnSync(process.execPath, [child, join(tracesDir, sample), join(dir, 'out.html'), ...files], {
        encoding: 'utf8',
        timeout: deadline,
        cwd: new URL('../..', import.meta.url).pathname,
      });
      const done = run.stdout.split('\n').filter((l) => l.startsWith('ok '));
      const last = done.at(-1) ?? '(none)';
      expect(run.error, `child stopped after: ${last}\n${run.stderr}`).toBeUndefined();
      expect(run.status, run.stderr).toBe(0);
      expect(done).toHaveLength(files.length * 3);
      for (const line of done) {
        const [, file, command, ms] = line.split(' ');
        expect(Number(ms), `${command} ${file}`).toBeLessThan(PER_RUN_MS);
      }
    }, 120_000);
  });
});
