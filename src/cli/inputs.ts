import { open, stat } from 'node:fs/promises';
import type { TraceRecord } from '../trace/record.js';
import { flattenBatches, openTraceBatches, TraceInputError } from '../trace/source.js';
import { UsageError, type CliIO } from './io.js';

export interface InputProblem {
  input: string;
  message: string;
}

/** One input as the commands read it: in batches (the fast path) or, flattened, one record at a time. */
export interface OpenedInput {
  readonly input: string;
  readonly batches: AsyncIterable<readonly TraceRecord[]>;
  readonly records: AsyncIterable<TraceRecord>;
}

/**
 * Opens each input in turn. An input that cannot be read is recorded as a problem (one
 * line) and skipped, so the others are still read; `-` is stdin, at most once. Read either
 * `batches` or `records` of an input, not both: they are two views of one stream.
 */
export async function* readInputs(inputs: readonly string[], io: CliIO, problems: InputProblem[]): AsyncGenerator<OpenedInput> {
  for (const input of inputs) {
    const batches = guarded(openTraceBatches(input, { stdin: io.stdin }), input, problems);
    yield { input, batches, records: flattenBatches(batches) };
  }
}

function guarded<T>(source: AsyncIterable<T>, input: string, problems: InputProblem[]): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        yield* source;
      } catch (e) {
        if (e instanceof TraceInputError) {
          problems.push({ input, message: e.message });
          return;
        }
        throw e;
      }
    },
  };
}

/** Bytes compared from the start of two files of the same size to call them one log. */
const SAME_PREFIX = 64 * 1024;

async function prefix(path: string, size: number): Promise<Buffer> {
  const h = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(size, SAME_PREFIX));
    await h.read(buf, 0, buf.length, 0);
    return buf;
  } finally {
    await h.close();
  }
}

/** Whole-file comparison, chunk by chunk (only for two files whose size and start agree). */
async function sameBytes(a: string, b: string): Promise<boolean> {
  const [ha, hb] = [await open(a, 'r'), await open(b, 'r')];
  try {
    const [ba, bb] = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
    for (let pos = 0; ; ) {
      const [ra, rb] = [await ha.read(ba, 0, ba.length, pos), await hb.read(bb, 0, bb.length, pos)];
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
      if (ra.bytesRead === 0) return true;
      pos += ra.bytesRead;
    }
  } finally {
    await ha.close();
    await hb.close();
  }
}

/**
 * Several inputs are one session's sides (a Rust log and a JS log): the same file twice, or
 * two copies of one log, would replay every record twice and invent findings (a double-free
 * from each drop seen twice). Refused as a usage error before anything is read.
 */
export async function checkDistinctInputs(inputs: readonly string[]): Promise<void> {
  const seen: Array<{ input: string; dev: number; ino: number; size: number; head?: Buffer }> = [];
  if (inputs.filter((i) => i === '-').length > 1) throw new UsageError('- (stdin) is given more than once');
  for (const input of inputs) {
    if (input === '-') continue;
    let st;
    try {
      st = await stat(input);
    } catch {
      continue; // reported as an unreadable input where it is opened
    }
    if (!st.isFile()) continue;
    for (const other of seen) {
      if (other.dev === st.dev && other.ino === st.ino) throw new UsageError(`${input === other.input ? `${input} is given twice` : `${input} and ${other.input} are the same file`}: give one log, or a Rust-side log and a JS-side log`);
      if (other.size === st.size) {
        other.head ??= await prefix(other.input, other.size);
        const head = await prefix(input, st.size);
        if (head.equals(other.head) && (st.size <= SAME_PREFIX || (await sameBytes(input, other.input)))) throw new UsageError(`${input} and ${other.input} are the same log: give one log, or a Rust-side log and a JS-side log`);
      }
    }
    seen.push({ input, dev: st.dev, ino: st.ino, size: st.size });
  }
}
