/**
 * Opening a trace: a file path or `-` (stdin, injected by the caller), gzip detected by its
 * magic bytes and decompressed as a stream, the container (binary or `@btrace` lines)
 * detected from the first bytes. Memory stays flat however long the input: nothing here
 * ever holds more than a chunk, except the binary reader's one-frame window.
 */

import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

import { BINARY_MAGIC, looksLikeBinaryTrace, readBinaryRecords, type BinaryTraceHeader } from './binary.js';
import { badRecord } from './fields.js';
import { readLineRecords } from './lines.js';
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
 * throws: it becomes BadRecords, and a damaged gzip stream ends with one BadRecord.
 */
export function openTrace(input: string, options: OpenTraceOptions = {}): AsyncIterable<TraceRecord> {
  return { [Symbol.asyncIterator]: () => readTrace(input, options) };
}

async function* readTrace(input: string, options: OpenTraceOptions): AsyncGenerator<TraceRecord> {
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
  const gzipState: GunzipState = { damage: undefined, produced: 0 };
  const { head, rest } = await peek(gzip ? gunzip(compressed.rest, gzipState) : compressed.rest, DETECT_BYTES);

  if (looksLikeBinaryTrace(head)) {
    yield* readBinaryRecords(rest, input, {
      maxFramePayload: options.maxFramePayload,
      onHeader: (header) => options.onContainer?.({ format: 'binary', gzip, ...(header ? { header } : {}) }),
    });
  } else {
    options.onContainer?.({ format: 'lines', gzip });
    yield* readLineRecords(rest, input, { maxLineBytes: options.maxLineBytes });
  }
  if (gzipState.damage !== undefined) {
    yield badRecord(`damaged gzip stream: ${gzipState.damage}; records after this point are lost`, {
      input,
      offset: gzipState.produced,
    });
  }
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

interface GunzipState {
  /** Why decompression stopped early, if it did. */
  damage: string | undefined;
  /** Decompressed bytes delivered so far. */
  produced: number;
}

/** Decompresses a gzip stream (several members allowed). Damage ends the output and is noted in `state`. */
async function* gunzip(source: AsyncIterable<Buffer>, state: GunzipState): AsyncGenerator<Buffer> {
  const inflater = createGunzip();
  // Errors reach us through the iteration below (pipeline destroys the inflater with them).
  pipeline(source, inflater, () => undefined);
  try {
    for await (const chunk of inflater as AsyncIterable<Buffer>) {
      state.produced += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (!errorCode(error)?.startsWith('Z_')) throw error; // TraceInputError from the source
    state.damage = error instanceof Error ? error.message : String(error);
  } finally {
    inflater.destroy();
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
async function peek(chunks: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const iterator = chunks[Symbol.asyncIterator]();
  const taken: Buffer[] = [];
  let size = 0;
  let ended = false;
  while (size < n) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    size += next.value.length;
  }
  const head = taken.length === 1 ? taken[0] : Buffer.concat(taken);
  async function* rest(): AsyncGenerator<Buffer> {
    try {
      if (head.length > 0) yield head;
      if (ended) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { head, rest: rest() };
}
