import { writeFile } from 'node:fs/promises';
import { RecorderOptionError, recorderSnippet } from '../recorder/snippet.js';
import { EXIT_OK, UsageError, writeOut, type CliIO } from './io.js';

export interface RecorderCliOptions {
  rev?: string;
  ctx?: string;
  output?: string;
}

/** `bridge-trace recorder`: print (or write with -o) the JS-side recorder snippet. */
export async function runRecorder(opts: RecorderCliOptions, io: CliIO): Promise<number> {
  let source: string;
  try {
    source = recorderSnippet({ ...(opts.rev !== undefined && { rev: opts.rev }), ...(opts.ctx !== undefined && { ctx: opts.ctx }) });
  } catch (e) {
    if (e instanceof RecorderOptionError) throw new UsageError(e.message);
    throw e;
  }
  if (opts.output === undefined || opts.output === '-') {
    await writeOut(io.stdout, source);
    return EXIT_OK;
  }
  try {
    await writeFile(opts.output, source);
  } catch (e) {
    throw new UsageError(`-o ${opts.output}: ${(e as Error).message}`);
  }
  io.stderr.write(`recorder snippet written to ${opts.output} (${source.length} bytes)${opts.rev === undefined ? '; no --rev: no meta line, analyze will guess the revision' : ''}\n`);
  return EXIT_OK;
}
