import type { BadRecord, MessageRecord, MetaRecord, Side, TraceRecord } from '../trace/record.js';
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

/**
 * Conversations decoded at once. Past this, the one seen least recently is released; if its
 * ctx comes back it starts with an empty type cache (a log rarely interleaves this many).
 */
export const MAX_OPEN_CONVERSATIONS = 512;

/** Meta records remembered per scope, to apply to conversations that start later. */
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
  return {
    [Symbol.asyncIterator](): AsyncIterator<DecodeEvent> {
      const decoder = new RecordStreamDecoder(options);
      const source: Iterator<TraceRecord> | AsyncIterator<TraceRecord> =
        Symbol.asyncIterator in records ? records[Symbol.asyncIterator]() : records[Symbol.iterator]();
      // Events of the last record pushed; an event in hand costs one resolved promise.
      let out: DecodeEvent[] = [];
      let index = 0;
      let finished = false;
      const pull = async (): Promise<IteratorResult<DecodeEvent>> => {
        while (!finished) {
          const next = await source.next();
          out = [];
          index = 0;
          if (next.done) {
            finished = true;
            decoder.end(out);
          } else decoder.push(next.value, out);
          if (out.length > 0) return { value: out[index++]!, done: false };
        }
        return { value: undefined, done: true };
      };
      return {
        next: () => (index < out.length ? Promise.resolve({ value: out[index++]!, done: false }) : pull()),
        return: async (): Promise<IteratorResult<DecodeEvent>> => {
          finished = true;
          out = [];
          await source.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
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
  /** Open conversations by key, each with the tick it was last seen at (the least recent is released first). */
  private readonly conversations = new Map<string, OpenConversation>();
  /** The same by side (rust, js, none) and then ctx: a record finds its conversation without building its key. */
  private readonly bySide = [new Map<string, OpenConversation>(), new Map<string, OpenConversation>(), new Map<string, OpenConversation>()];
  private tick = 0;
  /** The same conversations by ctx, so a meta record scoped to one ctx touches only its own. */
  private readonly byCtx = new Map<string, Conversation[]>();
  /** Declared revisions by scope `side|ctx` with `*` wildcards. */
  private readonly declaredRev = new Map<string, Revision>();
  /** Meta records without ctx (apply to every conversation) and per ctx, each list bounded. */
  private readonly globalMeta: MetaRecord[] = [];
  private readonly ctxMeta = new Map<string, MetaRecord[]>();
  private held: TraceRecord[] | undefined;
  private heldFor: string | undefined;
  private heldForCount = 0;
  private heldBytes = 0;

  constructor(private readonly options: DecodeStreamOptions = {}) {}

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

  private find(ctx: string | undefined, side: Side | undefined): OpenConversation | undefined {
    return this.bySide[sideIndex(side)]!.get(ctxKey(ctx));
  }

  /** Conversations a meta record can apply to: all of them (least recently seen first) or those of its ctx. */
  private scopedBy(meta: MetaRecord): Iterable<Conversation> {
    if (meta.ctx !== undefined) return this.byCtx.get(ctxKey(meta.ctx)) ?? [];
    return [...this.conversations.values()].sort((a, b) => a.seen - b.seen).map((o) => o.conversation);
  }

  private declaredFor(side: Side | undefined, ctx: string | undefined): Revision | undefined {
    for (const k of scopeKeys(side, ctx)) {
      const r = this.declaredRev.get(k);
      if (r) return r;
    }
    return undefined;
  }

  private makeConversation(side: Side | undefined, ctx: string | undefined, rev: Revision, source: RevisionSource, guess?: RevisionGuess): Conversation {
    const helpers = new HelperTable(this.options.symbols);
    for (const meta of [...this.globalMeta, ...(this.ctxMeta.get(ctxKey(ctx)) ?? [])]) if (metaApplies(meta, side, ctx)) helpers.applyMeta(meta.fields);
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
    const open: OpenConversation = { conversation: c, seen: ++this.tick };
    this.conversations.set(c.key, open);
    this.bySide[sideIndex(side)]!.set(ctxKey(ctx), open);
    const same = this.byCtx.get(ctxKey(ctx));
    if (same) same.push(c);
    else this.byCtx.set(ctxKey(ctx), [c]);
    if (this.conversations.size > MAX_OPEN_CONVERSATIONS) this.forgetOldest();
    return c;
  }

  /** Releases the conversation seen least recently (a long log of many sessions stays bounded). */
  private forgetOldest(): void {
    let oldest: OpenConversation | undefined;
    for (const o of this.conversations.values()) if (oldest === undefined || o.seen < oldest.seen) oldest = o;
    if (oldest === undefined) return;
    const c = oldest.conversation;
    this.conversations.delete(c.key);
    this.bySide[sideIndex(c.side)]!.delete(ctxKey(c.ctx));
    const same = this.byCtx.get(ctxKey(c.ctx))?.filter((x) => x !== c);
    if (same?.length) this.byCtx.set(ctxKey(c.ctx), same);
    else this.byCtx.delete(ctxKey(c.ctx));
  }

  private handle(record: TraceRecord, final: boolean, out: DecodeEvent[]): 'hold' | 'done' {
    const options = this.options;
    if (record.kind === 'meta') {
      const problems: string[] = [];
      if (record.rev !== undefined) {
        if (isRevision(record.rev)) {
          this.declaredRev.set(`${record.side ?? '*'}|${record.ctx ?? '*'}`, record.rev);
          if (!options.rev) {
            for (const c of this.scopedBy(record)) {
              if (metaApplies(record, c.side, c.ctx)) {
                c.decoder.setRevision(record.rev);
                c.revisionSource = 'meta';
              }
            }
          }
        } else {
          problems.push(`unknown revision "${record.rev}"`);
        }
      }
      if (record.ctx === undefined) remember(this.globalMeta, record);
      else {
        let list = this.ctxMeta.get(ctxKey(record.ctx));
        if (!list) this.ctxMeta.set(ctxKey(record.ctx), (list = []));
        remember(list, record);
      }
      for (const c of this.scopedBy(record)) {
        if (metaApplies(record, c.side, c.ctx)) problems.push(...c.helpers.applyMeta(record.fields).map((f) => `bad helper key ${f}`));
      }
      out.push({ type: 'meta', record, problems: [...new Set(problems)] });
      return 'done';
    }
    if (record.kind === 'bad') {
      const c = this.find(record.ctx, record.side)?.conversation;
      if (c) c.decoder.noteLostRecord();
      else if (record.side === undefined) {
        // Its side is unreadable (`side=JS`): it may be a lost record of any conversation of its ctx.
        for (const other of this.byCtx.get(ctxKey(record.ctx)) ?? []) other.decoder.noteLostRecord();
      }
      out.push(c ? { type: 'bad', record, conversation: c } : { type: 'bad', record });
      return 'done';
    }
    const open = this.find(record.ctx, record.side);
    let c: Conversation;
    if (open) {
      open.seen = ++this.tick;
      c = open.conversation;
    } else {
      const rev = options.rev ?? this.declaredFor(record.side, record.ctx);
      if (rev) {
        c = this.makeConversation(record.side, record.ctx, rev, options.rev ? 'option' : 'meta');
      } else if (!final) {
        return 'hold';
      } else {
        out.push({ type: 'undecidable', record, reason: 'no revision declared (meta rev= or --rev) and no R-Eval to guess it from' });
        return 'done';
      }
    }
    const message = c.decoder.decode(record);
    // The helpers learn from every message in order, so the names printed follow the evidence (wire §9.1).
    c.helpers.observeMessage(message, c.decoder.open);
    out.push({ type: 'message', message, conversation: c });
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
      if (this.conversations.has(k)) continue;
      let list = samples.get(k);
      if (!list) samples.set(k, (list = []));
      if (list.length < DETECTION_SAMPLE) list.push(r);
    }
    for (const [k, sample] of samples) {
      if (this.conversations.has(k) || this.declaredFor(sample[0]!.side, sample[0]!.ctx)) continue;
      const guess = detectRevision(sample);
      if (guess) this.makeConversation(sample[0]!.side, sample[0]!.ctx, guess.rev, 'guess', guess);
    }
    for (const r of pending) this.handle(r, true, out);
  }
}

const ctxKey = (ctx: string | undefined): string => ctx ?? '\u0000';

const sideIndex = (side: Side | undefined): number => (side === 'rust' ? 0 : side === 'js' ? 1 : 2);

interface OpenConversation {
  readonly conversation: Conversation;
  /** Tick of the last record seen (the conversation released first is the one with the lowest). */
  seen: number;
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
