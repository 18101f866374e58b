import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { encodeFrame, encodeHeader, openTrace } from '../../src/trace/index.js';

const RECORDS = 200_000;
/** A 192-byte message, so that holding every record would cost far more than the bound below. */
const DATA = Buffer.alloc(192, 7).toString('base64');

/** A log of RECORDS records interleaved with noise, produced lazily in 64 KiB chunks: never all in memory. */
function hugeLog(): Readable {
  function* chunks(): Generator<Buffer> {
    let batch: string[] = [];
    let size = 0;
    for (let seq = 1; seq <= RECORDS; seq++) {
      const line =
        seq % 10 === 0
          ? `2026-11-24T03:51:04Z INFO unrelated log line number ${seq}\n`
          : `2026-11-24T03:51:04Z INFO webview: @btrace side=js seq=${seq} t=${seq * 3} dir=${seq % 2 ? 'r2j' : 'j2r'} data=${DATA}\n`;
      batch.push(line);
      size += line.length;
      if (size >= 64 * 1024) {
        yield Buffer.from(batch.join(''));
        batch = [];
        size = 0;
      }
    }
    yield Buffer.from(batch.join(''));
  }
  return Readable.from(chunks(), { objectMode: false });
}

describe('streaming', () => {
  it(`reads ${RECORDS} lines with flat memory`, async () => {
    // Message bytes live in ArrayBuffers, which heapUsed does not count.
    const used = (): number => {
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const before = used();
    let messages = 0;
    let peak = before;
    let lastLine = 0;
    for await (const record of openTrace('-', { stdin: hugeLog() })) {
      if (record.kind === 'message') messages++;
      lastLine = record.loc.line ?? 0;
      if (messages % 10_000 === 0) peak = Math.max(peak, used());
    }
    expect(messages).toBe(RECORDS - RECORDS / 10);
    expect(lastLine).toBe(RECORDS - 1);
    // Holding the records would take > 80 MB (180k records with 192-byte messages); garbage
    // that the young generation has not collected yet stays well below that.
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  }, 10_000);

  it('reads a large binary trace with flat memory, through gzip', async () => {
    const frames = 100_000;
    const data = new Uint8Array(192).fill(3);
    // Batched into ~64 KiB chunks: zlib handles each write as a separate job.
    function* chunks(): Generator<Buffer> {
      let batch: Uint8Array[] = [encodeHeader({ rev: 'explicit-ids', side: 'rust' })];
      for (let seq = 1; seq <= frames; seq++) {
        batch.push(encodeFrame({ kind: 'message', dir: seq % 2 ? 'r2j' : 'j2r', side: 'rust', seq, data, loc: { input: '' } }));
        if (batch.length === 256) {
          yield Buffer.concat(batch);
          batch = [];
        }
      }
      yield Buffer.concat(batch);
    }
    const gzipped = Readable.from(chunks(), { objectMode: false }).pipe(createGzip({ level: 1 }));
    const used = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = used();
    let peak = before;
    let count = 0;
    for await (const record of openTrace('-', { stdin: gzipped })) {
      if (record.kind === 'message' && record.seq === ++count && count % 10_000 === 0) peak = Math.max(peak, used());
    }
    expect(count).toBe(frames);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  }, 10_000);
});
