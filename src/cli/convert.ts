import { convertTrace } from '../trace/convert.js';
import { formatForPath } from '../trace/writer.js';
import type { TraceFormat } from '../trace/source.js';
import { formatLocation } from '../trace/record.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, colorFor, type CliIO } from './io.js';

export interface ConvertOptions {
  output: string;
  format?: TraceFormat;
  gzip?: boolean;
  color?: boolean;
}

/**
 * `bridge-trace convert IN -o OUT`: between the line and binary containers, record for
 * record. Bad records cannot be carried over (they hold no message); each is reported.
 */
export async function runConvert(input: string, opts: ConvertOptions, io: CliIO): Promise<number> {
  const err = colorFor(io, 'stderr', opts.color);
  const toStdout = opts.output === '-';
  const implied = toStdout ? { format: 'lines' as const, gzip: false } : formatForPath(opts.output);
  const format = opts.format ?? implied.format;
  const gzip = opts.gzip ?? implied.gzip;
  const result = await convertTrace(input, toStdout ? io.stdout : opts.output, {
    format,
    gzip,
    stdin: io.stdin,
    end: !toStdout,
    onBadRecord: (r) => io.stderr.write(`${err.yellow('skipped')} ${formatLocation(r.loc)}: ${r.message}\n`),
  });
  const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
  io.stderr.write(
    `${plural(result.records, 'record')} written to ${opts.output} (${format}${gzip ? ', gzip' : ''}), ${plural(result.badRecords, 'bad record')} skipped\n`,
  );
  if (result.records === 0 && result.badRecords > 0) return EXIT_BAD_INPUT;
  return result.badRecords > 0 ? EXIT_FINDINGS : EXIT_OK;
}
