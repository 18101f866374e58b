import { createWriteStream } from 'node:fs';
import type { CliIO } from './io.js';
import { UsageError } from './io.js';
import { checkWritableDir } from './options.js';

/**
 * `-o FILE` for the commands that print a report: the command writes to the file instead of
 * stdout (no colour, no terminal width). `-` or no option is stdout. The file is complete
 * when the command returns; a file that cannot be written is a one-line usage error.
 */
export async function withOutput(io: CliIO, output: string | undefined, run: (io: CliIO) => Promise<number>): Promise<number> {
  if (output === undefined || output === '-') return run(io);
  await checkWritableDir('-o', output);
  const stream = createWriteStream(output);
  let failure: Error | undefined;
  stream.on('error', (e) => {
    failure = e;
  });
  await new Promise<void>((resolve) => {
    stream.once('open', () => resolve());
    stream.once('error', () => resolve());
  });
  if (failure) throw new UsageError(`-o ${output}: ${(failure as NodeJS.ErrnoException).code === 'EISDIR' ? 'is a directory' : failure.message}`);
  const { stdoutColumns: _columns, ...rest } = io;
  const code = await run({ ...rest, stdout: stream, stdoutIsTTY: false });
  await new Promise<void>((resolve) => stream.end(() => resolve()));
  if (failure) throw new UsageError(`-o ${output}: ${(failure as Error).message}`);
  return code;
}
