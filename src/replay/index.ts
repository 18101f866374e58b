/**
 * The replay and findings engine: decodes each session's messages, replays the Rust and
 * JS heap-ID allocators side by side, and reports where and why they diverged
 * (docs/findings.md). Findings are data; rendering them is the reporters' job.
 */
import { detectRevision as guessRevision } from '../protocol/detect.js';
import type { SymbolTable } from '../protocol/helpers.js';
import type { Revision } from '../protocol/revisions.js';
import type { MessageRecord, Side, TraceRecord } from '../trace/record.js';
import { Collector, type PackedFindings } from './collector.js';
import { PackedTexts } from './packed-text.js';
import type { Finding, Severity } from './findings.js';
import type { JsSnapshot } from './js/model.js';
import { loadJsHeap } from './js/heap-file.js';
import type { RustSnapshot } from './rust/model.js';
import type { IdEvent } from './ids.js';
import type { DivergenceCapture, MessageSummary } from './session/divergence.js';
import { DEFAULT_MAX_OPEN_SESSIONS, SessionRouter } from '../trace/sessions.js';
import { Session } from './session/session.js';
import type { ReplayStep, SessionSummary } from './session/summary.js';

export * from './findings.js';
export type { PackedFindings } from './collector.js';
export type { ReplayStep, SessionSummary, LeakGroup, SessionHelperSource } from './session/summary.js';
export type { MessageSummary } from './session/divergence.js';
export type { RustSnapshot } from './rust/model.js';
export type { IdEvent } from './ids.js';
export type { JsSnapshot } from './js/model.js';
export type { RealHeap } from './js/heap.js';
export { loadJsHeap, compileJsHeap, JsHeapLoadError } from './js/heap-file.js';

export interface AnalyzeOptions {
  /** Overrides every meta record's revision. */
  rev?: Revision;
  /** Used when there is no meta record, no `rev` and nothing to guess from. Default `reserved-count`. */
  defaultRevision?: Revision;
  /** Guesses a revision from a session's first message records. Default: protocol/detect.ts. */
  detectRevision?: (firstRecords: MessageRecord[]) => { rev: Revision; guessed: true } | undefined;
  /** Names for fn ids (helpers and user functions). */
  symbols?: SymbolTable;
  /** Do not narrow op windows with the callback-holder heuristic (allocators.md §8). */
  strict?: boolean;
  /** Path of the user's own JS heap (`heap.ts` or built `.js`) to drive instead of the built-in model. */
  jsHeap?: string;
  /** Readings of an ambiguous trace followed at once per session. Default 16. */
  maxReadings?: number;
  /** Consequence findings kept per root (the rest are counted). Default 50. */
  maxConsequences?: number;
  /** Root findings kept per kind and session (the rest are counted). Default 1000. */
  maxRootsPerKind?: number;
  /** Findings kept in all (the rest are counted per session and kind). Default 20000. */
  maxFindings?: number;
  /**
   * Sessions (ctx labels) replayed at once. When a log holds more, the one unseen for the
   * longest is finished and its state released, so memory is bounded by the sessions alive
   * together rather than by all the sessions of the log. Default 64 (`DEFAULT_MAX_OPEN_SESSIONS`).
   */
  maxActiveSessions?: number;
  /** Emit a leak-summary finding whenever objects are alive at the end (default: only when the sides disagree). */
  reportLeaks?: boolean;
  /** Called after every replay step with counters of the preferred reading. */
  onStep?: (step: ReplayStep) => void;
  /** Called after each batch of records with the number of records replayed so far (for progress displays). */
  onProgress?: (records: number) => void;
  /**
   * Called when a model creates or frees a heap ID (preferred reading, delivered before the
   * `onStep` of the step that caused it). Only collected when set.
   */
  onIdEvent?: (event: IdEvent) => void;
}

/** One input file. `side` is applied to records that carry none. */
export interface AnalyzeInput {
  readonly records: RecordStream;
  readonly side?: Side;
}

/** A single record stream (one log, possibly with both sides' records), or several inputs read together. */
export type AnalyzeSource = RecordStream | { readonly inputs: readonly AnalyzeInput[] };

/**
 * Records in batches, as `openTraceBatches` reads them: the replay loops over each batch
 * synchronously, one await per batch instead of one per record.
 */
export interface RecordBatches {
  readonly batches: AsyncIterable<readonly TraceRecord[]>;
}

