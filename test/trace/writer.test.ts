import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  BINARY_MAGIC,
  convertTrace,
  createTraceWriter,
  deriveHeader,
  formatForPath,
  LinesTraceWriter,
  TraceInputError,
  TraceOutputError,
  type BadRecord,
} from '../../src/trace/index.js';
import { ByteSink, content, FIXTURE, message, meta, readBytes, sampleRecords, writeBinary, writeLines } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bridge-trace-writer-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('round trips', () => {
  it('lines → binary → lines reproduces every record and the same text', async () => {
    const text = await writeLines(sampleRecords());
    const fromLines = await readBytes(text);
    expect(fromLines.map(content)).toEqual(sampleRecords().map(content));
    const binary = await writeBinary(fromLines.map((r) => (r.kind === 'bad' ? expect.unreachable() : r)));
    const fromBinary = await readBytes(binary);
    expect(fromBinary.map(content)).toEqual(fromLines.map(content));
    const textAgain = await writeLines(fromBinary.map((r) => (r.kind === 'bad' ? expect.unreachable() : r)));
    expect(textAgain.toString('utf8')).toBe(text.toString('utf8'));
  });

  it('binary → lines → binary reproduces the file byte for byte', async () => {
    const header = { rev: 'reserved-count', side: 'js' } as const;
    const binary = await writeBinary(sampleRecords(), header);
    const lines = await writeLines((await readBytes(binary)).map((r) => (r.kind === 'bad' ? expect.unreachable() : r)));
    const again = await writeBinary((await readBytes(lines)).map((r) => (r.kind === 'bad' ? expect.unreachable() : r)), header);
    expect(again.equals(binary)).toBe(true);
  });

  it('writes the text a person expects', async () => {
    const text = (await writeLines(sampleRecords().slice(0, 3))).toString('utf8');
    expect(text).toBe(
      [
        '@btrace meta rev=reserved-count side=js ctx=wv1 fn.drop_heap_ref=12 fn.cast=3',
        `@btrace side=js seq=1 t=0 ctx=wv1 dir=r2j data=${FIXTURE.makeNode}`,
        `@btrace side=js seq=2 t=418 ctx=wv1 dir=j2r data=${FIXTURE.emptyRespond}`,
        '',
      ].join('\n'),
    );
  });
});

describe('writers', () => {
  it('chooses the container from the file name', () => {
    expect(formatForPath('run.btrace')).toEqual({ format: 'binary', gzip: false });
    expect(formatForPath('run.BTRACE.gz')).toEqual({ format: 'binary', gzip: true });
    expect(formatForPath('ci.log.gz')).toEqual({ format: 'lines', gzip: true });
    expect(formatForPath('ci.log')).toEqual({ format: 'lines', gzip: false });
    expect(formatForPath('btrace')).toEqual({ format: 'lines', gzip: false });
  });

  it('refuses records that would not read back', async () => {
    const writer = new LinesTraceWriter(new ByteSink());
    await expect(writer.write(message({ dir: 'r2j', data: '', ctx: 'two words' }))).rejects.toThrow(TypeError);
    await expect(writer.write({ ...message({ dir: 'r2j', data: '' }), dir: 'sideways' as 'r2j' })).rejects.toThrow(/bad dir/);
    await expect(writer.write(meta([['rev', 'a b']]))).rejects.toThrow(/rev value/);
    await expect(writer.write({ ...meta([['rev', 'legacy']]), side: 'js' })).rejects.toThrow(/disagree/);
  });

  it('respects backpressure: never buffers much beyond the high-water mark', async () => {
    let maxBuffered = 0;
    let received = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        setImmediate(done);
      },
    });
    const writer = new LinesTraceWriter(slow);
    const record = message({ dir: 'r2j', data: FIXTURE.makeNode, side: 'js', seq: 1 });
    for (let i = 0; i < 500; i++) {
      await writer.write(record);
      maxBuffered = Math.max(maxBuffered, slow.writableLength);
    }
    await writer.close();
    const lineLength = (await writeLines([record])).length;
    expect(received).toBe(500 * lineLength);
    expect(maxBuffered).toBeLessThanOrEqual(1024 + lineLength);
  });

  it('writes gzipped files that read back, and plain ones with the right magic', async () => {
    for (const name of ['out.btrace', 'out.btrace.gz', 'out.log', 'out.log.gz']) {
      const path = join(dir, name);
      const { format } = formatForPath(path);
      const writer = createTraceWriter(path, format, { rev: 'legacy' });
      for (const record of sampleRecords()) await writer.write(record);
      await writer.close();
      const raw = await readFile(path);
      const plain = name.endsWith('.gz') ? gunzipSync(raw) : raw;
      if (name.endsWith('.gz')) expect([raw[0], raw[1]], name).toEqual([0x1f, 0x8b]);
      expect(plain.subarray(0, 8).equals(Buffer.from(BINARY_MAGIC)), name).toBe(format === 'binary');
      expect((await readBytes(raw)).map(content), name).toEqual(sampleRecords().map(content));
    }
  });

  it('reports an unwritable output as TraceOutputError', async () => {
    const path = join(dir, 'no-such-dir', 'out.btrace');
    const writer = createTraceWriter(path, 'binary');
    await expect(
      (async () => {
        await writer.write(sampleRecords()[1]);
        await writer.close();
      })(),
    ).rejects.toBeInstanceOf(TraceOutputError);
    await expect(createTraceWriter(path, 'lines').close()).rejects.toMatchObject({ name: 'TraceOutputError', output: path, code: 'ENOENT' });
  });

  it('stores a rev the header cannot hold as unknown instead of failing', async () => {
    const file = await writeBinary([], { rev: 'a-revision-name-far-too-long-for-the-sixty-four-byte-header-field-x', side: 'js' });
    expect(file[11]).toBe(0);
    expect(file[10]).toBe(2);
  });

  it('can leave a caller-owned stream open', async () => {
    const sink = new ByteSink();
    const writer = createTraceWriter(sink, 'lines', {}, { end: false });
    await writer.write(sampleRecords()[1]);
    await writer.close();
    expect(sink.writableEnded).toBe(false);
    expect(sink.bytes.toString()).toMatch(/^@btrace side=js/);
  });
});

