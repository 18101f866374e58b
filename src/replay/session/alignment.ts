/**
 * Two recorded sides: pairs each side's record of a message with the other side's copy (by
 * direction and bytes, in order), settles what cannot be paired (lost, damaged, different,
 * crossed in flight), and hands the entries to the session in replay order: Rust's copy of
 * a message before JS's.
 */
import type { DecodedMessage } from '../../protocol/messages.js';
import type { BadRecord, Direction, MessageRecord, Side } from '../../trace/record.js';
import type { LMsg } from '../context.js';

/** How far the two sides' records may be apart and still be matched. */
const ALIGN_WINDOW = 32;
/** Unmatched records kept so a copy the other side recorded much later still pairs with them. */
const LATE_POOL = 4096;

/** One side's record (or a placeholder for one it lost) on its way to being paired and replayed. */
export interface Entry {
  readonly side: Side;
  readonly pos: number;
  readonly seq?: number;
  readonly dir?: Direction;
  readonly rec?: MessageRecord;
  readonly bad?: BadRecord;
  /** A placeholder for a record the recorder lost (seq gap). */
  readonly lost?: boolean;
  partner?: Entry;
  fuzzy?: 'differ' | 'restore';
  final: boolean;
  processed: boolean;
  lm?: LMsg;
  /** After processing: the decoded copy and when it was replayed (for a late missing-record verdict). */
  d?: DecodedMessage;
  at?: number;
}

/** What the session does with the entries the alignment settles. */
export interface AlignmentSink {
  processRust(e: Entry): void;
  processJs(e: Entry): void;
  /** A receiver's record the sender's record lacks: `e.partner` is now a lost copy on the sender's side. */
  senderLost(e: Entry, sender: Side): void;
  /** A record whose copy never turned up on the other side (it left the late pool unmatched). */
  unmatched(e: Entry): void;
}

export class SideAlignment {
  private queues: { rust: Entry[]; js: Entry[] } = { rust: [], js: [] };
  private late: { rust: Entry[]; js: Entry[] } = { rust: [], js: [] };
  private counts = { rust: 0, js: 0 };
  private lastOffset = 0;

  /** A record of `side`, after placeholders for the records its seq numbers say were lost before it. */
  push(side: Side, rec: MessageRecord | BadRecord, lostSeqs: readonly number[]): void {
    for (let i = 0; i < lostSeqs.length; i++) {
      this.queues[side].push({ side, pos: this.counts[side]++, seq: lostSeqs[i]!, lost: true, final: false, processed: false });
    }
    // One shape for every entry (absent fields undefined): built per record.
    const e: Entry = {
      side,
      pos: this.counts[side]++,
      seq: rec.seq,
      dir: rec.dir,
      rec: rec.kind === 'message' ? rec : undefined,
      bad: rec.kind === 'bad' ? rec : undefined,
      final: false,
      processed: false,
    };
    if (e.rec) {
      // In step with the other side: its first unmatched record is this message.
      const other = this.queues[side === 'rust' ? 'js' : 'rust'];
      // The earliest waiting record of the other side with the same bytes that keeps every pair in order.
      let first: Entry | undefined;
      for (let i = 0; i < other.length && !first; i++) {
        const o = other[i]!;
        if (!o.partner && !o.final && o.rec && o.dir === e.dir && sameBytes(o.rec.data, e.rec.data) && this.inOrder(e, o)) first = o;
      }
      if (first) this.pair(e, first, undefined);
      else {
        // A copy the other side recorded long before (delivered late, e.g. queued behind timers).
        const pool = this.late[side === 'rust' ? 'js' : 'rust'];
        let i = -1;
        for (let k = 0; k < pool.length && i < 0; k++) if (pool[k]!.dir === e.dir && sameBytes(pool[k]!.rec!.data, e.rec.data)) i = k;
        if (i >= 0) {
          const [o] = pool.splice(i, 1);
          e.partner = o!;
          o!.partner = e;
          e.final = true;
        }
      }
    }
    this.queues[side].push(e);
  }


  private pair(a: Entry, b: Entry, fuzzy: Entry['fuzzy']): void {
    a.partner = b;
    b.partner = a;
    if (fuzzy) {
      a.fuzzy = fuzzy;
      b.fuzzy = fuzzy;
    }
    a.final = true;
    b.final = true;
    const r = a.side === 'rust' ? a : b;
    const j = a.side === 'rust' ? b : a;
    this.lastOffset = j.pos - r.pos;
  }

  /** Pairs what can be paired, settles what waited too long, and hands on the entries whose turn it is. */
  pump(ended: boolean, sink: AlignmentSink): void {
    const r = oldestWaiting(this.queues.rust);
    const j = oldestWaiting(this.queues.js);
    if ((r && this.aged(r, ended)) || (j && this.aged(j, ended))) {
      this.align();
      for (const side of ['rust', 'js'] as const) {
        for (const e of [...this.queues[side]]) {
          if (!waiting(e) || !this.aged(e, ended)) continue;
          this.fuzzyPair(e);
          e.final = true;
          if (e.partner || !e.rec) continue;
          if (receivedBy(e)) this.restoreSender(e, sink);
          else this.toLate(e, sink);
        }
      }
    }
    for (;;) {
      let progressed = false;
      while (this.queues.rust[0]?.final) {
        sink.processRust(this.queues.rust.shift()!);
        progressed = true;
      }
      while (this.queues.js[0]?.final) {
        const p = this.queues.js[0].partner;
        // Rust's copy goes first: Rust's intent for its own messages, message numbers in Rust's order.
        if (p && p.side === 'rust' && !p.processed) break;
        sink.processJs(this.queues.js.shift()!);
        progressed = true;
      }
      if (!progressed) break;
    }
  }