/** Records one at a time (sync or async), or in batches. */
export type RecordStream = AsyncIterable<TraceRecord> | Iterable<TraceRecord> | RecordBatches;

export interface FirstDivergence {
  /** Index in `findings` of the root cause. */
  finding: number;
  /** The root's own message number (as in its location). */
  message: number;
  /** The messages around it, in message order (up to 3 before and 3 after). */
  window: MessageSummary[];
  /** Each model just after it replayed its copy of that message (preferred reading). */
  rustState: RustSnapshot;
  jsState: JsSnapshot;
  /**
   * The message each state is taken after: `message`, unless that side never replayed it, or
   * replayed it too long before the root was reported to keep its state; then the last message.
   */
  stateAfter: { rust: number; js: number };
}

export interface AnalysisSummary {
  sessions: number;
  records: number;
  messages: number;
  findings: number;
  roots: number;
  consequences: number;
  bySeverity: Record<Severity, number>;
  byKind: Record<string, number>;
}

export interface AnalysisResult {
  /** Root causes first, ordered by where they were detected; then their consequences. */
  findings: Finding[];
  sessions: SessionSummary[];
  summary: AnalysisSummary;
  firstDivergence?: FirstDivergence;
}

/**
 * An analysis whose findings and session summaries are read back one at a time as they are
 * iterated, for reports that write them out in order (`analyze --json`): the replay keeps
 * a finished session's findings and summary packed (out of the heap, and past 1 MiB in
 * a temporary file), so neither the replay nor such a report holds them all at once.
 * Each of `findings` and `sessions` can be iterated once; `analyze` collects both.
 */
export interface AnalysisStream {
  readonly summary: AnalysisSummary;
  readonly firstDivergence?: FirstDivergence;
  /** Root causes first, ordered by where they were detected; then their consequences. Read once. */
  readonly findings: PackedFindings;
  /** In the order the sessions started. One pass. */
  readonly sessions: Iterable<SessionSummary>;
}

export async function analyze(source: AnalyzeSource, options: AnalyzeOptions = {}): Promise<AnalysisResult> {
  const r = await analyzeStream(source, options);
  return { findings: [...r.findings], sessions: [...r.sessions], summary: r.summary, ...(r.firstDivergence && { firstDivergence: r.firstDivergence }) };
}

