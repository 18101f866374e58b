/**
 * Records grouped into sessions: one session per `ctx` label (records without one share the
 * unlabelled session). Meta records go to the sessions they scope: one with a ctx to that
 * ctx's session (kept until it starts, if it has not), one without to every session, open or
 * still to come. A log of many sessions stays bounded: past `maxOpen` open sessions, the one
 * seen least recently is closed.
 */
import type { BadRecord, MessageRecord, MetaRecord, TraceRecord } from './record.js';

/** What a consumer does with the sessions the router finds. */
export interface SessionSink<S> {
  /**
   * The first record of a ctx that has no open session. `reopened`: the ctx had one, closed
   * for being idle, and this one starts without its state.
   */
  start(ctx: string | undefined, order: number, reopened: boolean): S;
  record(session: S, rec: MessageRecord | BadRecord): void;
  meta(session: S, meta: MetaRecord): void;
  /** Closed for being idle: `maxOpen` newer sessions started since its last record. */
  closeIdle(session: S): void;
}

/**
 * Sessions open at once, by default. A log of sessions run one after another (the common
 * case: a test suite, one webview after another) needs one; concurrent webviews interleave a
 * few. Each open session holds its live heap state, so this bounds memory; a ctx that comes
 * back after being closed starts over, and says so.
 */
export const DEFAULT_MAX_OPEN_SESSIONS = 64;

/** Meta records without ctx kept for sessions that start later. */
const MAX_GLOBAL_META = 64;

export class SessionRouter<S> {
  /** Meta records without a ctx, in order (the newest 64): they apply to every session, also to those that start later. */
  readonly globalMeta: MetaRecord[] = [];
  /** Open sessions by ctx key, the one seen least recently first. */
  private readonly open = new Map<string, S>();
  /** Meta records of ctx labels whose session has not started. */
  private readonly pendingMeta = new Map<string, MetaRecord[]>();
  private readonly closedKeys = new Set<string>();
  private started = 0;
  /** The session of the previous record: consecutive records mostly share one, and it is already the most recent. */
  private lastKey: string | undefined;
  private last: S | undefined;

  constructor(
    private readonly sink: SessionSink<S>,
    private readonly maxOpen: number,
  ) {}

  push(rec: TraceRecord): void {
    if (rec.kind === 'meta') {
      this.meta(rec);
      return;
    }
    this.sink.record(this.session(rec.ctx), rec);
  }

  /** The sessions still open, the one seen least recently first. */
  openSessions(): S[] {
    return [...this.open.values()];
  }

  private meta(rec: MetaRecord): void {
    if (rec.ctx === undefined) {
      this.globalMeta.push(rec);
      // The newest ones: a log of many recorder starts must not make every new session read them all.
      if (this.globalMeta.length > MAX_GLOBAL_META) this.globalMeta.shift();
      for (const s of this.open.values()) this.sink.meta(s, rec);
      return;
    }
    const s = this.open.get(rec.ctx);
    if (s !== undefined) this.sink.meta(s, rec);
    else {
      const list = this.pendingMeta.get(rec.ctx);
      if (list) list.push(rec);
      else this.pendingMeta.set(rec.ctx, [rec]);
    }
  }

  /** The open session of `ctx`, started now if it has none (a consumer may need one before its first record). */
  session(ctx: string | undefined): S {
    const key = ctx ?? '\u0000';
    if (key === this.lastKey && this.last !== undefined) return this.last;
    this.lastKey = key;
    let s = this.open.get(key);
    if (s !== undefined) {
      // Most recently seen last: the first entry is the one to close.
      this.open.delete(key);
      this.open.set(key, s);
      this.last = s;
      return s;
    }
    s = this.sink.start(ctx, this.started++, this.closedKeys.has(key));
    this.open.set(key, s);
    for (const m of this.pendingMeta.get(key) ?? []) this.sink.meta(s, m);
    this.pendingMeta.delete(key);
    if (this.open.size > this.maxOpen) this.closeOldest();
    this.last = s;
    return s;
  }

  private closeOldest(): void {
    const oldest = this.open.entries().next();
    if (oldest.done) return;
    const [key, s] = oldest.value;
    this.open.delete(key);
    if (s === this.last) this.last = undefined;
    this.closedKeys.add(key);
    this.sink.closeIdle(s);
  }
}