  /** The other side has recorded far enough past this entry's position that its copy is not coming in step. */
  private aged(e: Entry, ended: boolean): boolean {
    return ended || this.counts[e.side === 'rust' ? 'js' : 'rust'] >= e.pos + ALIGN_WINDOW;
  }

  /** Pairing these two keeps every pair made so far in the same order on both sides. */
  private inOrder(a: Entry, b: Entry): boolean {
    const r = a.side === 'rust' ? a : b;
    const j = a.side === 'rust' ? b : a;
    for (const x of this.queues.rust) {
      const y = x.partner;
      if (!y) continue;
      if (r.pos < x.pos !== j.pos < y.pos) return false;
    }
    return true;
  }

  /**
   * Pairs the records the two sides do not have in step: the longest common subsequence of
   * the waiting records (same direction, same bytes) pairs in order; equal messages left
   * over pair out of order (they crossed in flight).
   */
  private align(): void {
    const r = this.queues.rust.filter((e) => !e.partner && !e.final);
    const j = this.queues.js.filter((e) => !e.partner && !e.final);
    if (r.length === 0 || j.length === 0) return;
    const same = (a: Entry, b: Entry): boolean => !!a.rec && !!b.rec && a.dir === b.dir && sameBytes(a.rec.data, b.rec.data);
    const eq = (a: Entry, b: Entry): boolean => same(a, b) && this.inOrder(a, b);
    const n = r.length;
    const m = j.length;
    const len: Uint16Array[] = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let a = n - 1; a >= 0; a--) {
      for (let b = m - 1; b >= 0; b--) {
        len[a]![b] = eq(r[a]!, j[b]!) ? len[a + 1]![b + 1]! + 1 : Math.max(len[a + 1]![b]!, len[a]![b + 1]!);
      }
    }
    let a = 0;
    let b = 0;
    while (a < n && b < m) {
      if (eq(r[a]!, j[b]!) && len[a]![b] === len[a + 1]![b + 1]! + 1) {
        this.pair(r[a]!, j[b]!, undefined);
        a++;
        b++;
      } else if (len[a + 1]![b]! >= len[a]![b + 1]!) a++;
      else b++;
    }
    for (const x of r) {
      if (x.partner) continue;
      const y = j.find((z) => !z.partner && same(x, z));
      if (y) this.pair(x, y, undefined);
    }
  }

  /**
   * The receiver recorded a message the sender's record lacks: it was sent, so the sender's
   * record was lost. Replay the receiver's copy on the sender's side too, where it belongs
   * as far as can be told (before everything the sender has not replayed yet).
   */
  private restoreSender(e: Entry, sink: AlignmentSink): void {
    const sender = e.side === 'rust' ? 'js' : 'rust';
    // The sender's record is there but damaged (its seq, or the order, kept the two apart): it is this message.
    const damaged = this.queues[sender].find((o) => o.bad !== undefined && !o.rec && !o.partner && !o.processed && (o.dir === undefined || o.dir === e.dir));
    if (damaged) {
      this.pair(e, damaged, 'restore');
      return;
    }
    const copy: Entry = { side: sender, pos: e.pos, ...(e.dir && { dir: e.dir }), lost: true, partner: e, final: true, processed: false };
    e.partner = copy;
    this.queues[sender].unshift(copy);
    sink.senderLost(e, sender);
  }

  /** An unmatched record waits in the late pool; it is reported missing when it leaves it unmatched. */
  private toLate(e: Entry, sink: AlignmentSink): void {
    const pool = this.late[e.side];
    pool.push(e);
    if (pool.length > LATE_POOL) sink.unmatched(pool.shift()!);
  }

  /** At the end: every record still waiting for a late copy. */
  drainLate(): Entry[] {
    return [...this.late.rust.splice(0), ...this.late.js.splice(0)];
  }

  /** A record nobody matched: the other side's record at the same seq, damaged or different. */
  private fuzzyPair(e: Entry): void {
    const other = this.queues[e.side === 'rust' ? 'js' : 'rust'];
    let best: Entry | undefined;
    let bestScore = Infinity;
    for (const o of other) {
      if (o.partner || o.processed) continue;
      if (o.dir !== undefined && e.dir !== undefined && o.dir !== e.dir) continue;
      if (!o.rec && !e.rec) continue;
      let score: number;
      if (o.seq !== undefined && e.seq !== undefined) {
        if (o.seq !== e.seq) continue;
        score = 0;
      } else {
        score = Math.abs(o.pos - (e.pos + (e.side === 'rust' ? this.lastOffset : -this.lastOffset)));
        if (score > 2) continue;
      }
      if (score < bestScore) {
        best = o;
        bestScore = score;
      }
    }
    if (best) this.pair(e, best, e.rec && best.rec ? 'differ' : 'restore');
  }
}

/** Not paired, and not settled unpaired either. */
function waiting(e: Entry): boolean {
  return !e.final && !e.partner;
}

/** Waiting entries are in the order of their positions: the first one is the oldest. */
function oldestWaiting(q: readonly Entry[]): Entry | undefined {
  for (let i = 0; i < q.length; i++) if (waiting(q[i]!)) return q[i];
  return undefined;
}

/** The other side's copy, standing in for a record this entry lost or had damaged. */
export function restoredRecord(e: Entry): MessageRecord | undefined {
  const p = e.partner?.rec;
  if (!p) return undefined;
  const loc = e.bad?.loc ?? p.loc;
  return { ...p, side: e.side, loc, ...(e.seq !== undefined && { seq: e.seq }) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The entry's side received the message (rather than sent it). */
function receivedBy(e: Entry): boolean {
  return (e.side === 'js' && e.dir === 'r2j') || (e.side === 'rust' && e.dir === 'j2r');
}
