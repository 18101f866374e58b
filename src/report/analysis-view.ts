/**
 * What the text report reads of an analysis, so that it can be written without every finding
 * and session summary in memory: findings as a table (counted and grouped over all of them,
 * read in full only where printed), sessions digested in one pass (the few the report
 * describes one by one, tallies over the rest).
 */
import { findingTableOf, type AnalysisResult, type AnalysisStream, type AnalysisSummary, type FindingTable, type FirstDivergence, type SessionSummary } from '../replay/index.js';

/** Sessions described one by one up to this many; beyond, descriptions and notes are tallied. */
export const SESSIONS_LISTED = 3;

const REVISION_SOURCE: Record<SessionSummary['revisionSource'], string> = {
  option: 'from --rev',
  meta: 'from the meta record',
  guess: 'guessed from the bytes',
  default: 'assumed: nothing to guess from',
};

/** A session's description without its label (sessions with the same one are tallied). */
export function sessionDescription(s: SessionSummary): string {
  const helpers = s.helperSource === 'heuristic' ? 'found by the signature heuristic' : s.helperSource === 'none' ? 'not named (no fn.* meta, no --symbols)' : `named by ${s.helperSource}`;
  return `${s.revision} (${REVISION_SOURCE[s.revisionSource]}), recorded by ${s.sides.join('+')}, helpers ${helpers}, JS allocator: ${s.allocator === 'model' ? 'built-in model' : 'the --js-heap file'}`;
}

export function sessionNotes(s: SessionSummary): string[] {
  const notes = [...s.notes];
  if (s.readings.truncated) notes.push(`more readings of an ambiguous stretch than followed (${s.readings.max}); some findings may be possible rather than definite`);
  for (const [kind, n] of Object.entries(s.suppressed)) notes.push(`${n} more ${kind} findings not listed`);
  return notes;
}

export interface SessionRow {
  /** 1-based, in the order the sessions started. */
  readonly n: number;
  readonly ctx: string | undefined;
  readonly messages: number;
}

/** The sessions of an analysis as the text report uses them. */
export interface SessionDigest {
  readonly count: number;
  /** Each session's ctx, in order (session `n` is `ctxs[n - 1]`), for the filters and the CI reports' one entry per session. */
  readonly ctxs: ReadonlyArray<string | undefined>;
  /** The first sessions in full (the report lists them one by one when there are no more). */
  readonly first: readonly SessionSummary[];
  /** How many sessions gave each description, and each note, in order of first appearance. */
  readonly descriptions: ReadonlyMap<string, number>;
  readonly notes: ReadonlyMap<string, number>;
  /** Sessions whose ctx has findings, in order. */
  readonly withFindings: readonly SessionRow[];
  /** Sessions with objects alive at the end: how many, the first in full, and the groups added up by function. */
  readonly leaking: number;
  readonly firstLeaking: readonly SessionSummary[];
  readonly leaksBy: { readonly rust: ReadonlyMap<string, number>; readonly js: ReadonlyMap<string, number> };
}

export interface AnalysisView {
  readonly summary: AnalysisSummary;
  readonly firstDivergence?: FirstDivergence;
  readonly findings: FindingTable;
  readonly sessions: SessionDigest;
}

/** One pass over the sessions. `hasFindings` says which ctx labels the findings name. */
export function digestSessions(sessions: Iterable<SessionSummary>, hasFindings: (ctx: string) => boolean): SessionDigest {
  let count = 0;
  const ctxs: Array<string | undefined> = [];
  const first: SessionSummary[] = [];
  const descriptions = new Map<string, number>();
  const notes = new Map<string, number>();
  const withFindings: SessionRow[] = [];
  let leaking = 0;
  const firstLeaking: SessionSummary[] = [];
  const leaksBy = { rust: new Map<string, number>(), js: new Map<string, number>() };
  for (const s of sessions) {
    count++;
    ctxs.push(s.ctx);
    if (first.length < SESSIONS_LISTED) first.push(s);
    const description = sessionDescription(s);
    descriptions.set(description, (descriptions.get(description) ?? 0) + 1);
    for (const note of sessionNotes(s)) notes.set(note, (notes.get(note) ?? 0) + 1);
    if (hasFindings(s.ctx ?? '')) withFindings.push({ n: count, ctx: s.ctx, messages: s.messages });
    if (s.leaks.rust.length || s.leaks.js.length) {
      leaking++;
      if (firstLeaking.length < SESSIONS_LISTED) firstLeaking.push(s);
      for (const side of ['rust', 'js'] as const) for (const g of s.leaks[side]) leaksBy[side].set(g.fn, (leaksBy[side].get(g.fn) ?? 0) + g.count);
    }
  }
  return { count, ctxs, first, descriptions, notes, withFindings, leaking, firstLeaking, leaksBy };
}

/** The ctx labels of the findings (as the session table keys them). */
function ctxOfFindings(findings: FindingTable): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < findings.length; i++) out.add(findings.ctx(i) ?? '');
  return out;
}

/** The view of a collected result. */
export function viewOfResult(result: AnalysisResult): AnalysisView {
  return view(result.summary, result.firstDivergence, findingTableOf(result.findings), result.sessions);
}

/** A collected result is read through its view; a view as it is. */
export function asView(x: AnalysisResult | AnalysisView): AnalysisView {
  return Array.isArray((x as AnalysisResult).findings) ? viewOfResult(x as AnalysisResult) : (x as AnalysisView);
}

/** The view of a streamed analysis; it reads the stream's findings and sessions (once). */
export function viewOfStream(stream: AnalysisStream): AnalysisView {
  return view(stream.summary, stream.firstDivergence, stream.findings.table(), stream.sessions);
}

function view(summary: AnalysisSummary, firstDivergence: FirstDivergence | undefined, findings: FindingTable, sessions: Iterable<SessionSummary>): AnalysisView {
  const ctx = ctxOfFindings(findings);
  return { summary, ...(firstDivergence && { firstDivergence }), findings, sessions: digestSessions(sessions, (c) => ctx.has(c)) };
}
