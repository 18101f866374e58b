import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { openTrace, TraceInputError, type ContainerInfo, type TraceRecord } from '../../src/trace/index.js';
import { chunked, collect, content, readBytes, sampleRecords, writeBinary, writeLines } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bridge-trace-source-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readWithInfo(input: string, stdin?: Readable): Promise<{ records: TraceRecord[]; info?: ContainerInfo }> {
  let info: ContainerInfo | undefined;
  const records = await collect(openTrace(input, { stdin, onContainer: (i) => (info = i) }));
  return { records, info };
}

describe('openTrace', () => {
  it('reads lines and binary files from a path, detecting the container from the bytes', async () => {
    const expected = sampleRecords().map(content);
    const linesPath = join(dir, 'trace.bin'); // the name says nothing: detection is by content
    const binaryPath = join(dir, 'trace.txt');
    await writeFile(linesPath, await writeLines(sampleRecords()));
    await writeFile(binaryPath, await writeBinary(sampleRecords(), { rev: 'legacy' }));

    const lines = await readWithInfo(linesPath);
    expect(lines.records.map(content)).toEqual(expected);
    expect(lines.info).toEqual({ format: 'lines', gzip: false });
    expect(lines.records[0].loc).toEqual({ input: linesPath, line: 1 });

    const binary = await readWithInfo(binaryPath);
    expect(binary.records.map(content)).toEqual(expected);
    expect(binary.info).toMatchObject({ format: 'binary', gzip: false, header: { rev: 'legacy' } });
  });

  it('decompresses gzip of either container transparently', async () => {
    const expected = sampleRecords().map(content);
    for (const [name, bytes] of [
      ['lines.log.gz', await writeLines(sampleRecords())],
      ['trace.btrace.gz', await writeBinary(sampleRecords())],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, gzipSync(bytes));
      const { records, info } = await readWithInfo(path);
      expect(records.map(content), name).toEqual(expected);
      expect(info, name).toMatchObject({ gzip: true, format: name.startsWith('lines') ? 'lines' : 'binary' });
    }
  });

  it('reads stdin from an injected stream, gzip and small chunks included', async () => {
    const expected = sampleRecords().map(content);
    const gz = gzipSync(await writeBinary(sampleRecords()));
    const { records, info } = await readWithInfo('-', chunked(gz, [3]));
    expect(records.map(content)).toEqual(expected);
    expect(info).toMatchObject({ format: 'binary', gzip: true });
    expect(records[0].loc.input).toBe('-');
    const text = await readWithInfo('-', Readable.from([(await writeLines(sampleRecords())).toString('utf8')])); // string chunks
    expect(text.records.map(content)).toEqual(expected);
  });

  it('ends a damaged gzip stream with one bad record after the records it could read', async () => {
    const lines = await writeLines(sampleRecords());
    const gz = gzipSync(lines);
    const records = await readBytes(gz.subarray(0, gz.length - 4)); // cut inside the trailer: all data is there
    expect(records.slice(0, -1).map(content)).toEqual(sampleRecords().map(content));
    expect(records[records.length - 1]).toEqual({
      kind: 'bad',
      message: `damaged gzip stream: truncated trailer at compressed byte ${gz.length - 8} (4 of its 8 bytes); the data before it is complete but unchecked`,
      loc: { input: '-', offset: gz.length - 8 },
    });

    const corrupt = Buffer.from(gz);
    corrupt[20] ^= 0xff;
    const broken = await readBytes(corrupt);
    expect(broken.filter((r) => r.kind === 'bad' && r.message.startsWith('damaged gzip stream'))).toHaveLength(1);
  });

  it('reads an empty input as no records', async () => {
    expect(await readBytes(Buffer.alloc(0))).toEqual([]);
    expect(await readBytes(gzipSync(Buffer.alloc(0)))).toEqual([]);
  });

  it('throws TraceInputError, naming the input, for a missing file, a directory or missing stdin', async () => {
    const missing = join(dir, 'nope.log');
    await expect(collect(openTrace(missing))).rejects.toMatchObject({
      name: 'TraceInputError',
      input: missing,
      code: 'ENOENT',
      message: `${missing}: no such file`,
    });
    await expect(collect(openTrace(dir))).rejects.toMatchObject({ input: dir, code: 'EISDIR', message: `${dir}: is a directory` });
    await expect(collect(openTrace('-'))).rejects.toBeInstanceOf(TraceInputError);
  });

  it('turns a failing input stream into TraceInputError', async () => {
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('device gone'), { code: 'EIO' }));
      },
    });
    await expect(collect(openTrace('-', { stdin: failing }))).rejects.toMatchObject({ name: 'TraceInputError', input: '-', code: 'EIO' });

    const gz = gzipSync(await writeLines(sampleRecords()));
    async function* failsInsideGzip(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 30);
      throw Object.assign(new Error('device gone'), { code: 'EIO' });
    }
    await expect(collect(openTrace('-', { stdin: failsInsideGzip() }))).rejects.toMatchObject({ name: 'TraceInputError', code: 'EIO' });
  });

  it('stops reading when the consumer stops, closing the file', async () => {
    const path = join(dir, 'many.log');
    await writeFile(path, Buffer.concat(Array.from({ length: 2000 }, () => Buffer.from('@btrace dir=r2j data=AAAA\n'))));
    let seen = 0;
    for await (const _record of openTrace(path)) if (++seen === 3) break;
    expect(seen).toBe(3);
    await rm(path); // would fail on some platforms with the file still open; here it checks nothing throws
  });
});
