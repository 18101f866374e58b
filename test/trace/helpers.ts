/** Shared test helpers: byte sources, collectors and record builders. Not a test file itself. */

import { Readable, Writable } from 'node:stream';

import {
  BinaryTraceWriter,
  LinesTraceWriter,
  openTrace,
  type MessageRecord,
  type MetaRecord,
  type OpenTraceOptions,
  type TraceHeaderInfo,
  type TraceRecord,
} from '../../src/trace/index.js';

/** Fixtures from the protocol reference's worked examples (examples.md §1), base64 as a `data=` field holds them. */
export const FIXTURE = {
  /** R-Eval `make_node("div")` (example A), 36 bytes. */
  makeNode: 'HAAAABwAAAAhAAAAAAAAAAcAAAAAAAAAAwAAAAD+ARARZGl2',
  /** J-Resp with nothing in it, 13 bytes: 0c 00 00 00 0c 00 00 00 0d 00 00 00 01. */
  emptyRespond: 'DAAAAAwAAAANAAAAAQ==',
  /** The same call in a batch (example B), 32 bytes. */
  makeNodeBatched: 'GAAAABgAAAAdAAAABwAAAAAAAAADAAAAAP4BEBFkaXY=',
  /** J-Resp with `Some(1.0f64)`, 22 bytes. */
  respondBool: 'FAAAABQAAAAWAAAAAAAAAAAA8D8BAQ==',
} as const;

export function b64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A Readable yielding `bytes` in chunks whose sizes cycle through `sizes`. */
export function chunked(bytes: Uint8Array, sizes: readonly number[]): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length];
    chunks.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return Readable.from(chunks);
}

/** Deterministic PRNG (mulberry32), so a failing random case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomSizes(seed: number, count: number, max: number): number[] {
  const next = prng(seed);
  return Array.from({ length: count }, () => 1 + Math.floor(next() * max));
}

/** Reads in-memory bytes through the public entry point (as stdin). */
export function readBytes(bytes: Uint8Array | Readable, options: OpenTraceOptions = {}): Promise<TraceRecord[]> {
  const stdin = bytes instanceof Readable ? bytes : Readable.from([Buffer.from(bytes)]);
  return collect(openTrace('-', { ...options, stdin }));
}

/** A record without its location, for comparing records read from different containers. */
export function content(record: TraceRecord): Omit<TraceRecord, 'loc'> {
  const { loc: _loc, ...rest } = record;
  return rest;
}

const TEST_LOC = { input: 'test' };

export function message(fields: Omit<MessageRecord, 'kind' | 'loc' | 'data'> & { data: string }): MessageRecord {
  return { kind: 'message', ...fields, data: b64(fields.data), loc: TEST_LOC };
}

export function meta(fields: Array<[string, string]>): MetaRecord {
  const record: MetaRecord = { kind: 'meta', fields, loc: TEST_LOC };
  for (const [key, value] of fields) {
    if (key === 'rev') record.rev = value;
    if (key === 'side' && (value === 'rust' || value === 'js')) record.side = value;
    if (key === 'ctx') record.ctx = value;
  }
  return record;
}

/** A Writable that keeps everything written to it. */
export class ByteSink extends Writable {
  private readonly parts: Buffer[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.parts.push(chunk);
    done();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export async function writeLines(records: ReadonlyArray<MessageRecord | MetaRecord>): Promise<Buffer> {
  const sink = new ByteSink();
  const writer = new LinesTraceWriter(sink);
  for (const record of records) await writer.write(record);
  await writer.close();
  return sink.bytes;
}

export async function writeBinary(records: ReadonlyArray<MessageRecord | MetaRecord>, header: TraceHeaderInfo = {}): Promise<Buffer> {
  const sink = new ByteSink();
  const writer = new BinaryTraceWriter(sink, header);
  for (const record of records) await writer.write(record);
  await writer.close();
  return sink.bytes;
}

/** A representative trace: metas with fn ids, two ctx, optional fields present and absent. */
export function sampleRecords(): Array<MessageRecord | MetaRecord> {
  return [
    meta([['rev', 'reserved-count'], ['side', 'js'], ['ctx', 'wv1'], ['fn.drop_heap_ref', '12'], ['fn.cast', '3']]),
    message({ dir: 'r2j', data: FIXTURE.makeNode, side: 'js', seq: 1, t: 0, ctx: 'wv1' }),
    message({ dir: 'j2r', data: FIXTURE.emptyRespond, side: 'js', seq: 2, t: 418, ctx: 'wv1' }),
    meta([['rev', 'legacy'], ['ctx', 'wv2'], ['note', '']]),
    message({ dir: 'r2j', data: FIXTURE.makeNodeBatched, ctx: 'wv2' }),
    message({ dir: 'j2r', data: FIXTURE.respondBool, side: 'rust', seq: 9007199254740991 }),
    message({ dir: 'r2j', data: '', t: 5 }),
  ];
}
