/**
 * Opening a trace: a file path or `-` (stdin, injected by the caller), gzip detected by its
 * magic bytes and decompressed as a stream, the container (binary or `@btrace` lines)
 * detected from the first bytes. Memory stays flat however long the input: nothing here
 * ever holds more than a chunk, except the binary reader's one-frame window.
 */

import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

import { BINARY_MAGIC, looksLikeBinaryTrace, readBinaryBatches, type BinaryTraceHeader } from './binary.js';
import { badRecord } from './fields.js';
import { gunzip, isGzipDamage, type GunzipItem, type GzipDamage } from './gunzip.js';
import { LineRecordParser } from './lines.js';
import type { TraceRecord } from './record.js';

export type TraceFormat = 'lines' | 'binary';

/** What openTrace found the input to be. */
export interface ContainerInfo {
  format: TraceFormat;
  gzip: boolean;
  /** The binary file header, when there is an intact one. */
  header?: BinaryTraceHeader;
}

/** The input cannot be read at all (missing, a directory, no permission, I/O error). The only error openTrace throws. */
export class TraceInputError extends Error {
  override readonly name = 'TraceInputError';
  /** The input as the user named it (`-` for stdin). */
  readonly input: string;
  /** The system error code (`ENOENT`, `EISDIR`, `EACCES`, …) when there is one. */
  readonly code: string | undefined;

  constructor(input: string, reason: string, options: { code?: string; cause?: unknown } = {}) {
    super(`${input}: ${reason}`, { cause: options.cause });
    this.input = input;
    this.code = options.code;
  }
}

export interface OpenTraceOptions {
  /** The stream `-` reads from. This layer never touches `process`; the CLI passes `process.stdin`. */
  stdin?: Readable | AsyncIterable<Uint8Array | string>;
  /** Called once, before the first record, with what the input turned out to be. */
  onContainer?: (info: ContainerInfo) => void;
  /** Overrides the `@btrace` line limit (tests). */
  maxLineBytes?: number;
  /** Overrides the binary frame payload limit downwards (tests). */
  maxFramePayload?: number;
}

const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b);
const DETECT_BYTES = BINARY_MAGIC.length;
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * Streams the records of one trace input. Reading starts at the first iteration; an
 * unreadable input makes that iteration throw TraceInputError. Damaged content never
 * throws: it becomes BadRecords; gzip damage is one BadRecord at its compressed offset,
 * after every record inflated before it.
 */
export function openTrace(input: string, options: OpenTraceOptions = {}): AsyncIterable<TraceRecord> {
  return flattenBatches(openTraceBatches(input, options));
}

/**
 * openTrace in batches: the records each chunk of input completes, in order, one array
 * per chunk. Consumers that loop over the array synchronously pay one await per chunk
 * instead of one per record. Each array is handed over (never touched again here).
 */
export function openTraceBatches(input: string, options: OpenTraceOptions = {}): AsyncIterable<TraceRecord[]> {
  return { [Symbol.asyncIterator]: () => readTrace(input, options) };
}

async function* readTrace(input: string, options: OpenTraceOptions): AsyncGenerator<TraceRecord[]> {
  let raw: AsyncIterable<Uint8Array | string>;
  if (input === '-') {
    if (options.stdin === undefined) throw new TraceInputError(input, 'no stdin stream was given to read from');
    raw = options.stdin;
  } else {
    // autoClose (the default): the stream closes the handle when it ends or is destroyed.
    raw = (await openFile(input)).createReadStream({ highWaterMark: READ_CHUNK_BYTES });
  }
  const compressed = await peek(guardInput(raw, input), GZIP_MAGIC.length);
  const gzip = startsWith(compressed.head, GZIP_MAGIC);
  const decompressed: AsyncIterable<GunzipItem> = gzip ? gunzip(compressed.rest) : compressed.rest;
  const { head, rest } = await peek(decompressed, DETECT_BYTES);
  const damageRecord = (d: GzipDamage): TraceRecord => badRecord(d.message, { input, offset: d.offset });

  if (looksLikeBinaryTrace(head)) {
    // Gzip damage is placed among the frames by the decompressed offset it follows.
    const damages: GzipDamage[] = [];
    const bytes = bytesOnly(rest, damages);
    let delivered = 0; // decompressed bytes of the records given out so far (frame starts)
    for await (const batch of readBinaryBatches(bytes, input, {
      maxFramePayload: options.maxFramePayload,
      onHeader: (header) => options.onContainer?.({ format: 'binary', gzip, ...(header ? { header } : {}) }),
    })) {
      if (damages.length > 0) {
        const out: TraceRecord[] = [];
        for (const r of batch) {
          const at = r.loc.offset ?? delivered;
          while (damages.length > 0 && damages[0]!.produced <= at) out.push(damageRecord(damages.shift()!));
          out.push(r);
          delivered = at;
        }
        yield out;
      } else {
        const lastOffset = batch.length > 0 ? batch[batch.length - 1]!.loc.offset : undefined;
        if (lastOffset !== undefined) delivered = lastOffset;
        yield batch;
      }
    }
    if (damages.length > 0) yield damages.map(damageRecord);
    return;
  }

  options.onContainer?.({ format: 'lines', gzip });
  const parser = new LineRecordParser(input, { maxLineBytes: options.maxLineBytes });
  // Damage found while a record line is open comes after that line's record (the line began before it).
  let held: TraceRecord[] = [];
  for await (const item of rest) {
    const out: TraceRecord[] = [];
    if (isGzipDamage(item)) {
      if (parser.inRecord) held.push(damageRecord(item));
      else out.push(damageRecord(item));
    } else {
      parser.push(item, out);
      if (held.length > 0 && out.length > 0) {
        out.splice(1, 0, ...held);
        held = [];
      }
    }
    if (out.length > 0) yield out;
  }
  const out: TraceRecord[] = [];
  parser.end(out);
  out.push(...held);
  if (out.length > 0) yield out;
}

