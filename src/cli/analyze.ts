import { appendFile } from 'node:fs/promises';
import { analyzeStream, FINDING_KINDS, SEVERITY_RANK, type AnalysisResult, type AnalysisSummary, type FindingKind, type RecordBatches, type Severity } from '../replay/index.js';
import type { Revision } from '../protocol/revisions.js';
import { analysisStreamToJson, analysisViewToJson, renderAnalysisText, tableIds } from '../report/analysis.js';
import { viewOfStream, type AnalysisView } from '../report/analysis-view.js';
import { findingsBySession } from '../report/ci-sessions.js';
import { jsonDocument } from '../report/json-chunks.js';
import { findingIds } from '../report/finding-ids.js';
import { wrapLine } from '../report/wrap.js';
import { explainLines } from './explain.js';
import { InputPosition, progressText } from './progress.js';
import { githubAnnotations, stepSummaryMarkdown } from '../report/github.js';
import { junitXmlChunks } from '../report/junit.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, Progress, UsageError, asLines, colorFor, writeChunks, writeOut, type CliIO } from './io.js';
import { checkReadable, checkWritableDir, loadSymbols, nothingReadable, writeOptionFile } from './options.js';
import { checkDistinctInputs, readInputs, type InputProblem } from './inputs.js';

export interface AnalyzeCliOptions {
  json?: boolean;
  format?: 'text' | 'json' | 'github';
  failOn?: Severity;
  rev?: Revision;
  symbols?: string;
  jsHeap?: string;
  strict?: boolean;
  quiet?: boolean;
  junit?: string;
  allowEmpty?: boolean;
  color?: boolean;
  /** Sessions replayed at once (AnalyzeOptions.maxActiveSessions). */
  maxOpenSessions?: number;
  /** Root causes printed in the text report (the rest are counted). */
  maxFindings?: number;
  /** Filters: findings of this kind / session label / session number (1-based, as listed). */
  kind?: string;
  ctx?: string;
  session?: number;
  /** Print one finding (by its ID) in full, with the records around it. */
  explain?: string;
}

/** `bridge-trace analyze`: replay both allocators and report every desync with its cause. */
export async function runAnalyze(inputs: string[], opts: AnalyzeCliOptions, io: CliIO): Promise<number> {
  const symbols = await loadSymbols(opts.symbols);
  if (opts.jsHeap) await checkReadable('--js-heap', opts.jsHeap);
  if (opts.junit) await checkWritableDir('--junit', opts.junit);
  const format = opts.json ? 'json' : (opts.format ?? 'text');
  const color = colorFor(io, 'stdout', format === 'text' ? opts.color : false);
  const err = colorFor(io, 'stderr', opts.color);
  const problems: InputProblem[] = [];
  const sources: Array<{ records: RecordBatches }> = [];
  await checkDistinctInputs(inputs);
  for await (const { batches } of readInputs(inputs, io, problems)) sources.push({ records: { batches } });
  const progress = new Progress(io, format !== 'json');
  const position = new InputPosition(inputs);
  const stream = await analyzeStream(sources.length === 1 ? sources[0]!.records : { inputs: sources }, {
    ...(opts.rev && { rev: opts.rev }),
    ...(symbols && { symbols }),
    ...(opts.jsHeap && { jsHeap: opts.jsHeap }),
    ...(opts.strict && { strict: true }),
    ...(opts.maxOpenSessions !== undefined && { maxActiveSessions: opts.maxOpenSessions }),
    // Per batch, and only where it is shown: a per-step hook would cost the replay a summary of every step.
    ...(progress.active && { onProgress: (records: number) => progress.update(() => progressText('replaying', records, position, 'records')) }),
  });
  progress.done();
  for (const p of problems) io.stderr.write(`${err.red('error:')} ${p.message}\n`);
  if (problems.length) return EXIT_BAD_INPUT;
  if (stream.summary.records === 0) {
    const message = `no @btrace records found in ${inputs.join(', ')}`;
    if (!opts.allowEmpty) {
      io.stderr.write(`${err.red('error:')} ${message} (pass --allow-empty to accept a log without any)\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr.write(`${err.yellow('note:')} ${message}\n`);
  }
  const threshold = SEVERITY_RANK[opts.failOn ?? 'error'];
  const width = io.stdoutIsTTY && format !== 'json' ? io.stdoutColumns : undefined;
  const wrapped = function* (lines: Iterable<string>): Generator<string> {
    for (const line of lines) {
      if (width) yield* wrapLine(line, width);
      else yield line;
    }
  };
  const write = (lines: Iterable<string>): Promise<void> => writeChunks(io.stdout, asLines(wrapped(lines)));
  const filtering = opts.kind !== undefined || opts.ctx !== undefined || opts.session !== undefined;
  if (opts.explain !== undefined) return explain(opts.explain);
  // The JSON document alone is written as the findings and session summaries are read back.
  if (format === 'json' && !filtering && !opts.junit) {
    await writeChunks(io.stdout, jsonDocument(analysisStreamToJson(stream, inputs)));
    return verdict(stream.summary, inputs, threshold, io, err);
  }
  // Every other report reads the findings through a table: counted, grouped and filtered over
  // all of them, each read in full only where it is printed or written. A JSON document lists
  // every session summary, which the view only digests: it keeps them.
  const sessions = format === 'json' ? [...stream.sessions] : undefined;
  const view = viewOfStream(sessions ? { ...stream, sessions } : stream);
  const ids = tableIds(view.findings);
  const filter = findingFilter(view, opts);
  const shown = filter?.shown;
  const bySession = format === 'github' || opts.junit ? findingsBySession(view, inputs, { ...(shown && { shown }), ids }) : undefined;
  if (sessions) {
    await writeChunks(io.stdout, jsonDocument(analysisViewToJson(view, sessions, inputs, ids, shown)));
  } else {
    const text = renderAnalysisText(view, inputs, color, {
      ids,
      ...(opts.quiet && { quiet: true }),
      ...(opts.maxFindings !== undefined && { maxFindings: opts.maxFindings }),
      ...(filter && { shown: filter.shown, filterNote: filter.note, placesPerGroup: Number.MAX_SAFE_INTEGER }),
    });
    await write(format === 'github' && bySession ? [...githubAnnotations(bySession), ...text] : text);
    const summaryFile = io.env.GITHUB_STEP_SUMMARY;
    if (format === 'github' && bySession && summaryFile) {
      try {
        await appendFile(summaryFile, stepSummaryMarkdown(bySession));
      } catch (e) {
        throw new UsageError(`GITHUB_STEP_SUMMARY ${summaryFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
      }
    }
  }
  if (opts.junit && bySession) await writeOptionFile('--junit', opts.junit, junitXmlChunks(bySession));
  if (filter) {
    const unreadable = nothingReadable(view.summary, inputs);
    if (unreadable) return badInput(unreadable, io, err);
    return [...filter.shown].some((i) => SEVERITY_RANK[view.findings.severity(i)] >= threshold) ? EXIT_FINDINGS : EXIT_OK;
  }
  return verdict(view.summary, inputs, threshold, io, err);

  /** `--explain ID`: one finding in full, with the records around it (it works on the collected result). */
  async function explain(id: string): Promise<number> {
    const result: AnalysisResult = { findings: [...stream.findings], sessions: [...stream.sessions], summary: stream.summary, ...(stream.firstDivergence && { firstDivergence: stream.firstDivergence }) };
    const ids = findingIds(result.findings);
    const index = ids.indexOf(id);
    if (index < 0) throw new UsageError(`--explain ${id}: no finding has this ID in ${inputs.join(', ')} (the IDs are in the text report and in --json)`);
    if (format === 'json') await writeOut(io.stdout, JSON.stringify({ id: ids[index], ...result.findings[index] }, null, 2) + '\n');
    else await write(await explainLines(result, index, ids, inputs, io, color, { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }) }));
    return SEVERITY_RANK[result.findings[index]!.severity] >= threshold ? EXIT_FINDINGS : EXIT_OK;
  }
}

