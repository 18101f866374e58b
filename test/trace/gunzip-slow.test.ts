import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gunzip, isGzipDamage } from '../../src/trace/gunzip.js';
import { openTraceBatches } from '../../src/trace/source.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Text that compresses about 10:1, so that one member is many slices and output chunks. */
function sampleText(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `line ${i} ${((i * 2654435761) >>> 0).toString(36)} ${'x'.repeat(i % 50)}\n`;
    lines.push(line);
    size += line.length;
  }
  return Buffer.from(lines.join(''));
}

const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

describe('gunzip with a slow reader', () => {
  it('delivers every byte when the reader waits between chunks (zlib ends while it waits)', async () => {
    const plain = sampleText(4 << 20);
    const packed = gzipSync(plain);
    const source = Readable.from([packed.subarray(0, packed.length >> 1), packed.subarray(packed.length >> 1)]);
    const out: Buffer[] = [];
    let n = 0;
    for await (const item of gunzip(source)) {
      expect(isGzipDamage(item), isGzipDamage(item) ? item.message : '').toBe(false);
      if (!isGzipDamage(item)) out.push(Buffer.from(item));
      if (++n % 3 === 0) await pause();
    }
    expect(Buffer.concat(out).equals(plain)).toBe(true);
  });

  it('a trace read by a consumer that waits (a piped dump) has every record', async () => {
    const lines: string[] = [];
    for (let i = 1; i <= 40_000; i++) lines.push(`@btrace side=rust seq=${i} ctx=slow dir=r2j data=${Buffer.from(`message ${i} ${'y'.repeat(i % 40)}`).toString('base64')}`);
    const dir = mkdtempSync(join(tmpdir(), 'bt-slow-'));
    const file = join(dir, 'slow.log.gz');
    writeFileSync(file, gzipSync(lines.join('\n') + '\n'));
    let records = 0;
    let bad = 0;
    let batches = 0;
    for await (const batch of openTraceBatches(file)) {
      for (const r of batch) (r.kind === 'bad' ? bad++ : records++);
      if (++batches % 2 === 0) await pause();
    }
    expect({ records, bad }).toEqual({ records: 40_000, bad: 0 });
  });
});
