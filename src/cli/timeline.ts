import { writeFile } from 'node:fs/promises';
import type { Revision } from '../protocol/revisions.js';
import type { TraceRecord } from '../trace/record.js';
import { collectTimeline, renderChartSvg, renderCsv, renderHtml } from '../report/timeline/index.js';
import type { HtmlOptions } from '../report/timeline/html.js';
import { analyze } from '../replay/index.js';
import { openTrace } from '../trace/source.js';
import { onlyCtx } from './ctx-filter.js';
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
  /** Chart only this session. */
  ctx?: string;
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
  const analyzeOptions = { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }), ...(opts.strict && { strict: true }) };
  // Several sessions in one chart would overlay them: chart one (--ctx, or the one a quick
  // replay finds first diverging) and list the others with the command that charts each.
  let ctx = opts.ctx;
  let choice: HtmlOptions['sessionChoice'];
  if (ctx === undefined && !inputs.includes('-') && format === 'html') {
    const pre = await analyze(inputs.length === 1 ? openTrace(inputs[0]!) : { inputs: inputs.map((i) => ({ records: openTrace(i) })) }, analyzeOptions).catch(() => undefined);
    const labelled = pre?.sessions.filter((x) => x.ctx !== undefined) ?? [];
    if (pre && labelled.length > 1 && labelled.length === pre.sessions.length) {
      const count = new Map<string, number>();
      for (const f of pre.findings) if (f.location.ctx !== undefined) count.set(f.location.ctx, (count.get(f.location.ctx) ?? 0) + 1);
      const firstCtx = pre.firstDivergence ? pre.findings[pre.firstDivergence.finding]?.location.ctx : undefined;
      const withFindings = labelled.find((x) => count.has(x.ctx!));
      ctx = firstCtx ?? withFindings?.ctx ?? labelled[0]!.ctx!;
      const why = firstCtx !== undefined ? 'the session of the first divergence' : withFindings ? 'the first session with findings' : 'the first session; none has findings';
      const others = labelled.filter((x) => x.ctx !== ctx).sort((a, b) => (count.get(b.ctx!) ?? 0) - (count.get(a.ctx!) ?? 0));
      const command = (label: string): string => `bridge-trace timeline ${inputs.join(' ')} --ctx ${label} -o ${label}.html`;
      choice = { charted: ctx, why, others: others.slice(0, 50).map((x) => ({ ctx: x.ctx!, messages: x.messages, findings: count.get(x.ctx!) ?? 0, command: command(x.ctx!) })), more: Math.max(0, others.length - 50) };
      io.stderr.write(`${err.yellow('note:')} ${pre.sessions.length} sessions in ${inputs.join(', ')}: charting ctx=${ctx} (${why}); --ctx LABEL charts another\n`);
    }
  }
  for await (const { records } of readInputs(inputs, io, problems)) sources.push({ records: ctx !== undefined ? onlyCtx(records, ctx) : records });
  const progress = new Progress(io, true);
  const position = new InputPosition(inputs);
  const data = await collectTimeline(
    sources.length === 1 ? sources[0]!.records : { inputs: sources },
    inputs,
    analyzeOptions,
    // Two steps per message (one per side's model).
    { buckets, lanes, onProgress: (n) => progress.update(() => progressText('replaying', Math.floor(n / 2), position)) },
  );
  progress.done();
  for (const p of problems) io.stderr.write(`${err.red('error:')} ${p.message}\n`);
  if (problems.length) return EXIT_BAD_INPUT;
  if (data.result.summary.records === 0) {
    io.stderr.write(`${err.red('error:')} no @btrace records${ctx !== undefined ? ` of ctx=${ctx}` : ''} found in ${inputs.join(', ')}\n`);
    return EXIT_BAD_INPUT;
  }
  // As analyze: a trace whose every record is unreadable is bad input, not an empty chart.
  const unreadable = nothingReadable(data.result.summary, inputs);
  if (unreadable) {
    io.stderr.write(`${err.red('error:')} ${unreadable}\n`);
    return EXIT_BAD_INPUT;
  }
  const text = format === 'csv' ? renderCsv(data.series) : format === 'svg' ? `${renderChartSvg(data, { standalone: true })}\n` : renderHtml(data, { version: VERSION, ...(choice && { sessionChoice: choice }) });
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
