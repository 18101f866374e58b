import type { BadRecord, MessageRecord, MetaRecord, Side, TraceRecord } from '../trace/record.js';
import { ConversationDecoder } from './decoder.js';
import { DETECTION_SAMPLE, detectRevision, type RevisionGuess } from './detect.js';
import { HelperTable, type SymbolTable } from './helpers.js';
import type { DecodedMessage } from './messages.js';
import { isRevision, type Revision } from './revisions.js';

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

/** Records held back while a revision is guessed are bounded by this. */
export const MAX_HELD_RECORDS = 20_000;

export function conversationKey(ctx: string | undefined, side: Side | undefined): string {
  return `${ctx ?? ''}\u0000${side ?? ''}`;
}

/**
 * Turns a record stream into decoded messages, keeping one decoder per conversation and
 * applying meta records (revision, helper fn ids) to the conversations they scope. When no
 * revision is declared, records are held back (bounded) until the revision can be guessed.
 */
export async function* decodeRecords(
  records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>,
  options: DecodeStreamOptions = {},
): AsyncGenerator<DecodeEvent> {
  const conversations = new Map<string, Conversation>();
  /** The same conversations by ctx, so a meta record scoped to one ctx touches only its own. */
  const byCtx = new Map<string, Conversation[]>();
  const ctxKey = (ctx: string | undefined): string => ctx ?? '\u0000';
  /** Conversations a meta record can apply to. */
  const scopedBy = (meta: MetaRecord): Iterable<Conversation> => (meta.ctx === undefined ? conversations.values() : (byCtx.get(ctxKey(meta.ctx)) ?? []));
  /** Declared revisions and helper meta by scope `side|ctx` with `*` wildcards. */
  const declaredRev = new Map<string, Revision>();
  /** Meta records without ctx (apply to every conversation) and per ctx, each list bounded. */
  const globalMeta: MetaRecord[] = [];
  const ctxMeta = new Map<string, MetaRecord[]>();
  const remember = (list: MetaRecord[], meta: MetaRecord): void => {
    list.push(meta);
    if (list.length > MAX_META_KEPT) list.shift();
  };
  let held: TraceRecord[] | undefined;
  let heldFor: string | undefined;
  let heldForCount = 0;

  const scopeKeys = (side: Side | undefined, ctx: string | undefined): string[] => [
    `${side ?? '*'}|${ctx ?? '*'}`,
    `*|${ctx ?? '*'}`,
    `${side ?? '*'}|*`,
    '*|*',
  ];
  const declaredFor = (side: Side | undefined, ctx: string | undefined): Revision | undefined => {
    for (const k of scopeKeys(side, ctx)) {
      const r = declaredRev.get(k);
      if (r) return r;
    }
    return undefined;
  };
  const metaApplies = (meta: MetaRecord, side: Side | undefined, ctx: string | undefined): boolean =>
    (meta.side === undefined || meta.side === side) && (meta.ctx === undefined || meta.ctx === ctx);

  const makeConversation = (side: Side | undefined, ctx: string | undefined, rev: Revision, source: RevisionSource, guess?: RevisionGuess): Conversation => {
    const helpers = new HelperTable(options.symbols);
    for (const meta of [...globalMeta, ...(ctxMeta.get(ctxKey(ctx)) ?? [])]) if (metaApplies(meta, side, ctx)) helpers.applyMeta(meta.fields);
    const c: Conversation = {
      key: conversationKey(ctx, side),
      ctx,
      side,
      decoder: new ConversationDecoder(rev),
      helpers,
      revisionSource: source,
      ...(guess && { guess }),
    };
    conversations.set(c.key, c);
    const same = byCtx.get(ctxKey(ctx));
    if (same) same.push(c);
    else byCtx.set(ctxKey(ctx), [c]);
    if (conversations.size > MAX_OPEN_CONVERSATIONS) forgetOldest();
    return c;
  };
  /** Releases the conversation seen least recently (a long log of many sessions stays bounded). */
  const forgetOldest = (): void => {
    const oldest = conversations.values().next();
    if (oldest.done) return;
    const c = oldest.value;
    conversations.delete(c.key);
    const same = byCtx.get(ctxKey(c.ctx))?.filter((x) => x !== c);
    if (same?.length) byCtx.set(ctxKey(c.ctx), same);
    else byCtx.delete(ctxKey(c.ctx));
  };

  function* handle(record: TraceRecord, final: boolean): Generator<DecodeEvent, 'hold' | 'done'> {
    if (record.kind === 'meta') {
      const problems: string[] = [];
      if (record.rev !== undefined) {
        if (isRevision(record.rev)) {
          declaredRev.set(`${record.side ?? '*'}|${record.ctx ?? '*'}`, record.rev);
          if (!options.rev) {
            for (const c of scopedBy(record)) {
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
      if (record.ctx === undefined) remember(globalMeta, record);
      else {
        let list = ctxMeta.get(ctxKey(record.ctx));
        if (!list) ctxMeta.set(ctxKey(record.ctx), (list = []));
        remember(list, record);
      }
      for (const c of scopedBy(record)) {
        if (metaApplies(record, c.side, c.ctx)) problems.push(...c.helpers.applyMeta(record.fields).map((f) => `bad helper key ${f}`));
      }
      yield { type: 'meta', record, problems: [...new Set(problems)] };
      return 'done';
    }
    if (record.kind === 'bad') {
      const c = conversations.get(conversationKey(record.ctx, record.side));
      c?.decoder.noteLostRecord();
      yield c ? { type: 'bad', record, conversation: c } : { type: 'bad', record };
      return 'done';
    }
    const key = conversationKey(record.ctx, record.side);
    let c = conversations.get(key);
    if (c) {
      // Most recently seen last, so the first entry is the one to release.
      conversations.delete(key);
      conversations.set(key, c);
    } else {
      const rev = options.rev ?? declaredFor(record.side, record.ctx);
      if (rev) {
        c = makeConversation(record.side, record.ctx, rev, options.rev ? 'option' : 'meta');
      } else if (!final) {
        return 'hold';
      } else {
        yield { type: 'undecidable', record, reason: 'no revision declared (meta rev= or --rev) and no R-Eval to guess it from' };
        return 'done';
      }
    }
    yield { type: 'message', message: c.decoder.decode(record), conversation: c };
    return 'done';
  }

  /** Guesses revisions for the conversations the held records need, then replays them. */
  function* release(): Generator<DecodeEvent> {
    const pending = held ?? [];
    held = undefined;
    heldFor = undefined;
    const samples = new Map<string, MessageRecord[]>();
    for (const r of pending) {
      if (r.kind !== 'message') continue;
      const k = conversationKey(r.ctx, r.side);
      if (conversations.has(k)) continue;
      let list = samples.get(k);
      if (!list) samples.set(k, (list = []));
      if (list.length < DETECTION_SAMPLE) list.push(r);
    }
    for (const [k, sample] of samples) {
      if (conversations.has(k) || declaredFor(sample[0]!.side, sample[0]!.ctx)) continue;
      const guess = detectRevision(sample);
      if (guess) makeConversation(sample[0]!.side, sample[0]!.ctx, guess.rev, 'guess', guess);
    }
    for (const r of pending) yield* handle(r, true);
  }

  for await (const record of records) {
    if (held) {
      held.push(record);
      if (record.kind === 'message' && conversationKey(record.ctx, record.side) === heldFor) heldForCount++;
      if (held.length >= MAX_HELD_RECORDS || heldForCount >= DETECTION_SAMPLE) yield* release();
      continue;
    }
    const outcome = yield* handle(record, false);
    if (outcome === 'hold' && record.kind === 'message') {
      held = [record];
      heldFor = conversationKey(record.ctx, record.side);
      heldForCount = 1;
    }
  }
  if (held) yield* release();
}
