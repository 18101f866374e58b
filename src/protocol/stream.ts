import type { BadRecord, MessageRecord, MetaRecord, Side, TraceRecord } from '../trace/record.js';
import { DEFAULT_MAX_OPEN_SESSIONS, SessionRouter } from '../trace/sessions.js';
import { flattenBatches } from '../trace/source.js';
import { ConversationDecoder } from './decoder.js';
import { DETECTION_SAMPLE, detectRevision, type RevisionGuess } from './detect.js';
import { HelperTable, type SymbolTable } from './helpers.js';
import type { DecodedMessage } from './messages.js';
import { featuresOf, isRevision, type Revision } from './revisions.js';

/** How the revision of a conversation was decided. */
export type RevisionSource = 'option' | 'meta' | 'guess';

/**
 * One conversation: the messages of one ctx as recorded by one side. Each has its own
 * decoder (type cache, callback table, open exchanges) and helper table.
 */
export interface Conversation {
  readonly key: string;
  readonly ctx: string | undefined;
  readonly side: Side | undefined;
  readonly decoder: ConversationDecoder;
  readonly helpers: HelperTable;
  revisionSource: RevisionSource;
  guess?: RevisionGuess;
}

export type DecodeEvent =
  | { readonly type: 'meta'; readonly record: MetaRecord; readonly problems: readonly string[] }
  | { readonly type: 'bad'; readonly record: BadRecord; readonly conversation?: Conversation }
  | { readonly type: 'message'; readonly message: DecodedMessage; readonly conversation: Conversation }
  /** A conversation could not be given a revision at all (no meta, no option, no R-Eval to guess from). */
  | { readonly type: 'undecidable'; readonly record: MessageRecord; readonly reason: string };

export interface DecodeStreamOptions {
  /** Overrides every meta record (`--rev`). */
  readonly rev?: Revision;
  readonly symbols?: SymbolTable;
}

/** Meta records of a ctx remembered per session, to apply to its conversations that start later. */
const MAX_META_KEPT = 64;

/** Records held back while a revision is guessed are bounded by this… */
export const MAX_HELD_RECORDS = 20_000;
/** …and by this many message bytes, so a few huge messages cannot hold back gigabytes. */
export const MAX_HELD_BYTES = 64 * 1024 * 1024;

export function conversationKey(ctx: string | undefined, side: Side | undefined): string {
  return `${ctx ?? ''}\u0000${side ?? ''}`;
}

/**
 * Turns a record stream into decoded messages, keeping one decoder per conversation and
 * applying meta records (revision, helper fn ids) to the conversations they scope. When no
 * revision is declared, records are held back (bounded) until the revision can be guessed.
 */
export function decodeRecords(
  records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>,
  options: DecodeStreamOptions = {},
): AsyncIterable<DecodeEvent> {
  // Each iteration starts over with its own decoder, as iterating `records` again would.
  return { [Symbol.asyncIterator]: () => flattenBatches(decodeRecordBatches(oneByOne(records), options))[Symbol.asyncIterator]() };
}

/** Records as batches of one, so that each record's events come out before the next is read. */
async function* oneByOne(records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>): AsyncGenerator<readonly TraceRecord[]> {
  for await (const record of records) yield [record];
}

/**
 * decodeRecords over batches of records (openTraceBatches): the events of each batch come
 * out as one array, decoded in a synchronous loop, so the cost per record is a function
 * call, not an await.
 */
export async function* decodeRecordBatches(
  batches: AsyncIterable<readonly TraceRecord[]> | Iterable<readonly TraceRecord[]>,
  options: DecodeStreamOptions = {},
): AsyncGenerator<DecodeEvent[]> {
  const decoder = new RecordStreamDecoder(options);
  for await (const batch of batches) {
    const out: DecodeEvent[] = [];
    for (let i = 0; i < batch.length; i++) decoder.push(batch[i]!, out);
    if (out.length > 0) yield out;
  }
  const out: DecodeEvent[] = [];
  decoder.end(out);
  if (out.length > 0) yield out;
}