/** Only a record that could not be read at all makes the input "bad"; findings at or above the threshold decide exit 1. */
function verdict(summary: AnalysisSummary, inputs: readonly string[], threshold: number, io: CliIO, err: ReturnType<typeof colorFor>): number {
  const unreadable = nothingReadable(summary, inputs);
  if (unreadable) return badInput(unreadable, io, err);
  const severities = Object.keys(summary.bySeverity) as Severity[];
  return severities.some((s) => summary.bySeverity[s] > 0 && SEVERITY_RANK[s] >= threshold) ? EXIT_FINDINGS : EXIT_OK;
}

function badInput(message: string, io: CliIO, err: ReturnType<typeof colorFor>): number {
  io.stderr.write(`${err.red('error:')} ${message}\n`);
  return EXIT_BAD_INPUT;
}

function isFindingKind(k: string): k is FindingKind {
  return (FINDING_KINDS as readonly string[]).includes(k);
}

/** The findings --kind, --ctx and --session keep (a root kept keeps its consequences listed under it). */
export function findingFilter(view: AnalysisView, opts: Pick<AnalyzeCliOptions, 'kind' | 'ctx' | 'session'>): { shown: Set<number>; note: string } | undefined {
  if (opts.kind === undefined && opts.ctx === undefined && opts.session === undefined) return undefined;
  if (opts.kind !== undefined && !isFindingKind(opts.kind)) throw new UsageError(`--kind ${opts.kind}: not a finding kind (docs/findings.md lists them: ${FINDING_KINDS.slice(0, 4).join(', ')}, …)`);
  const { count, ctxs } = view.sessions;
  let ctx: string | undefined | null = opts.ctx ?? null;
  if (opts.session !== undefined) {
    if (!Number.isInteger(opts.session) || opts.session < 1 || opts.session > count) throw new UsageError(`--session ${opts.session}: there ${count === 1 ? 'is 1 session' : `are ${count} sessions`}`);
    const sessionCtx = ctxs[opts.session - 1];
    if (opts.ctx !== undefined && sessionCtx !== opts.ctx) throw new UsageError(`--session ${opts.session} is ctx=${sessionCtx ?? '(none)'}, not ctx=${opts.ctx}`);
    ctx = sessionCtx;
  }
  if (opts.ctx !== undefined && !ctxs.includes(opts.ctx)) throw new UsageError(`--ctx ${opts.ctx}: no session has this label`);
  const findings = view.findings;
  const shown = new Set<number>();
  for (let i = 0; i < findings.length; i++) {
    if (opts.kind !== undefined && findings.kind(i) !== opts.kind) continue;
    if (ctx !== null && findings.ctx(i) !== ctx) continue;
    shown.add(i);
  }
  const parts = [opts.kind !== undefined && `kind ${opts.kind}`, ctx !== null && (ctx === undefined ? 'the session without a ctx' : `ctx=${ctx}`)].filter(Boolean);
  return { shown, note: `filter: ${parts.join(', ')}: ${shown.size} of ${findings.length} findings` };
}
