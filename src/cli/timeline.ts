import { writeFile } from 'node:fs/promises';
import type { Revision } from '../protocol/revisions.js';
import type { TraceRecord } from '../trace/record.js';
import { collectTimeline, renderChartSvg, renderCsv, renderHtml } from '../report/timeline/index.js';
import { TraceOutputError } from '../trace/writer.js';
import { InputPosition, progressText } from './progress.js';
import { formatFromExtension, nothingReadable } from './options.js';
import { EXIT_BAD_INPUT, EXIT_OK, Progress, UsageError, colorFor, writeOut, type CliIO } from './io.js';
import { checkDistinctInputs, readInputs, type InputProblem } from './inputs.js';
import { loadSymbols } from './options.js';
import { VERSION } from './version.js';

export interface TimelineCliOptions {
  output: string;
  format?: 'html' | 'svg' | 'csv';
  rev?: Revision;
  symbols?: string;
  strict?: boolean;
  buckets?: number;
  lanes?: number;
  color?: boolean;
}

/**
 * `bridge-trace timeline`: replay once, collecting the counters of every step and the
 * lifetime of every heap ID, and write a self-contained HTML report (or the chart as SVG,
 * or the series as CSV). Exit 0 when the report is written, whatever it shows.
 */
export async function runTimeline(inputs: string[], opts: TimelineCliOptions, io: CliIO): Promise<number> {
  // The format follows the output's extension unless --format says otherwise.
  const format = opts.format ?? formatFromExtension(opts.output, { '.csv': 'csv', '.svg': 'svg', '.html': 'html', '.htm': 'html' }) ?? 'html';
  const buckets = opts.buckets ?? 600;
  if (buckets < 2 || buckets % 2 !== 0) throw new UsageError('--buckets must be an even number of at least 2');
  const lanes = opts.lanes ?? 40;
  if (lanes < 1) throw new UsageError('--lanes must be at least 1');
  const symbols = await loadSymbols(opts.symbols);
  const err = colorFor(io, 'stderr', opts.color);
  const problems: InputProblem[] = [];
  const sources: Array<{ records: AsyncIterable<TraceRecord> }> = [];
  await checkDistinctInputs(inputs);
  for await (const { records } of readInputs(inputs, io, problems)) sources.push({ records });
  const progress = new Progress(io, true);
  const position = new InputPosition(inputs);
  const data = await collectTimeline(
    sources.length === 1 ? sources[0]!.records : { inputs: sources },
    inputs,
    { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }), ...(opts.strict && { strict: true }) },
    // Two steps per message (one per side's model).
    { buckets, lanes, onProgress: (n) => progress.update(() => progressText('replaying', Math.floor(n / 2), position)) },
  );
  progress.done();
  for (const p of problems) io.stderr.write(`${err.red('error:')} ${p.message}\n`);
  if (problems.length) return EXIT_BAD_INPUT;
  if (data.result.summary.records === 0) {
    io.stderr.write(`${err.red('error:')} no @btrace records found in ${inputs.join(', ')}\n`);
    return EXIT_BAD_INPUT;
  }
  // As analyze: a trace whose every record is unreadable is bad input, not an empty chart.
  const unreadable = nothingReadable(data.result, inputs);
  if (unreadable) {
    io.stderr.write(`${err.red('error:')} ${unreadable}\n`);
    return EXIT_BAD_INPUT;
  }
  const text = format === 'csv' ? renderCsv(data.series) : format === 'svg' ? `${renderChartSvg(data, { standalone: true })}\n` : renderHtml(data, { version: VERSION });
  if (opts.output === '-') {
    await writeOut(io.stdout, text);
  } else {
    try {
      await writeFile(opts.output, text);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new TraceOutputError(opts.output, code === 'ENOENT' ? 'no such directory' : (e as Error).message, { ...(code && { code }), cause: e });
    }
  }
  return EXIT_OK;
}