/** The state behind decodeRecords: records pushed in one at a time, events appended to `out`. */
export class RecordStreamDecoder {
  /** Groups records by ctx (trace/sessions.ts); each session holds its sides' conversations. */
  private readonly router: SessionRouter<SessionConversations>;
  /** The open sessions by ctx key, as the router started them. */
  private readonly sessions = new Map<string, SessionConversations>();
  /** Declared revisions by scope `side|ctx` with `*` wildcards. */
  private readonly declaredRev = new Map<string, Revision>();
  /** What handing a record to the router came to (the router's sink cannot return it). */
  private outcome: 'hold' | 'done' = 'done';
  private final = false;
  private out: DecodeEvent[] = [];
  private metaProblems: string[] = [];
  private held: TraceRecord[] | undefined;
  private heldFor: string | undefined;
  private heldForCount = 0;
  private heldBytes = 0;

  constructor(private readonly options: DecodeStreamOptions = {}) {
    this.router = new SessionRouter<SessionConversations>(
      {
        start: (ctx) => {
          const s: SessionConversations = { ctx, bySide: [undefined, undefined, undefined], metas: [] };
          this.sessions.set(ctxKey(ctx), s);
          return s;
        },
        record: (s, rec) => {
          this.outcome = rec.kind === 'bad' ? this.bad(s, rec) : this.message(s, rec);
        },
        meta: (s, m) => this.metaFor(s, m),
        // A ctx that comes back after this starts with an empty type cache.
        closeIdle: (s) => {
          this.sessions.delete(ctxKey(s.ctx));
        },
      },
      DEFAULT_MAX_OPEN_SESSIONS,
    );
  }

  push(record: TraceRecord, out: DecodeEvent[]): void {
    if (this.held) {
      this.held.push(record);
      if (record.kind === 'message') {
        this.heldBytes += record.data.length;
        if (conversationKey(record.ctx, record.side) === this.heldFor) this.heldForCount++;
      }
      if (this.held.length >= MAX_HELD_RECORDS || this.heldForCount >= DETECTION_SAMPLE || this.heldBytes >= MAX_HELD_BYTES) this.release(out);
      return;
    }
    const outcome = this.handle(record, false, out);
    if (outcome === 'hold' && record.kind === 'message') {
      this.held = [record];
      this.heldFor = conversationKey(record.ctx, record.side);
      this.heldForCount = 1;
      this.heldBytes = record.data.length;
    }
  }

  /** The records ended: held records are decoded with whatever can be guessed. */
  end(out: DecodeEvent[]): void {
    if (this.held) this.release(out);
  }

  private find(ctx: string | undefined, side: Side | undefined): Conversation | undefined {
    return this.sessions.get(ctxKey(ctx))?.bySide[sideIndex(side)];
  }

  private declaredFor(side: Side | undefined, ctx: string | undefined): Revision | undefined {
    for (const k of scopeKeys(side, ctx)) {
      const r = this.declaredRev.get(k);
      if (r) return r;
    }
    return undefined;
  }

  private makeConversation(session: SessionConversations, side: Side | undefined, rev: Revision, source: RevisionSource, guess?: RevisionGuess): Conversation {
    const ctx = session.ctx;
    const helpers = new HelperTable(this.options.symbols);
    for (const meta of [...this.router.globalMeta, ...session.metas]) if (metaApplies(meta, side, ctx)) helpers.applyMeta(meta.fields);
    if (featuresOf(rev).allocator === 'explicit') helpers.expectDispose();
    const c: Conversation = {
      key: conversationKey(ctx, side),
      ctx,
      side,
      decoder: new ConversationDecoder(rev),
      helpers,
      revisionSource: source,
      ...(guess && { guess }),
    };
    session.bySide[sideIndex(side)] = c;
    return c;
  }

  private handle(record: TraceRecord, final: boolean, out: DecodeEvent[]): 'hold' | 'done' {
    this.final = final;
    this.out = out;
    this.outcome = 'done';
    if (record.kind === 'meta') {
      const problems: string[] = [];
      if (record.rev !== undefined) {
        if (isRevision(record.rev)) this.declaredRev.set(`${record.side ?? '*'}|${record.ctx ?? '*'}`, record.rev);
        else problems.push(`unknown revision "${record.rev}"`);
      }
      this.metaProblems = problems;
      this.router.push(record);
      out.push({ type: 'meta', record, problems: [...new Set(problems)] });
      return 'done';
    }
    this.router.push(record);
    return this.outcome;
  }

