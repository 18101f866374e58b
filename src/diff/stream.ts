/**
 * One trace as a stream of calls: choose the recording side to compare, decode that side's
 * records, and flatten every conversation (ctx) into calls and releases, lazily.
 */
import type { SymbolTable } from '../protocol/helpers.js';
import type { Revision } from '../protocol/revisions.js';
import { decodeRecords, type Conversation, type RevisionSource } from '../protocol/stream.js';
import type { Side, TraceRecord } from '../trace/record.js';
import { Flattener } from './flatten.js';
import type { Item, Release } from './items.js';
import { Namer } from './model.js';

export type Entry = { readonly type: 'item'; readonly item: Item } | { readonly type: 'release'; readonly release: Release };

/** Records read before the side is chosen when the trace has no JS-side record early on. */
export const SIDE_LOOKAHEAD = 10_000;
/**
 * Sessions (ctx labels) flattened at once. When a trace has more, the one that has been
 * quiet longest is ended (its open exchanges count as unanswered) and forgotten: sessions
 * that hang, as in a long stress run, then do not hold memory to the end of the trace.
 */
export const MAX_ACTIVE_SESSIONS = 32;
/** Sessions whose revision is listed in TraceInfo.conversations. */
export const MAX_LISTED_SESSIONS = 1000;
/** R-Evals whose op names are remembered to name the op a finding points at. */
export const FINDING_LABEL_LIMIT = 100_000;

export interface ConversationInfo {
  readonly ctx: string | undefined;
  revision: Revision;
  revisionSource: RevisionSource;
  /** Revisions that fit a guessed trace equally well. */
  tied?: readonly Revision[];
}

/** What was read of one trace (filled in while streaming; complete at the end). */
export interface TraceInfo {
  readonly input: string;
  /** The recording side compared; undefined when the records carry no side. */
  side: Side | undefined;
  readonly sidesSeen: Side[];
  records: number;
  /** Message records of the compared side. */
  messages: number;
  /** Records that could not be read, or decoded without a revision. */
  badRecords: number;
  /** Message records of the other side (not compared). */
  otherSideMessages: number;
  calls: number;
  releases: number;
  readonly conversations: ConversationInfo[];
  /** Most value/callback records one conversation's model held at once. */
  maxLive: number;
  /** Sessions (conversations of the compared side); `conversations` lists the first MAX_LISTED_SESSIONS. */
  sessions: number;
  /** Sessions ended early because more than MAX_ACTIVE_SESSIONS were active. */
  evicted: number;
  /** Evicted sessions that had messages again later (compared with a fresh model). */
  revived: number;
}

export interface CallStreamOptions {
  readonly side?: Side;
  readonly exactIds: boolean;
  readonly rev?: Revision;
  readonly symbols?: SymbolTable;
}

/** Op names per R-Eval (by ctx and message number), to name the op a finding points at. */
export class MessageLabels {
  private readonly byCtx = new Map<string, Map<number, string | readonly string[]>>();
  private readonly interned = new Map<string, string>();
  private size = 0;
  truncated = false;
  set(ctx: string | undefined, message: number, labels: readonly string[]): void {
    if (this.size >= FINDING_LABEL_LIMIT) {
      this.truncated = true;
      return;
    }
    const key = ctx ?? '';
    let m = this.byCtx.get(key);
    if (!m) this.byCtx.set(key, (m = new Map()));
    const names = labels.map((l) => {
      let s = this.interned.get(l);
      if (s === undefined && this.interned.size < 10_000) this.interned.set(l, (s = l));
      return s ?? l;
    });
    m.set(message, names.length === 1 ? names[0]! : names);
    this.size++;
  }
  get(ctx: string | undefined, message: number | undefined, op: number | undefined): string | undefined {
    if (message === undefined || op === undefined) return undefined;
    const v = this.byCtx.get(ctx ?? '')?.get(message);
    if (v === undefined) return undefined;
    return typeof v === 'string' ? (op === 1 ? v : undefined) : v[op - 1];
  }
}

export function newTraceInfo(input: string): TraceInfo {
  return { input, side: undefined, sidesSeen: [], records: 0, messages: 0, badRecords: 0, otherSideMessages: 0, calls: 0, releases: 0, conversations: [], sessions: 0, maxLive: 0, evicted: 0, revived: 0 };
}