export async function analyzeStream(source: AnalyzeSource, options: AnalyzeOptions = {}): Promise<AnalysisStream> {
  const realHeap = options.jsHeap ? await loadJsHeap(options.jsHeap) : undefined;
  const collector = new Collector(options.maxConsequences ?? 50, options.maxRootsPerKind ?? 1000, options.maxFindings ?? 20_000);
  // Only the capture of the earliest session can be the first divergence of the result.
  const captures: DivergenceCapture[] = [];
  const maxActive = Math.max(1, options.maxActiveSessions ?? DEFAULT_MAX_OPEN_SESSIONS);
  /** Summaries of sessions finished early, as packed JSON text until the end (a log may hold thousands). */
  const retired = new PackedTexts();
  // What the summary adds up of the retired sessions, counted as they retire.
  let retiredRecords = 0;
  let retiredMessages = 0;
  const idleNote = `ended when idle: ${maxActive} newer sessions had started since its last record (sessions are ended when idle, to bound memory)`;
  const reopenedNote = `this ctx was seen before, and ended when idle after ${maxActive} newer sessions had started; it starts over here without its earlier state`;
  const router: SessionRouter<Session> = new SessionRouter<Session>(
    {
      start: (ctx, order, reopened) => {
        const s = new Session(ctx, order, env);
        if (reopened) s.note(reopenedNote);
        return s;
      },
      record: (s, rec) => s.push(rec),
      meta: (s, m) => s.meta(m),
      closeIdle: (s) => {
        // Not a problem in itself (sessions that run one after another all end this way); it
        // matters only if the ctx shows up again, which the next session then says.
        s.note(idleNote);
        s.finish();
        const summary = s.summary();
        retiredRecords += summary.records;
        retiredMessages += summary.messages;
        retired.add(JSON.stringify(summary));
        collector.forget(s.order);
      },
    },
    maxActive,
  );
  const detect =
    options.detectRevision ??
    ((records: MessageRecord[]) => {
      const g = guessRevision(records);
      return g ? { rev: g.rev, guessed: true as const } : undefined;
    });
  const env = {
    ...(options.rev && { rev: options.rev }),
    ...(options.defaultRevision && { defaultRevision: options.defaultRevision }),
    detectRevision: detect,
    ...(options.symbols && { symbols: options.symbols }),
    strict: options.strict ?? false,
    maxWorlds: Math.max(1, options.maxReadings ?? 16),
    reportLeaks: options.reportLeaks ?? false,
    ...(realHeap && { realHeap }),
    collector,
    ...(options.onStep && { onStep: options.onStep }),
    ...(options.onIdEvent && { onIdEvent: options.onIdEvent }),
    globalMeta: router.globalMeta,
    divergence: {
      capture: (c: DivergenceCapture) => {
        if (captures.length > 0 && captures[0]!.session < c.session) return;
        captures.length = 0;
        captures.push(c);
      },
      // A session after the one that captured the first divergence cannot replace it.
      hasCapture: (session: number) => captures.length > 0 && captures[0]!.session < session,
    },
  };
  let recordsRead = 0;
  const onProgress = options.onProgress;
  for await (const batch of batchesOf(source)) {
    recordsRead += batch.length;
    for (let i = 0; i < batch.length; i++) router.push(batch[i]!);
    onProgress?.(recordsRead);
  }
  const list = router.openSessions().sort((a, b) => a.order - b.order);
  for (const s of list) s.finish();
  const ordered = collector.finalizeStream((n) => n);
  const idMap = ordered.idMap;
  const open = list.map((s) => s.summary());
  let first: FirstDivergence | undefined;
  for (const c of captures) {
    const idx = idMap.get(c.findingId);
    if (idx === undefined) continue;
    if (!c.rust || !c.js) continue;
    if (!first || idx < first.finding) first = { finding: idx, message: c.message, window: c.window, rustState: c.rust.state, jsState: c.js.state, stateAfter: { rust: c.rust.message, js: c.js.message } };
  }
  function* sessions(): Generator<SessionSummary> {
    try {
      for (let i = 0; i < retired.size; i++) yield JSON.parse(retired.get(i)) as SessionSummary;
    } finally {
      retired.clear();
    }
    yield* open;
  }
  return {
    findings: ordered.findings,
    sessions: sessions(),
    summary: {
      sessions: retired.size + open.length,
      records: open.reduce((n, s) => n + s.records, retiredRecords),
      messages: open.reduce((n, s) => n + s.messages, retiredMessages),
      findings: ordered.count,
      roots: ordered.roots,
      consequences: ordered.count - ordered.roots,
      bySeverity: ordered.bySeverity,
      byKind: ordered.byKind,
    },
    ...(first && { firstDivergence: first }),
  };
}

/** Records handed to the replay per batch when a source gives them one by one and synchronously. */
const SYNC_BATCH = 4096;

/** One input as batches, whatever form it comes in. */
async function* batchesOfStream(src: RecordStream): AsyncGenerator<readonly TraceRecord[]> {
  if ('batches' in src) {
    yield* src.batches;
  } else if (Symbol.asyncIterator in src) {
    for await (const rec of src as AsyncIterable<TraceRecord>) yield [rec];
  } else {
    let batch: TraceRecord[] = [];
    for (const rec of src as Iterable<TraceRecord>) {
      batch.push(rec);
      if (batch.length >= SYNC_BATCH) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }
}

/**
 * Reads one stream, or several inputs interleaved record by record (so both sides advance
 * together), in batches. The interleaving is the same whatever the batch sizes.
 */
async function* batchesOf(source: AnalyzeSource): AsyncGenerator<readonly TraceRecord[]> {
  if (!('inputs' in source)) {
    yield* batchesOfStream(source);
    return;
  }
  const cursors = source.inputs.map((i) => ({ it: batchesOfStream(i.records), side: i.side, batch: [] as readonly TraceRecord[], at: 0, done: false }));
  let open = cursors.length;
  let out: TraceRecord[] = [];
  while (open > 0) {
    for (const x of cursors) {
      if (x.done) continue;
      while (x.at >= x.batch.length) {
        if (out.length > 0) {
          yield out;
          out = [];
        }
        const r = await x.it.next();
        if (r.done) {
          x.done = true;
          open--;
          break;
        }
        x.batch = r.value;
        x.at = 0;
      }
      if (x.done) continue;
      const rec = x.batch[x.at++]!;
      out.push(x.side && rec.side === undefined ? { ...rec, side: x.side } : rec);
    }
  }
  if (out.length > 0) yield out;
}
