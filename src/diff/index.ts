/**
 * `bridge-trace diff A B`: compares two recorded conversations semantically.
 *
 * Each trace is read once. The compared side's messages are flattened into the calls JS ran
 * (flatten.ts), with heap IDs and callback keys named by creation order (model.ts); the two
 * call streams are aligned with a bounded window (align.ts). In parallel, the same records
 * feed `analyze` (src/replay), whose findings are compared by kind and the function they
 * point at. The result is data; src/report/diff.ts renders it.
 */
import { analyze, type AnalysisResult, type Finding } from '../replay/index.js';
import type { SymbolTable } from '../protocol/helpers.js';
import type { Revision } from '../protocol/revisions.js';
import type { Side, TraceRecord } from '../trace/record.js';
import { alignStreams, DEFAULT_WINDOW, MIN_WINDOW, type AlignStats, type Category, type Step, type UnmatchedRelease } from './align.js';
import { renderItem, type Item, type ItemKind, type ItemLocation, type ItemStatus } from './items.js';
import { callStream, MAX_ACTIVE_SESSIONS, MessageLabels, newTraceInfo, type TraceInfo } from './stream.js';
import { Tee } from './tee.js';

export { DEFAULT_WINDOW, MIN_WINDOW, type Category } from './align.js';
export type { TraceInfo, ConversationInfo } from './stream.js';
export type { ItemLocation, ItemKind, ItemStatus } from './items.js';

/** Aligned calls of context shown around the first divergence, by default. */
export const DEFAULT_CONTEXT = 3;
/** Differences kept in the result's list (all are counted). */
export const DEFAULT_MAX_LISTED = 1000;
/** Steps of the first divergence's hunk kept after the context before it (the rest are counted). */
export const MAX_HUNK_STEPS = 40;
/** Records one input may run ahead of its second reader (the findings replay) before waiting. */
export const TEE_LIMIT = 4096;

export interface DiffOptions {
  /** Compare this recording side of each trace (default: JS if the trace has it, else Rust). */
  readonly side?: Side;
  /** Compare raw heap IDs and callback keys (and R-Eval preludes) instead of creation-order names. */
  readonly exactIds?: boolean;
  /** Calls of each trace the aligner looks ahead (default 1000). */
  readonly window?: number;
  /** Aligned calls shown before and after the first divergence (default 3). */
  readonly context?: number;
  /** Overrides the revision of both traces. */
  readonly rev?: Revision;
  readonly symbols?: SymbolTable;
  /** Replay both traces and compare their findings (default true). */
  readonly findings?: boolean;
  /** Differences listed in the result (default 1000; all are counted). */
  readonly maxListed?: number;
}

export interface DiffInput {
  /** The input's name for reports (a path, `-`). */
  readonly name: string;
  readonly records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>;
}

/** One call, rendered. */
export interface CallView {
  /** Position in its trace's call stream (0-based). */
  readonly index: number;
  readonly kind: ItemKind;
  readonly depth: number;
  /** `op 3: fn 21(#v1, #v2) -> JsValue #v8` */
  readonly text: string;
  readonly fnId?: number;
  readonly name?: string;
  readonly params: string;
  readonly ret: string;
  readonly status: ItemStatus;
  readonly location: ItemLocation;
}

export type StepType = Step['type'];

export interface StepView {
  readonly type: StepType;
  readonly a?: CallView;
  readonly b?: CallView;
  readonly categories?: readonly Category[];
  readonly details?: readonly string[];
}

export interface ReleaseView {
  /** The trace that made the release the other did not. */
  readonly side: 'a' | 'b';
  readonly what: 'drop' | 'dispose' | 'native-drop';
  /** The value (`#v3`) or callback (`callback k2`), as that trace names it. */
  readonly value: string;
  readonly raw: number;
  readonly origin: string;
  readonly location: ItemLocation;
}

export interface FindingDiff {
  readonly kind: string;
  /** The function of the op the findings point at, when known. */
  readonly at?: string;
  readonly a: number;
  readonly b: number;
  /** The first such finding of the trace that has more. */
  readonly example: { readonly side: 'a' | 'b'; readonly message: string; readonly location: Finding['location'] };
}

export interface DiffSummary {
  readonly same: number;
  readonly changed: number;
  readonly onlyA: number;
  readonly onlyB: number;
  readonly changedArguments: number;
  readonly changedReturnTypes: number;
  readonly changedResults: number;
  readonly changedIds: number;
  readonly releasesOnlyA: number;
  readonly releasesOnlyB: number;
  readonly findingsOnlyA: number;
  readonly findingsOnlyB: number;
}