/** Chooses the side (bounded look-ahead), then yields only the chosen side's records and every meta record. */
async function* chooseSide(records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>, wanted: Side | undefined, info: TraceInfo): AsyncGenerator<TraceRecord> {
  const held: TraceRecord[] = [];
  let chosen: Side | undefined | null = null;
  const note = (s: Side | undefined): void => {
    if (s && !info.sidesSeen.includes(s)) info.sidesSeen.push(s);
  };
  const decide = (final: boolean): Side | undefined | null => {
    if (wanted) return info.sidesSeen.includes(wanted) || final ? (info.sidesSeen.length === 0 ? undefined : wanted) : null;
    if (info.sidesSeen.includes('js')) return 'js';
    if (!final) return null;
    return info.sidesSeen.includes('rust') ? 'rust' : undefined;
  };
  const keep = (r: TraceRecord): boolean => {
    if (r.kind === 'meta') return true;
    if (chosen === undefined) return true;
    if (r.side === chosen) return true;
    if (r.kind === 'message') info.otherSideMessages++;
    return false;
  };
  for await (const r of records) {
    info.records++;
    note(r.side);
    if (chosen !== null) {
      if (keep(r)) yield r;
      continue;
    }
    held.push(r);
    const d = decide(held.length >= SIDE_LOOKAHEAD);
    if (d !== null) {
      chosen = d;
      info.side = d;
      for (const h of held.splice(0)) if (keep(h)) yield h;
    }
  }
  if (chosen === null) {
    chosen = decide(true);
    info.side = chosen ?? undefined;
    for (const h of held.splice(0)) if (keep(h)) yield h;
  }
}

/**
 * The calls and releases of one trace, in the order the compared side ran them. Names of
 * values (`v1`, …) and callbacks (`k1`, …) are per trace, in creation order.
 */
export async function* callStream(records: AsyncIterable<TraceRecord> | Iterable<TraceRecord>, info: TraceInfo, options: CallStreamOptions, labels?: MessageLabels): AsyncGenerator<Entry> {
  const namer = new Namer();
  const flatteners = new Map<string, Flattener>();
  const out: Entry[] = [];
  const sink = {
    item: (item: Item): void => {
      item.index = info.calls++;
      out.push({ type: 'item', item });
    },
    release: (release: Release): void => {
      info.releases++;
      out.push({ type: 'release', release });
    },
  };
  const evictedKeys = new Set<string>();
  const flattenerFor = (c: Conversation): Flattener => {
    let f = flatteners.get(c.key);
    if (f && f.conversation !== c) {
      // The decoder released and restarted this conversation: so do we.
      f.end();
      flatteners.delete(c.key);
      evictedKeys.add(c.key);
      f = undefined;
    }
    if (f) {
      // Most recently used last.
      flatteners.delete(c.key);
      flatteners.set(c.key, f);
      return f;
    }
    if (flatteners.size >= MAX_ACTIVE_SESSIONS) {
      const [oldKey, oldest] = flatteners.entries().next().value as [string, Flattener];
      info.maxLive = Math.max(info.maxLive, oldest.liveRecords);
      oldest.end();
      flatteners.delete(oldKey);
      evictedKeys.add(oldKey);
      info.evicted++;
    }
    f = new Flattener(c, namer, info.input, { exactIds: options.exactIds }, sink);
    flatteners.set(c.key, f);
    if (evictedKeys.delete(c.key)) {
      info.revived++;
    } else if (++info.sessions <= MAX_LISTED_SESSIONS) {
      info.conversations.push({
        ctx: c.ctx,
        revision: c.decoder.revision,
        revisionSource: c.revisionSource,
        ...(c.guess && c.guess.tied.length > 1 && { tied: c.guess.tied.slice(1) }),
      });
    }
    return f;
  };
  let live = 0;
  for await (const e of decodeRecords(chooseSide(records, options.side, info), {
    ...(options.rev && { rev: options.rev }),
    ...(options.symbols && { symbols: options.symbols }),
  })) {
    if (e.type === 'bad' || e.type === 'undecidable') {
      info.badRecords++;
      continue;
    }
    if (e.type !== 'message') continue;
    info.messages++;
    const f = flattenerFor(e.conversation);
    f.message(e.message);
    const body = e.message.body;
    if (labels && body?.kind === 'r-eval') {
      labels.set(e.conversation.ctx, e.message.messageIndex + 1, body.ops.map((op) => {
        const name = e.conversation.helpers.nameOf(op.fnId);
        return name ?? `fn ${op.fnId}`;
      }));
    }
    if ((info.messages & 255) === 0) {
      live = 0;
      for (const x of flatteners.values()) live = Math.max(live, x.liveRecords);
      info.maxLive = Math.max(info.maxLive, live);
    }
    if (out.length) yield* out.splice(0);
  }
  for (const f of flatteners.values()) {
    f.end();
    info.maxLive = Math.max(info.maxLive, f.liveRecords);
  }
  if (out.length) yield* out.splice(0);
}
