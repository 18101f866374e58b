import type { TraceRecord } from '../trace/record.js';
import { openTrace, TraceInputError } from '../trace/source.js';
import type { CliIO } from './io.js';

export interface InputProblem {
  input: string;
  message: string;
}

/**
 * Opens each input in turn. An input that cannot be read is recorded as a problem (one
 * line) and skipped, so the others are still read; `-` is stdin, at most once.
 */
export async function* readInputs(
  inputs: readonly string[],
  io: CliIO,
  problems: InputProblem[],
): AsyncGenerator<{ input: string; records: AsyncIterable<TraceRecord> }> {
  for (const input of inputs) {
    const source = openTrace(input, { stdin: io.stdin });
    const records = guarded(source, input, problems);
    yield { input, records };
  }
}

async function* guarded(source: AsyncIterable<TraceRecord>, input: string, problems: InputProblem[]): AsyncGenerator<TraceRecord> {
  try {
    yield* source;
  } catch (e) {
    if (e instanceof TraceInputError) {
      problems.push({ input, message: e.message });
      return;
    }
    throw e;
  }
}
