import { appendFile } from 'node:fs/promises';
import { analyzeStream, FINDING_KINDS, SEVERITY_RANK, type AnalysisResult, type AnalysisSummary, type Finding, type FindingKind, type RecordBatches, type Severity } from '../replay/index.js';
import type { Revision } from '../protocol/revisions.js';
import { analysisStreamToJson, analysisToJson, renderAnalysisText } from '../report/analysis.js';
import { viewOfStream } from '../report/analysis-view.js';
import { jsonDocument } from '../report/json-chunks.js';
import { findingIds } from '../report/finding-ids.js';
import { wrapLine } from '../report/wrap.js';
import { explainLines } from './explain.js';
import { InputPosition, progressText } from './progress.js';
import { githubAnnotations, stepSummaryMarkdown, type SessionFindings } from '../report/github.js';
import { junitXml } from '../report/junit.js';
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

/** Findings grouped by session, as the CI formats report them (only those `shown`, if given). */
export function sessionsOf(result: AnalysisResult, inputs: readonly string[], shown?: ReadonlySet<number>): SessionFindings[] {
  const byCtx = new Map<string, SessionFindings & { findings: AnalysisResult['findings']; indexes: number[] }>();
  for (const s of result.sessions) {
    const label = s.ctx ?? inputs.join(' + ');
    byCtx.set(s.ctx ?? '', { label, input: inputs[0] ?? '-', findings: [], indexes: [] });
  }
  for (const [i, f] of result.findings.entries()) {
    if (shown && !shown.has(i)) continue;
    const key = f.location.ctx ?? '';
    let entry = byCtx.get(key);
    if (!entry) byCtx.set(key, (entry = { label: f.location.ctx ?? inputs.join(' + '), input: f.location.input, findings: [], indexes: [] }));
    entry.findings.push(f);
    entry.indexes.push(i);
  }
  return [...byCtx.values()];
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
  // The plain reports never hold every finding and session summary: the JSON document is
  // written as they are read back, the text report counts over them and reads in full only
  // those it prints. Filters, --explain and the CI formats work on the collected result.
  if (opts.explain === undefined && !opts.junit && opts.kind === undefined && opts.ctx === undefined && opts.session === undefined) {
    if (format === 'json') {
      await writeChunks(io.stdout, jsonDocument(analysisStreamToJson(stream, inputs)));
      return verdict(stream.summary, inputs, threshold, io, err);
    }
    if (format === 'text') {
      await write(
        renderAnalysisText(viewOfStream(stream), inputs, color, {
          ...(opts.quiet && { quiet: true }),
          ...(opts.maxFindings !== undefined && { maxFindings: opts.maxFindings }),
        }),
      );
      return verdict(stream.summary, inputs, threshold, io, err);
    }
  }
  const result: AnalysisResult = { findings: [...stream.findings], sessions: [...stream.sessions], summary: stream.summary, ...(stream.firstDivergence && { firstDivergence: stream.firstDivergence }) };
  const ids = findingIds(result.findings);

  if (opts.explain !== undefined) {
    const index = ids.indexOf(opts.explain);
    if (index < 0) throw new UsageError(`--explain ${opts.explain}: no finding has this ID in ${inputs.join(', ')} (the IDs are in the text report and in --json)`);
    if (format === 'json') await writeOut(io.stdout, JSON.stringify({ id: ids[index], ...result.findings[index] }, null, 2) + '\n');
    else await write(await explainLines(result, index, ids, inputs, io, color, { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }) }));
    return SEVERITY_RANK[result.findings[index]!.severity] >= SEVERITY_RANK[opts.failOn ?? 'error'] ? EXIT_FINDINGS : EXIT_OK;
  }

  const filter = findingFilter(result, opts);
  const sessions = sessionsOf(result, inputs, filter?.shown);
  if (format === 'json') {
    await writeChunks(io.stdout, jsonDocument(analysisToJson(result, inputs, ids, filter?.shown)));
  } else {
    const lines: string[] = [];
    const idOf = idLookup(result, ids);
    if (format === 'github') lines.push(...githubAnnotations(sessions, { idOf }));
    lines.push(
      ...renderAnalysisText(result, inputs, color, {
        ids,
        ...(opts.quiet && { quiet: true }),
        ...(opts.maxFindings !== undefined && { maxFindings: opts.maxFindings }),
        ...(filter && { shown: filter.shown, filterNote: filter.note, placesPerGroup: Number.MAX_SAFE_INTEGER }),
      }),
    );
    await write(lines);
    const summaryFile = io.env.GITHUB_STEP_SUMMARY;
    if (format === 'github' && summaryFile) {
      try {
        await appendFile(summaryFile, stepSummaryMarkdown(sessions, undefined, idLookup(result, ids)));
      } catch (e) {
        throw new UsageError(`GITHUB_STEP_SUMMARY ${summaryFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
      }
    }
  }
  if (opts.junit) await writeOptionFile('--junit', opts.junit, junitXml(sessions));
  if (filter) {
    const unreadable = nothingReadable(result.summary, inputs);
    if (unreadable) return badInput(unreadable, io, err);
    return result.findings.some((f, i) => filter.shown.has(i) && SEVERITY_RANK[f.severity] >= threshold) ? EXIT_FINDINGS : EXIT_OK;
  }
  return verdict(result.summary, inputs, threshold, io, err);
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

function idLookup(result: AnalysisResult, ids: readonly string[]): (f: Finding) => string | undefined {
  const map = new Map(result.findings.map((f, i) => [f, ids[i]!] as const));
  return (f) => map.get(f);
}

function isFindingKind(k: string): k is FindingKind {
  return (FINDING_KINDS as readonly string[]).includes(k);
}

/** The findings --kind, --ctx and --session keep (a root kept keeps its consequences listed under it). */
export function findingFilter(result: AnalysisResult, opts: Pick<AnalyzeCliOptions, 'kind' | 'ctx' | 'session'>): { shown: Set<number>; note: string } | undefined {
  if (opts.kind === undefined && opts.ctx === undefined && opts.session === undefined) return undefined;
  if (opts.kind !== undefined && !isFindingKind(opts.kind)) throw new UsageError(`--kind ${opts.kind}: not a finding kind (docs/findings.md lists them: ${FINDING_KINDS.slice(0, 4).join(', ')}, …)`);
  let ctx: string | undefined | null = opts.ctx ?? null;
  if (opts.session !== undefined) {
    const s = result.sessions[opts.session - 1];
    if (!s) throw new UsageError(`--session ${opts.session}: there ${result.sessions.length === 1 ? 'is 1 session' : `are ${result.sessions.length} sessions`}`);
    if (opts.ctx !== undefined && s.ctx !== opts.ctx) throw new UsageError(`--session ${opts.session} is ctx=${s.ctx ?? '(none)'}, not ctx=${opts.ctx}`);
    ctx = s.ctx;
  }
  if (opts.ctx !== undefined && !result.sessions.some((s) => s.ctx === opts.ctx)) throw new UsageError(`--ctx ${opts.ctx}: no session has this label`);
  const shown = new Set<number>();
  result.findings.forEach((f, i) => {
    if (opts.kind !== undefined && f.kind !== opts.kind) return;
    if (ctx !== null && f.location.ctx !== ctx) return;
    shown.add(i);
  });
  const parts = [opts.kind !== undefined && `kind ${opts.kind}`, ctx !== null && (ctx === undefined ? 'the session without a ctx' : `ctx=${ctx}`)].filter(Boolean);
  return { shown, note: `filter: ${parts.join(', ')}: ${shown.size} of ${result.findings.length} findings` };
}