/** Decompressed bytes only: damage items are set aside, in order, for the caller to place. */
async function* bytesOnly(items: AsyncIterable<GunzipItem>, damages: GzipDamage[]): AsyncGenerator<Buffer> {
  for await (const item of items) {
    if (isGzipDamage(item)) damages.push(item);
    else yield item;
  }
}

/**
 * A record stream over a batch stream, for consumers that take one record at a time. A plain
 * object iterator rather than an async generator: a record already in hand costs one resolved
 * promise, not a generator resume.
 */
export function flattenBatches<T>(batches: AsyncIterable<readonly T[]>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const source = batches[Symbol.asyncIterator]();
      let batch: readonly T[] = [];
      let index = 0;
      let done = false;
      const pull = async (): Promise<IteratorResult<T>> => {
        while (!done) {
          const next = await source.next();
          if (next.done) break;
          batch = next.value;
          index = 0;
          if (batch.length > 0) return { value: batch[index++]!, done: false };
        }
        done = true;
        return { value: undefined, done: true };
      };
      return {
        next: () => (index < batch.length ? Promise.resolve({ value: batch[index++]!, done: false }) : pull()),
        return: async (): Promise<IteratorResult<T>> => {
          done = true;
          batch = [];
          await source.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

async function openFile(path: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw inputError(path, error);
  }
  try {
    // Linux opens a directory for reading without complaint; reading it fails later. Say so now.
    if ((await handle.stat()).isDirectory()) throw new TraceInputError(path, 'is a directory', { code: 'EISDIR' });
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error instanceof TraceInputError ? error : inputError(path, error);
  }
  return handle;
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a parent of the path is not a directory',
  EMFILE: 'too many open files',
};

function inputError(input: string, error: unknown): TraceInputError {
  if (error instanceof TraceInputError) return error;
  const code = errorCode(error);
  const reason = (code && REASONS[code]) ?? (error instanceof Error ? error.message : String(error));
  return new TraceInputError(input, reason, { code, cause: error });
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** Normalizes chunks to Buffers and turns a read failure into TraceInputError. */
async function* guardInput(raw: AsyncIterable<Uint8Array | string>, input: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of raw) {
      if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
      else if (chunk instanceof Uint8Array) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      else throw new TraceInputError(input, `the stream yielded a ${typeof chunk}, not bytes`);
    }
  } catch (error) {
    throw inputError(input, error);
  }
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/**
 * Reads until at least `n` bytes (or the end) are in hand, without losing any: `rest`
 * yields them again followed by the remaining chunks.
 */
async function peek<T>(chunks: AsyncIterable<Buffer | T>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer | T> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const taken: Array<Buffer | T> = [];
  const bytes: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    if (Buffer.isBuffer(next.value)) {
      bytes.push(next.value);
      size += next.value.length;
    }
  }
  const head = bytes.length === 1 ? bytes[0]! : Buffer.concat(bytes);
  async function* rest(): AsyncGenerator<Buffer | T> {
    try {
      yield* taken;
      if (ended) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { head, rest: rest() };
}