export interface FirstDivergence {
  /** Call indexes where the two runs part (undefined on a side that has no call there). */
  readonly a?: number;
  readonly b?: number;
  /** Context before, the divergent steps, context after. */
  readonly steps: readonly StepView[];
  /** Steps of the hunk left out (beyond MAX_HUNK_STEPS). */
  readonly more: number;
}

export interface DiffResult {
  readonly equivalent: boolean;
  readonly a: TraceInfo;
  readonly b: TraceInfo;
  readonly options: { readonly exactIds: boolean; readonly side: Side | null; readonly window: number; readonly context: number; readonly findings: boolean };
  readonly notes: string[];
  /** Where the calls part; absent when every call agrees (releases or findings may still differ). */
  readonly firstDivergence?: FirstDivergence;
  readonly summary: DiffSummary;
  /** Every step that is not `same`, up to `maxListed`. */
  readonly differences: StepView[];
  readonly differencesTruncated: number;
  readonly releases: ReleaseView[];
  readonly findings: FindingDiff[];
  readonly findingsCompared: boolean;
  readonly stats: AlignStats & { readonly maxLive: number };
}

function callView(it: Item, exact: boolean): CallView {
  return {
    index: it.index,
    kind: it.kind,
    depth: it.depth,
    text: renderItem(it, exact),
    ...(it.fnId !== undefined && { fnId: it.fnId }),
    ...(it.name !== undefined && { name: it.name }),
    params: it.params,
    ret: it.ret,
    status: it.status,
    location: it.loc,
  };
}

export function stepView(s: Step, exact: boolean): StepView {
  switch (s.type) {
    case 'same':
      return { type: 'same', a: callView(s.a, exact), b: callView(s.b, exact) };
    case 'changed':
      return { type: 'changed', a: callView(s.a, exact), b: callView(s.b, exact), categories: s.categories, details: s.details.map((d) => d.text) };
    case 'only-a':
      return { type: 'only-a', a: callView(s.a, exact) };
    case 'only-b':
      return { type: 'only-b', b: callView(s.b, exact) };
  }
}

/** Collects the steps: context ring, first hunk, counts, the capped list of differences. */
class StepCollector {
  private readonly ring: Step[] = [];
  private hunk: StepView[] | undefined;
  private hunkState: 'none' | 'open' | 'closed' = 'none';
  private trailing = 0;
  private hunkSteps = 0;
  private more = 0;
  firstA: number | undefined;
  firstB: number | undefined;
  readonly counts = { same: 0, changed: 0, onlyA: 0, onlyB: 0, arguments: 0, 'return-type': 0, result: 0, ids: 0 };
  readonly differences: StepView[] = [];
  truncated = 0;

  constructor(
    private readonly context: number,
    private readonly maxListed: number,
    private readonly exact: boolean,
  ) {}

  step(s: Step): void {
    if (s.type === 'same') this.counts.same++;
    else if (s.type === 'changed') {
      this.counts.changed++;
      for (const c of s.categories) this.counts[c]++;
    } else if (s.type === 'only-a') this.counts.onlyA++;
    else this.counts.onlyB++;
    if (s.type !== 'same') {
      if (this.differences.length < this.maxListed) this.differences.push(stepView(s, this.exact));
      else this.truncated++;
    }
    switch (this.hunkState) {
      case 'none':
        if (s.type === 'same') {
          this.ring.push(s);
          if (this.ring.length > this.context) this.ring.shift();
          return;
        }
        this.hunk = this.ring.map((x) => stepView(x, this.exact));
        this.ring.length = 0;
        this.hunk.push(stepView(s, this.exact));
        this.hunkState = 'open';
        this.hunkSteps = 1;
        this.firstA = s.type === 'only-b' ? undefined : s.a.index;
        this.firstB = s.type === 'only-a' ? undefined : s.b.index;
        return;
      case 'open': {
        const full = this.hunkSteps >= MAX_HUNK_STEPS;
        if (s.type === 'same') {
          if (this.trailing < this.context && !full) {
            this.hunkSteps++;
            this.hunk!.push(stepView(s, this.exact));
          }
          this.trailing++;
          if (this.trailing >= this.context) this.hunkState = 'closed';
          return;
        }
        this.trailing = 0;
        if (full) {
          this.more++;
          return;
        }
        this.hunkSteps++;
        this.hunk!.push(stepView(s, this.exact));
        return;
      }
      case 'closed':
        return;
    }
  }

