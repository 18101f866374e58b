import { analyze, type AnalyzeOptions } from '../replay/index.js';
import type { TraceRecord } from '../trace/record.js';
import { openTraceBatches } from '../trace/source.js';
import type { CliIO } from './io.js';

/**
 * Message numbers of records, as `analyze` gives them ("msg 7": both sides' copies of one
 * message share it, and a copy that reached its side late keeps it). Only the replay knows
 * them, so they come from a replay pass over the inputs; they are kept as one 32-bit number
 * per record, by the record's position in its input (the same in every read of a file).
 */
export class MessageNumbers {
  private readonly perInput: Int32Array[] = [];

  set(input: number, ordinal: number, message: number): void {
    let a = this.perInput[input] ?? new Int32Array(1024);
    if (ordinal >= a.length) {
      const b = new Int32Array(Math.max(a.length * 2, ordinal + 1));
      b.set(a);
      a = b;
    }
    a[ordinal] = message;
    this.perInput[input] = a;
  }

  get(input: number, ordinal: number): number | undefined {
    const n = this.perInput[input]?.[ordinal];
    return n ? n : undefined;
  }
}

/** Tags each record with its input and its position in it, so that the message numbers of a replay find it. */
export async function* taggedBatches(
  batches: AsyncIterable<readonly TraceRecord[]>,
  input: number,
  tags: WeakMap<object, [number, number]>,
): AsyncGenerator<readonly TraceRecord[]> {
  let ordinal = 0;
  for await (const batch of batches) {
    for (const r of batch) tags.set(r, [input, ordinal++]);
    yield batch;
  }
}

/** Replays the inputs as one session set (as `analyze INPUT…` does) and numbers their records. */
export async function numberRecords(inputs: readonly string[], io: CliIO, options: Omit<AnalyzeOptions, 'onStep'> = {}): Promise<MessageNumbers> {
  const numbers = new MessageNumbers();
  const tags = new WeakMap<object, [number, number]>();
  const sources = inputs.map((input, i) => ({ records: { batches: taggedBatches(openTraceBatches(input, { stdin: io.stdin }), i, tags) } }));
  await analyze(sources.length === 1 ? sources[0]!.records : { inputs: sources }, {
    ...options,
    onStep: (s) => {
      const at = s.record && tags.get(s.record);
      if (at) numbers.set(at[0], at[1], s.message);
    },
  });
  return numbers;
}
