import { appendFile } from 'node:fs/promises';
import { analyze, SEVERITY_RANK, type AnalysisResult, type Severity } from '../replay/index.js';
import type { Revision } from '../protocol/revisions.js';
import { openTrace } from '../trace/source.js';
import { analysisToJson, renderAnalysisText } from '../report/analysis.js';
import { githubAnnotations, stepSummaryMarkdown, type SessionFindings } from '../report/github.js';
import { junitXml } from '../report/junit.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, LineBuffer, Progress, colorFor, writeOut, type CliIO } from './io.js';
import { checkReadable, checkWritableDir, loadSymbols, writeOptionFile } from './options.js';
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
}

/** Findings grouped by session, as the CI formats report them. */
export function sessionsOf(result: AnalysisResult, inputs: readonly string[]): SessionFindings[] {
  const byCtx = new Map<string, SessionFindings & { findings: AnalysisResult['findings'] }>();
  for (const s of result.sessions) {
    const label = s.ctx ?? inputs.join(' + ');
    byCtx.set(s.ctx ?? '', { label, input: inputs[0] ?? '-', findings: [] });
  }
  for (const f of result.findings) {
    const key = f.location.ctx ?? '';
    let entry = byCtx.get(key);
    if (!entry) byCtx.set(key, (entry = { label: f.location.ctx ?? inputs.join(' + '), input: f.location.input, findings: [] }));
    entry.findings.push(f);
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
  const sources: Array<{ records: AsyncIterable<import('../trace/record.js').TraceRecord> }> = [];
  await checkDistinctInputs(inputs);
  for await (const { records } of readInputs(inputs, io, problems)) sources.push({ records });
  const progress = new Progress(io, format !== 'json');
  let steps = 0;
  const result = await analyze(sources.length === 1 ? sources[0]!.records : { inputs: sources }, {
    ...(opts.rev && { rev: opts.rev }),
    ...(symbols && { symbols }),
    ...(opts.jsHeap && { jsHeap: opts.jsHeap }),
    ...(opts.strict && { strict: true }),
    onStep: () => {
      steps++;
      if ((steps & 1023) === 0) progress.update(() => `replaying… ${steps.toLocaleString('en-US')} messages`);
    },
  });
  progress.done();
  for (const p of problems) io.stderr.write(`${err.red('error:')} ${p.message}\n`);
  if (problems.length) return EXIT_BAD_INPUT;
  if (result.summary.records === 0) {
    const message = `no @btrace records found in ${inputs.join(', ')}`;
    if (!opts.allowEmpty) {
      io.stderr.write(`${err.red('error:')} ${message} (pass --allow-empty to accept a log without any)\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr.write(`${err.yellow('note:')} ${message}\n`);
  }
  const sessions = sessionsOf(result, inputs);
  if (format === 'json') {
    await writeOut(io.stdout, JSON.stringify(analysisToJson(result, inputs), null, 2) + '\n');
  } else {
    const out = new LineBuffer(io.stdout);
    if (format === 'github') for (const line of githubAnnotations(sessions)) await out.push(line);
    for (const line of renderAnalysisText(result, inputs, color, { ...(opts.quiet && { quiet: true }) })) await out.push(line);
    await out.flush();
    const summaryFile = io.env.GITHUB_STEP_SUMMARY;
    if (format === 'github' && summaryFile) await appendFile(summaryFile, stepSummaryMarkdown(sessions));
  }
  if (opts.junit) await writeOptionFile('--junit', opts.junit, junitXml(sessions));
  // Only a record that could not be read at all makes the input "bad"; findings decide exit 1.
  if (result.summary.messages === 0 && result.summary.records > 0 && result.findings.every((f) => f.kind === 'bad-record')) return EXIT_BAD_INPUT;
  const threshold = SEVERITY_RANK[opts.failOn ?? 'error'];
  return result.findings.some((f) => SEVERITY_RANK[f.severity] >= threshold) ? EXIT_FINDINGS : EXIT_OK;
}