describe('convertTrace', () => {
  it('converts a log with noise and bad lines into binary and back, counting records', async () => {
    const log = [
      'CI step 3: running tests', // line 1; the records are lines 2-8
      (await writeLines(sampleRecords())).toString('utf8').trimEnd(),
      '[js] @btrace dir=r2j data=not*base64', // line 9
      'done',
    ].join('\n');
    const input = join(dir, 'ci.log');
    await writeFile(input, log);
    const bad: BadRecord[] = [];
    const binaryPath = join(dir, 'ci.btrace.gz');
    const toBinary = await convertTrace(input, binaryPath, { onBadRecord: (r) => bad.push(r) });
    expect(toBinary).toEqual({ records: 7, messages: 5, metas: 2, badRecords: 1 });
    expect(bad).toEqual([{ kind: 'bad', message: 'invalid base64 in data at character 4', dir: 'r2j', loc: { input, line: 9 } }]);

    const textPath = join(dir, 'back.log');
    expect(await convertTrace(binaryPath, textPath)).toEqual({ records: 7, messages: 5, metas: 2, badRecords: 0 });
    expect((await readFile(textPath)).equals(await writeLines(sampleRecords()))).toBe(true);
  });

  it('fills the binary header from the leading meta records, or keeps a binary input header', async () => {
    const input = join(dir, 'for-header.log');
    await writeFile(input, await writeLines(sampleRecords()));
    const out = new ByteSink();
    await convertTrace(input, out, { format: 'binary' });
    expect(out.bytes[10]).toBe(2); // side js
    expect(out.bytes.toString('latin1', 12, 12 + out.bytes[11])).toBe('reserved-count');

    const binaryIn = join(dir, 'header.btrace');
    await writeFile(binaryIn, await writeBinary(sampleRecords(), { rev: 'seq-id', side: 'both' }));
    const copy = new ByteSink();
    await convertTrace(binaryIn, copy, { format: 'binary' });
    expect(copy.bytes.equals(await readFile(binaryIn))).toBe(true);
  });

  it('derives rev only when the leading metas agree on one', () => {
    expect(deriveHeader([meta([['rev', 'legacy'], ['side', 'rust']]), meta([['rev', 'legacy'], ['side', 'js']])])).toEqual({
      rev: 'legacy',
      side: 'both',
    });
    expect(deriveHeader([meta([['rev', 'legacy']]), meta([['rev', 'seq-id']])])).toEqual({ rev: '', side: 'unknown' });
    expect(deriveHeader([])).toEqual({ rev: '', side: 'unknown' });
  });

  it('creates no output when the input cannot be read', async () => {
    const output = join(dir, 'never.btrace');
    await expect(convertTrace(join(dir, 'missing.log'), output)).rejects.toBeInstanceOf(TraceInputError);
    expect(existsSync(output)).toBe(false);
  });
});