  firstDivergence(): FirstDivergence | undefined {
    if (!this.hunk) return undefined;
    return {
      ...(this.firstA !== undefined && { a: this.firstA }),
      ...(this.firstB !== undefined && { b: this.firstB }),
      steps: this.hunk,
      more: this.more,
    };
  }
}

function findingKey(f: Finding, labels: MessageLabels): { key: string; at?: string } {
  const at = labels.get(f.location.ctx, f.location.message, f.location.op);
  return { key: `${f.kind}\u0000${at ?? ''}`, ...(at !== undefined && { at }) };
}

/** Findings of one run the other does not have, by kind and the function they point at. */
export function compareFindings(a: AnalysisResult, b: AnalysisResult, labelsA: MessageLabels, labelsB: MessageLabels): FindingDiff[] {
  type Group = { kind: string; at?: string; a: Finding[]; b: Finding[]; order: number };
  const groups = new Map<string, Group>();
  let order = 0;
  const add = (side: 'a' | 'b', f: Finding, labels: MessageLabels): void => {
    const { key, at } = findingKey(f, labels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: f.kind, ...(at !== undefined && { at }), a: [], b: [], order: order++ }));
    g[side].push(f);
  };
  for (const f of a.findings) add('a', f, labelsA);
  for (const f of b.findings) add('b', f, labelsB);
  const out: FindingDiff[] = [];
  for (const g of [...groups.values()].sort((x, y) => x.order - y.order)) {
    if (g.a.length === g.b.length) continue;
    const side = g.a.length > g.b.length ? 'a' : 'b';
    const first = (side === 'a' ? g.a : g.b)[side === 'a' ? g.b.length : g.a.length]!;
    out.push({
      kind: g.kind,
      ...(g.at !== undefined && { at: g.at }),
      a: g.a.length,
      b: g.b.length,
      example: { side, message: first.message, location: first.location },
    });
  }
  return out;
}

/** The revisions of a trace's sessions, `+`-joined (`reserved-count`, `legacy+seq-id`). */
export function revisionsOf(info: TraceInfo): string {
  const revs = [...new Set(info.conversations.map((c) => c.revision))];
  return revs.length ? revs.join('+') : 'no revision';
}

function notesFor(a: TraceInfo, b: TraceInfo, exact: boolean, side: Side | undefined): string[] {
  const notes: string[] = [];
  const ra = revisionsOf(a);
  const rb = revisionsOf(b);
  if (ra !== rb) {
    notes.push(
      `revisions differ (A ${ra}, B ${rb}): the calls are compared; message preludes, callback key widths and policy words are revision-specific and ${exact ? 'compared as IDs' : 'not compared'}`,
    );
  }
  for (const [label, info] of [['A', a], ['B', b]] as const) {
    for (const c of info.conversations) {
      if (c.revisionSource === 'guess') {
        notes.push(`${label}: revision guessed as ${c.revision}${c.ctx !== undefined ? ` (ctx ${c.ctx})` : ''}${c.tied?.length ? `; also fits ${c.tied.join(', ')}` : ''}; declare it with a meta record or --rev`);
      }
    }
    if (info.side === undefined && info.messages > 0) notes.push(`${label}: the records carry no recording side; all of them were compared`);
    else if (side && info.side !== side) notes.push(`${label}: has no ${side}-side records`);
    if (info.badRecords > 0) notes.push(`${label}: ${info.badRecords} record${info.badRecords === 1 ? '' : 's'} could not be read or decoded and were skipped`);
    if (info.sessions > 1) notes.push(`${label}: ${info.sessions} sessions (ctx labels), compared as one stream in record order`);
    if (info.revived > 0) {
      notes.push(`${label}: ${info.revived} session${info.revived === 1 ? '' : 's'} had messages again after being ended (more than ${MAX_ACTIVE_SESSIONS} active at once); their later calls are named afresh`);
    }
  }
  if (exact) notes.push('--exact-ids: raw heap IDs, callback keys and R-Eval preludes are compared');
  return notes;
}

