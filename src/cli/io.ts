import { Chalk, type ChalkInstance } from 'chalk';
import type { Readable, Writable } from 'node:stream';

/** Exit codes, stable across releases (README "Exit codes"). */
export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_BAD_INPUT = 2;

/**
 * Everything the commands touch of the outside world. The CLI builds it from `process`;
 * tests build it from buffers.
 */
export interface CliIO {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Terminal width of stdout (long report lines are wrapped to it on a terminal). */
  readonly stdoutColumns?: number;
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    stdoutIsTTY: process.stdout.isTTY === true,
    stderrIsTTY: process.stderr.isTTY === true,
    ...(process.stdout.isTTY && process.stdout.columns ? { stdoutColumns: process.stdout.columns } : {}),
  };
}

/**
 * Colour for one stream: NO_COLOR (non-empty) turns it off, FORCE_COLOR forces it (0 = off),
 * otherwise colour only when the stream is a terminal. chalk 5 does not read NO_COLOR.
 */
export function colorFor(io: CliIO, stream: 'stdout' | 'stderr', override?: boolean): ChalkInstance {
  if (override !== undefined) return new Chalk({ level: override ? 1 : 0 });
  const env = io.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return new Chalk({ level: 0 });
  const force = env.FORCE_COLOR;
  if (force !== undefined) {
    if (force === '0' || force === 'false') return new Chalk({ level: 0 });
    const level = force === '2' ? 2 : force === '3' ? 3 : 1;
    return new Chalk({ level });
  }
  const tty = stream === 'stdout' ? io.stdoutIsTTY : io.stderrIsTTY;
  return new Chalk({ level: tty ? 1 : 0 });
}

/**
 * The reader of stdout went away (`bridge-trace dump … | head -1`): the command stops
 * quietly, as a command in a pipeline should.
 */
export class OutputClosed extends Error {
  override readonly name: string = 'OutputClosed';
}

export function isBrokenPipe(e: unknown): boolean {
  return e instanceof OutputClosed || (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE' || (e as NodeJS.ErrnoException | undefined)?.code === 'ERR_STREAM_DESTROYED';
}

/** Writes text or bytes, waiting when the destination asks for it (a piped report is never cut). */
export async function writeOut(stream: Writable, text: string | Uint8Array): Promise<void> {
  if (stream.destroyed || stream.writableEnded) throw new OutputClosed('output closed');
  if (!stream.write(text)) {
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        stream.off('error', onError);
        resolve();
      };
      const onError = (e: Error): void => {
        stream.off('drain', onDrain);
        reject(e);
      };
      stream.once('drain', onDrain);
      stream.once('error', onError);
    });
  }
}

/** Pieces of text joined into chunks of about `limit` characters: a write per piece would dominate. */
export function* joinedChunks(pieces: Iterable<string>, limit = 256 * 1024): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const p of pieces) {
    parts.push(p);
    size += p.length;
    if (size >= limit) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

/** Writes pieces of text in chunks of about `limit` characters, waiting for the stream to drain. */
export async function writeChunks(stream: Writable, pieces: Iterable<string>, limit?: number): Promise<void> {
  for (const chunk of joinedChunks(pieces, limit)) await writeOut(stream, chunk);
}

/** Each line and its newline, as pieces for writeChunks. */
export function* asLines(lines: Iterable<string>): Generator<string> {
  for (const line of lines) {
    yield line;
    yield '\n';
  }
}

/** A usage or input problem that ends the command with a one-line message and exit 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

/** Progress on stderr only when stderr is a terminal; overwritten in place, erased at the end. */
export class Progress {
  private last = 0;
  private shown = false;
  constructor(private readonly io: CliIO, private readonly enabled: boolean) {}

  /** Whether updates are shown at all (a TTY on stderr): callers skip the work of making them otherwise. */
  get active(): boolean {
    return this.enabled && this.io.stderrIsTTY;
  }

  update(text: () => string): void {
    if (!this.enabled || !this.io.stderrIsTTY) return;
    const now = Date.now();
    if (now - this.last < 200) return;
    this.last = now;
    this.io.stderr.write(`\r\x1b[2K${text()}`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) this.io.stderr.write('\r\x1b[2K');
    this.shown = false;
  }
}
