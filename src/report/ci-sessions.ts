/**
 * Findings grouped by session, as the CI reports (GitHub annotations and step summary, JUnit)
 * read them: one entry per session, its findings as indexes into the analysis's finding table,
 * so the reports count and group over every finding and read in full only those they write.
 */
import { findingTableOf, type AnalysisResult, type Finding, type FindingTable } from '../replay/index.js';
import { asView, type AnalysisView } from './analysis-view.js';

/** One session's findings, collected (the library's original form of the CI reports' input). */
export interface SessionFindings {
  /** What the session is called in reports: its ctx label, or the input name. */
  readonly label: string;
  readonly input: string;
  readonly findings: readonly Finding[];
}

/** One session as the CI reports list it. */
export interface SessionEntry {
  readonly label: string;
  readonly input: string;
  /** Indexes into the table, in list order. */
  readonly findings: readonly number[];
}

export interface FindingsBySession {
  readonly findings: FindingTable;
  readonly sessions: readonly SessionEntry[];
  /** The stable ID of finding `i`, for the step summary and `--explain`. */
  readonly idOf?: (i: number) => string | undefined;
}

export interface FindingsBySessionOptions {
  /** Only these findings (indexes into the table); all when absent. */
  readonly shown?: ReadonlySet<number>;
  /** Finding IDs, parallel to the table. */
  readonly ids?: readonly string[];
}

/**
 * One entry per session ctx, in the order the sessions started (a clean session is listed
 * too: it is a passing test case), then any ctx only the findings name. A session without a
 * ctx is called by the input names.
 */
export function findingsBySession(analysis: AnalysisResult | AnalysisView, inputs: readonly string[], opts: FindingsBySessionOptions = {}): FindingsBySession {
  const v = asView(analysis);
  const table = v.findings;
  const byCtx = new Map<string, { label: string; input: string; findings: number[] }>();
  for (const ctx of v.sessions.ctxs) {
    if (!byCtx.has(ctx ?? '')) byCtx.set(ctx ?? '', { label: ctx ?? inputs.join(' + '), input: inputs[0] ?? '-', findings: [] });
  }
  for (let i = 0; i < table.length; i++) {
    if (opts.shown && !opts.shown.has(i)) continue;
    const ctx = table.ctx(i);
    let entry = byCtx.get(ctx ?? '');
    if (!entry) byCtx.set(ctx ?? '', (entry = { label: ctx ?? inputs.join(' + '), input: table.at(i).location.input, findings: [] }));
    entry.findings.push(i);
  }
  const ids = opts.ids;
  return { findings: table, sessions: [...byCtx.values()], ...(ids && { idOf: (i: number) => ids[i] }) };
}

/** Collected sessions as a table over their findings taken in order. */
export function findingsBySessionOf(sessions: readonly SessionFindings[], idOf?: (f: Finding) => string | undefined): FindingsBySession {
  const all: Finding[] = [];
  const entries = sessions.map((s) => ({ label: s.label, input: s.input, findings: s.findings.map((f) => all.push(f) - 1) }));
  return { findings: findingTableOf(all), sessions: entries, ...(idOf && { idOf: (i: number) => idOf(all[i]!) }) };
}

/** The reports take either form; the collected one is read through a table. */
export function asFindingsBySession(x: readonly SessionFindings[] | FindingsBySession, idOf?: (f: Finding) => string | undefined): FindingsBySession {
  return isCollected(x) ? findingsBySessionOf(x, idOf) : x;
}

function isCollected(x: readonly SessionFindings[] | FindingsBySession): x is readonly SessionFindings[] {
  return Array.isArray(x);
}