/** Compares two traces. Throws what reading an input throws (TraceInputError). */
export async function diffTraces(inA: DiffInput, inB: DiffInput, options: DiffOptions = {}): Promise<DiffResult> {
  const exact = options.exactIds ?? false;
  const window = Math.max(MIN_WINDOW, options.window ?? DEFAULT_WINDOW);
  const context = Math.max(0, options.context ?? DEFAULT_CONTEXT);
  const withFindings = options.findings ?? true;
  const infoA = newTraceInfo(inA.name);
  const infoB = newTraceInfo(inB.name);
  const labelsA = new MessageLabels();
  const labelsB = new MessageLabels();
  const streamOptions = {
    ...(options.side && { side: options.side }),
    exactIds: exact,
    ...(options.rev && { rev: options.rev }),
    ...(options.symbols && { symbols: options.symbols }),
  };
  const analyzeOptions = { ...(options.rev && { rev: options.rev }), ...(options.symbols && { symbols: options.symbols }) };

  let recordsA = inA.records;
  let recordsB = inB.records;
  const tees: Tee<TraceRecord>[] = [];
  let analyses: Promise<[AnalysisResult, AnalysisResult] | undefined> = Promise.resolve(undefined);
  if (withFindings) {
    const teeA = new Tee(inA.records, TEE_LIMIT);
    const teeB = new Tee(inB.records, TEE_LIMIT);
    tees.push(teeA, teeB);
    recordsA = teeA.branch(0);
    recordsB = teeB.branch(0);
    analyses = Promise.all([analyze(teeA.branch(1), analyzeOptions), analyze(teeB.branch(1), analyzeOptions)]);
    // Awaited below; a failure here is the same input failure the diff reports.
    analyses.catch(() => undefined);
  }

  const collector = new StepCollector(context, options.maxListed ?? DEFAULT_MAX_LISTED, exact);
  const itA = callStream(recordsA, infoA, streamOptions, labelsA)[Symbol.asyncIterator]();
  const itB = callStream(recordsB, infoB, streamOptions, labelsB)[Symbol.asyncIterator]();
  let aligned;
  try {
    aligned = await alignStreams(itA, itB, { window, exactIds: exact }, collector);
  } catch (e) {
    // An input failed: stop the replays too (they see the end of their input).
    for (const t of tees) {
      t.abandon(0);
      t.abandon(1);
    }
    throw e;
  }
  // The replays read on from the tees' buffers alone.
  for (const t of tees) t.abandon(0);
  let findings: FindingDiff[] = [];
  let findingsCompared = false;
  let findingsProblem: string | undefined;
  const results = await analyses.catch((e: unknown) => {
    findingsProblem = e instanceof Error ? e.message : String(e);
    return undefined;
  });
  if (results) {
    findings = compareFindings(results[0], results[1], labelsA, labelsB);
    findingsCompared = true;
  }
  const releases: ReleaseView[] = aligned.unmatchedReleases.map((u: UnmatchedRelease) => ({
    side: u.side,
    what: u.release.what,
    value: u.what,
    raw: u.release.raw,
    origin: u.release.rec.origin,
    location: u.release.loc,
  }));
  const c = collector.counts;
  const summary: DiffSummary = {
    same: c.same,
    changed: c.changed,
    onlyA: c.onlyA,
    onlyB: c.onlyB,
    changedArguments: c.arguments,
    changedReturnTypes: c['return-type'],
    changedResults: c.result,
    changedIds: c.ids,
    releasesOnlyA: releases.filter((r) => r.side === 'a').length,
    releasesOnlyB: releases.filter((r) => r.side === 'b').length,
    findingsOnlyA: findings.reduce((n, f) => n + Math.max(0, f.a - f.b), 0),
    findingsOnlyB: findings.reduce((n, f) => n + Math.max(0, f.b - f.a), 0),
  };
  const equivalent = c.changed === 0 && c.onlyA === 0 && c.onlyB === 0 && releases.length === 0 && findings.length === 0;
  const first = collector.firstDivergence();
  return {
    equivalent,
    a: infoA,
    b: infoB,
    options: { exactIds: exact, side: options.side ?? null, window, context, findings: withFindings },
    notes: [...notesFor(infoA, infoB, exact, options.side), ...(findingsProblem !== undefined ? [`findings could not be compared: ${findingsProblem}`] : [])],
    ...(first && { firstDivergence: first }),
    summary,
    differences: collector.differences,
    differencesTruncated: collector.truncated,
    releases,
    findings,
    findingsCompared,
    stats: { ...aligned.stats, maxLive: Math.max(infoA.maxLive, infoB.maxLive) },
  };
}