  /** A meta record reaches a session it scopes: its conversations take its revision and helper ids. */
  private metaFor(session: SessionConversations, meta: MetaRecord): void {
    if (meta.ctx !== undefined) remember(session.metas, meta);
    for (const c of session.bySide) {
      if (!c || !metaApplies(meta, c.side, c.ctx)) continue;
      if (meta.rev !== undefined && isRevision(meta.rev) && !this.options.rev) {
        c.decoder.setRevision(meta.rev);
        c.revisionSource = 'meta';
      }
      this.metaProblems.push(...c.helpers.applyMeta(meta.fields).map((f) => `bad helper key ${f}`));
    }
  }

  private bad(session: SessionConversations, record: BadRecord): 'done' {
    const c = session.bySide[sideIndex(record.side)];
    if (c) c.decoder.noteLostRecord();
    else if (record.side === undefined) {
      // Its side is unreadable (`side=JS`): it may be a lost record of any conversation of its ctx.
      for (const other of session.bySide) other?.decoder.noteLostRecord();
    }
    this.out.push(c ? { type: 'bad', record, conversation: c } : { type: 'bad', record });
    return 'done';
  }

  private message(session: SessionConversations, record: MessageRecord): 'hold' | 'done' {
    const options = this.options;
    let c = session.bySide[sideIndex(record.side)];
    if (!c) {
      const rev = options.rev ?? this.declaredFor(record.side, record.ctx);
      if (rev) {
        c = this.makeConversation(session, record.side, rev, options.rev ? 'option' : 'meta');
      } else if (!this.final) {
        return 'hold';
      } else {
        this.out.push({ type: 'undecidable', record, reason: 'no revision declared (meta rev= or --rev) and no R-Eval to guess it from' });
        return 'done';
      }
    }
    const message = c.decoder.decode(record);
    // The helpers learn from every message in order, so the names printed follow the evidence (wire §9.1).
    c.helpers.observeMessage(message, c.decoder.open);
    this.out.push({ type: 'message', message, conversation: c });
    return 'done';
  }

  /** Guesses revisions for the conversations the held records need, then replays them. */
  private release(out: DecodeEvent[]): void {
    const pending = this.held ?? [];
    this.held = undefined;
    this.heldFor = undefined;
    const samples = new Map<string, MessageRecord[]>();
    for (const r of pending) {
      if (r.kind !== 'message') continue;
      const k = conversationKey(r.ctx, r.side);
      if (this.find(r.ctx, r.side)) continue;
      let list = samples.get(k);
      if (!list) samples.set(k, (list = []));
      if (list.length < DETECTION_SAMPLE) list.push(r);
    }
    for (const sample of samples.values()) {
      const first = sample[0]!;
      if (this.find(first.ctx, first.side) || this.declaredFor(first.side, first.ctx)) continue;
      const guess = detectRevision(sample);
      if (guess) this.makeConversation(this.router.session(first.ctx), first.side, guess.rev, 'guess', guess);
    }
    for (const r of pending) this.handle(r, true, out);
  }
}

const ctxKey = (ctx: string | undefined): string => ctx ?? '\u0000';

const sideIndex = (side: Side | undefined): number => (side === 'rust' ? 0 : side === 'js' ? 1 : 2);

/** The conversations of one session (ctx), by side: rust, js, and records without a side. */
interface SessionConversations {
  readonly ctx: string | undefined;
  readonly bySide: [Conversation | undefined, Conversation | undefined, Conversation | undefined];
  /** The meta records of this ctx, newest last (bounded): conversations that start later take them. */
  readonly metas: MetaRecord[];
}

const scopeKeys = (side: Side | undefined, ctx: string | undefined): string[] => [
  `${side ?? '*'}|${ctx ?? '*'}`,
  `*|${ctx ?? '*'}`,
  `${side ?? '*'}|*`,
  '*|*',
];

const metaApplies = (meta: MetaRecord, side: Side | undefined, ctx: string | undefined): boolean =>
  (meta.side === undefined || meta.side === side) && (meta.ctx === undefined || meta.ctx === ctx);

function remember(list: MetaRecord[], meta: MetaRecord): void {
  list.push(meta);
  if (list.length > MAX_META_KEPT) list.shift();
}
