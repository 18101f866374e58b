import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Finding } from '../../src/replay/findings.js';
import { runCli } from '../helpers/cli.js';

/**
 * Issue 12, item 3: in a session recorded by both sides, a damaged record whose side cannot be read
 * (`side=JS`, a zero-length `.btrace` frame) is a finding at its own place, never only a note, and what
 * follows from it is its consequence, not a root blamed on something else. The side it belongs to is the
 * one whose seq numbers show the gap it fills; its message is then restored from the other side's copy.
 */
const dir = mkdtempSync(join(tmpdir(), 'bt-unsided-'));
const samples = ['deep-nesting.reserved-count.batch.log', 'mixed-returns.evaluate-id.batch.log', 'fault.misrouted-respond.reserved-count.log'];

interface Report {
  findings: Array<Finding & { id: string; causedById?: string }>;
}

async function analyzeJson(file: string): Promise<Report> {
  const run = await runCli(['analyze', '--json', file]);
  expect(run.code, run.stderr).toBeLessThan(2);
  return JSON.parse(run.stdout) as Report;
}

const rootsOf = (r: Report): string[] => r.findings.filter((f) => f.causedById === undefined).map((f) => f.kind).sort();

describe('a record of unknown side in a two-sided session', () => {
  for (const sample of samples) {
    it(`${sample}: every line with its side= unreadable is one bad record at that line, nearly always restored from the other side`, async () => {
      const text = readFileSync(new URL(`../../traces/${sample}`, import.meta.url), 'utf8');
      const lines = text.split('\n');
      const clean = await analyzeJson(`traces/${sample}`);
      const cleanRoots = rootsOf(clean);
      let tried = 0;
      let restored = 0;
      for (let i = 0; i < lines.length; i++) {
        const m = /^@btrace side=(rust|js) /.exec(lines[i]!);
        if (!m) continue;
        tried++;
        const damaged = [...lines];
        damaged[i] = lines[i]!.replace(`side=${m[1]}`, `side=${m[1]!.toUpperCase()}`);
        const file = join(dir, `${sample}.${i + 1}.log`);
        writeFileSync(file, damaged.join('\n'));
        const r = await analyzeJson(file);
        const bad = r.findings.filter((f) => f.kind === 'bad-record');
        expect(bad, `line ${i + 1}`).toHaveLength(1);
        expect(bad[0]!.location.line, `line ${i + 1}`).toBe(i + 1);
        // Restored from the other side's copy: the rest of the analysis is the clean one's.
        if (bad[0]!.message.includes('restored from the other side')) {
          restored++;
          expect(rootsOf(r), `line ${i + 1}`).toEqual([...cleanRoots, 'bad-record'].sort());
          expect(r.findings.length, `line ${i + 1}`).toBe(clean.findings.length + 1);
        }
        const dump = await runCli(['dump', file]);
        expect(dump.code).toBe(1);
        expect(`${dump.stdout}${dump.stderr}`.split('\n').filter((l) => l.includes('bad side value')), `line ${i + 1}`).toHaveLength(1);
      }
      expect(tried).toBeGreaterThan(15);
      // Where the two copies of a message sit far apart in the two sides' orders, the damaged one is not
      // paired with its twin (it is then reported unrestored, with what its loss changed): a few lines only.
      expect(restored / tried).toBeGreaterThan(0.75);
    });
  }

  it('a zero-length .btrace frame between two records is a bad record at its offset; nothing else changes', async () => {
    const bin = join(dir, 'two-sided.btrace');
    const conv = await runCli(['convert', 'traces/deep-nesting.reserved-count.batch.log', '-o', bin]);
    expect(conv.code, conv.stderr).toBe(0);
    const bytes = readFileSync(bin);
    const starts: number[] = [];
    for (let at = 16 + bytes[11]!; at + 8 <= bytes.length; at += 12 + bytes.readUInt32LE(at + 4)) starts.push(at);
    const at = starts[10]!;
    const zero = Buffer.from([0xfb, 0x42, 0x54, 0x46, 0, 0, 0, 0]);
    const damagedFile = join(dir, 'zero-frame.btrace');
    writeFileSync(damagedFile, Buffer.concat([bytes.subarray(0, at), zero, bytes.subarray(at)]));
    const r = await analyzeJson(damagedFile);
    const bad = r.findings.filter((f) => f.kind === 'bad-record');
    expect(bad).toHaveLength(1);
    expect(bad[0]!.location.offset).toBe(at);
    expect(rootsOf(r)).toEqual(['bad-record']);
    expect(r.findings).toHaveLength(1);
  });
});
