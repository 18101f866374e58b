/**
 * Writing traces: `@btrace` lines or `.btrace` frames, to any Writable, with backpressure
 * respected (each write resolves once the destination can take more). Writers check each
 * record against the readers' rules first, so whatever they write reads back unchanged.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

import { encodeFrame, encodeHeader, headerRevProblem, type RecordingSide } from './binary.js';
import { messageRecordProblem, metaRecordProblem } from './fields.js';
import { formatTraceLine } from './lines.js';
import type { MessageRecord, MetaRecord } from './record.js';
import type { TraceFormat } from './source.js';

/** What a binary file header should say. Informative only (see docs/binary-container.md). */
export interface TraceHeaderInfo {
  rev?: string;
  side?: RecordingSide;
}

export interface TraceWriter {
  readonly format: TraceFormat;
  /** Writes one record; resolves when the destination is ready for more. Throws TypeError for an invalid record. */
  write(record: MessageRecord | MetaRecord): Promise<void>;
  /** Flushes everything and (unless told not to) ends the destination. */
  close(): Promise<void>;
}

export interface WriterStreamOptions {
  /** End the destination on close (default true). Pass false for `process.stdout`. */
  end?: boolean;
}

/** The output could not be written. */
export class TraceOutputError extends Error {
  override readonly name = 'TraceOutputError';
  readonly output: string;
  readonly code: string | undefined;

  constructor(output: string, reason: string, options: { code?: string; cause?: unknown } = {}) {
    super(`${output}: ${reason}`, { cause: options.cause });
    this.output = output;
    this.code = options.code;
  }
}

/** A Writable seen as: write (waits on backpressure), close (waits until flushed), and its first error. */
class Sink {
  private readonly failed: Promise<never>;

  constructor(
    private readonly out: Writable,
    private readonly endOnClose: boolean,
  ) {
    this.failed = new Promise<never>((_, reject) => out.once('error', reject));
    this.failed.catch(() => undefined); // observed by write/close; must not count as unhandled
  }

  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.out.destroyed || this.out.writableEnded) throw this.out.errored ?? new Error('the destination is closed');
    if (!this.out.write(chunk)) await Promise.race([once(this.out, 'drain'), this.failed]);
  }

  async close(): Promise<void> {
    if (this.endOnClose) {
      this.out.end();
      await Promise.race([finished(this.out), this.failed]);
    } else if (this.out.writableNeedDrain) {
      await Promise.race([once(this.out, 'drain'), this.failed]);
    }
  }
}

/** Writes `@btrace` lines (meta records as `@btrace meta …`), one per record, LF-terminated. */
export class LinesTraceWriter implements TraceWriter {
  readonly format = 'lines' as const;
  private readonly sink: Sink;

  constructor(out: Writable, options: WriterStreamOptions = {}) {
    this.sink = new Sink(out, options.end ?? true);
  }

  async write(record: MessageRecord | MetaRecord): Promise<void> {
    checkRecord(record);
    await this.sink.write(`${formatTraceLine(record)}\n`);
  }

  close(): Promise<void> {
    return this.sink.close();
  }
}

/** Writes a `.btrace` file: the header at once (so even an empty trace is a valid file), then one frame per record. */
export class BinaryTraceWriter implements TraceWriter {
  readonly format = 'binary' as const;
  private readonly sink: Sink;
  private readonly headerWritten: Promise<void>;

  constructor(out: Writable, header: TraceHeaderInfo = {}, options: WriterStreamOptions = {}) {
    // The header is informative: a rev it cannot hold is stored as unknown rather than refused.
    const rev = header.rev !== undefined && headerRevProblem(header.rev) === undefined ? header.rev : '';
    const headerBytes = encodeHeader({ rev, side: header.side }); // RangeError for a bad side, before touching the stream
    this.sink = new Sink(out, options.end ?? true);
    this.headerWritten = this.sink.write(headerBytes);
    this.headerWritten.catch(() => undefined); // reported by the next write or close
  }

  async write(record: MessageRecord | MetaRecord): Promise<void> {
    const frame = encodeFrame(record);
    await this.headerWritten;
    await this.sink.write(frame);
  }

  async close(): Promise<void> {
    await this.headerWritten;
    await this.sink.close();
  }
}

function checkRecord(record: MessageRecord | MetaRecord): void {
  const problem = record.kind === 'meta' ? metaRecordProblem(record) : messageRecordProblem(record);
  if (problem !== undefined) throw new TypeError(`cannot write record: ${problem}`);
}

/** Container and compression implied by a file name: `.btrace` binary, `.btrace.gz` binary gzipped, `*.gz` gzipped lines, else lines. */
export function formatForPath(path: string): { format: TraceFormat; gzip: boolean } {
  const lower = path.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  return { format: base.endsWith('.btrace') ? 'binary' : 'lines', gzip };
}

export interface CreateWriterOptions extends WriterStreamOptions {
  /** Gzip the output. Default: true for a path ending in `.gz`, false otherwise. */
  gzip?: boolean;
}

/**
 * A writer for a path (created or truncated) or a Writable. Failures of the destination
 * (no such directory, permission, disk full) reject write or close with TraceOutputError.
 */
export function createTraceWriter(
  target: string | Writable,
  format: TraceFormat,
  header: TraceHeaderInfo = {},
  options: CreateWriterOptions = {},
): TraceWriter {
  const name = typeof target === 'string' ? target : '<stream>';
  const gzip = options.gzip ?? (typeof target === 'string' && formatForPath(target).gzip);
  const destination = typeof target === 'string' ? createWriteStream(target) : target;
  const endDestination = typeof target === 'string' || (options.end ?? true);

  // Without gzip the writer writes to the destination itself. With gzip it writes to the
  // compressor, and closing must also wait until the destination has taken every byte.
  let head: Writable = destination;
  let delivered: Promise<void> = Promise.resolve();
  if (gzip) {
    const compressor = createGzip();
    head = compressor;
    if (endDestination) {
      delivered = pipeline(compressor, destination);
    } else {
      compressor.pipe(destination, { end: false });
      delivered = Promise.race([
        once(compressor, 'end').then(() => undefined),
        new Promise<never>((_, reject) => destination.once('error', reject)),
      ]);
    }
    delivered.catch(() => undefined); // awaited in close; an early failure also shows in write
    destination.once('error', (error: Error) => compressor.destroy(error));
  }
  const inner =
    format === 'binary'
      ? new BinaryTraceWriter(head, header, { end: gzip || endDestination })
      : new LinesTraceWriter(head, { end: gzip || endDestination });
  const wrap = (error: unknown): Error => (error instanceof TypeError || error instanceof RangeError ? error : outputError(name, error));
  return {
    format,
    write: (record) => inner.write(record).catch((error: unknown) => Promise.reject(wrap(error))),
    close: async () => {
      try {
        await inner.close();
        await delivered;
      } catch (error) {
        throw wrap(error);
      }
    },
  };
}

function outputError(output: string, error: unknown): TraceOutputError {
  if (error instanceof TraceOutputError) return error;
  const code = typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  return new TraceOutputError(output, message, { code, cause: error });
}
