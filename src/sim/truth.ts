/**
 * Ground truth. The simulator runs both heaps, so for every allocation it knows the id
 * Rust gave the value and the slot JS really stored it in. Allocations are matched by a
 * key both peers can derive (the op that produced the value, or the J-message argument
 * that carried it). Everything is JSON-serialisable and bounded: lists keep their first
 * `limit` items, counters keep counting; a sink can receive every item as it happens.
 */
import type { Wire } from './model.js';

export type AllocKind = 'op-result' | 'callback-arg' | 'result-inner' | 'borrowed';

/** One JsValue: where it was created and the id each side gave it. */
export interface ValueTruth {
  ctx?: string;
  /** Allocation key (o<n>: result of op n; a<n>.<i>: argument i of J-Eval n; <key>.<j>: j-th JsValue inside a result). */
  key: string;
  kind: AllocKind;
  /** Function whose call created the value (`callback` for callback arguments). */
  fn: string;
  /** Seq of the creating message: Rust side, JS side, and `seq` = Rust's if known, else JS's. */
  seq?: number;
  rustSeq?: number;
  jsSeq?: number;
  /** 1-based op index inside the creating R-Eval. */
  op?: number;
  /** 0-based argument index inside the creating J-Eval. */
  arg?: number;
  rustId?: number;
  jsId?: number;
  /** Whether the id came from that side's free list (legacy-freelist). */
  rustFromFreeList?: boolean;
  jsFromFreeList?: boolean;
  /** True when both ids are known and equal. */
  match?: boolean;
}

/** Reserved versus filled for one R-Eval, as JS processed it. */
export interface EvalTruth {
  ctx?: string;
  rustSeq?: number;
  jsSeq?: number;
  ops: number;
  /** Ops whose declared return type is HeapRef (H). */
  heapRefOps: number;
  /** N (reserved-count*, evaluate-id*, seq-id) or the reserved list's length (explicit-ids); absent in legacy*. */
  reserved?: number;
  filled: number;
  /** HeapRef results stored at JS's counter (legacy*, N = 0). */
  inserted: number;
  /** HeapRef results deferred until Rust installs ids (explicit-ids). */
  deferred: number;
  /** False when JS never finished the R-Eval (an exception unwound it). */
  completed: boolean;
}

export type TruthEventKind =
  | 'js-exception'
  | 'rust-panic'
  | 'handler-panic'
  | 'use-after-free'
  | 'unknown-heap-id'
  | 'wrong-object'
  | 'double-free'
  | 'misrouted-respond'
  | 'lost-respond'
  | 'reservation-underfilled'
  | 'reservation-overfilled'
  | 'unknown-type-id'
  | 'unknown-callback'
  | 'freelist-divergence'
  | 'id-alias'
  | 'deadlock'
  | 'fault'
  | 'lost-record';

export interface TruthEvent {
  ctx?: string;
  kind: TruthEventKind;
  side: 'rust' | 'js' | 'handler' | 'sim';
  /** Seq (on `side`, or Rust's for handler/sim events) of the message concerned, when one is. */
  seq?: number;
  message: string;
}

export interface SideEnd {
  /** Heap ids (≥ 132) this side believes are alive, ascending (first `limit`). */
  liveIds: number[];
  liveCount: number;
  /** Next id the counter would hand out (legacy .. seq-id); the slab's next id in explicit-ids. */
  maxId: number;
  borrowPointer: number;
  /** Open borrow frames (JS: frames left pushed by an exception). */
  borrowFrames: number;
  /** JS: reservation scopes still pushed. */
  reservationScopes?: number;
  /** JS: deferred heap-ref batches still waiting for ids (explicit-ids). */
  deferredBatches?: number;
  /** JS: free list (legacy-freelist), top last. */
  freeList?: number[];
}

export type SessionOutcome = 'completed' | 'deadlock' | 'rust-panic' | 'handler-panic' | 'stopped';

export interface SessionTruth {
  ctx?: string;
  outcome: SessionOutcome;
  /** Messages that crossed the bridge (each counted once), and records each side wrote. */
  messages: { total: number; rust: number; js: number };
  end: { rust: SideEnd; js: SideEnd };
}

export interface GroundTruth {
  scenario: string;
  revision: string;
  mode: string;
  seed: number;
  faults: string[];
  sides: string;
  limit: number;
  messages: { total: number; records: number };
  values: ValueTruth[];
  valueCount: number;
  evals: EvalTruth[];
  evalCount: number;
  underfilledEvals: number;
  overfilledEvals: number;
  /** ID mismatches, in the order they became known (the first one first). */
  mismatches: ValueTruth[];
  mismatchCount: number;
  events: TruthEvent[];
  eventCounts: Partial<Record<TruthEventKind, number>>;
  sessions: SessionTruth[];
  sessionCount: number;
}

export type TruthItem =
  | { type: 'value'; item: ValueTruth }
  | { type: 'mismatch'; item: ValueTruth }
  | { type: 'eval'; item: EvalTruth }
  | { type: 'event'; item: TruthEvent }
  | { type: 'session'; item: SessionTruth };

/** Receives every ground-truth item as it becomes final (for writing JSON lines incrementally). */
export type TruthSink = (item: TruthItem) => void;

interface PendingAlloc {
  key: string;
  kind: AllocKind;
  fn: string;
  wire?: Wire;
  op?: number;
  arg?: number;
  rustId?: number;
  jsId?: number;
  rustFromFreeList?: boolean;
  jsFromFreeList?: boolean;
}

export interface AllocInfo {
  kind: AllocKind;
  fn: string;
  wire?: Wire;
  op?: number;
  arg?: number;
  fromFreeList?: boolean;
}

/** An R-Eval being processed by JS. */
export interface EvalTracker {
  readonly wire: Wire;
  readonly item: EvalTruth;
}

export class TruthCollector {
  readonly truth: GroundTruth;
  private ctx: string | undefined;
  private pending = new Map<string, PendingAlloc>();
  private freelistDivergenceReported = false;

  constructor(
    header: Pick<GroundTruth, 'scenario' | 'revision' | 'mode' | 'seed' | 'faults' | 'sides'>,
    readonly limit: number,
    private readonly sink?: TruthSink,
  ) {
    this.truth = {
      ...header,
      limit,
      messages: { total: 0, records: 0 },
      values: [],
      valueCount: 0,
      evals: [],
      evalCount: 0,
      underfilledEvals: 0,
      overfilledEvals: 0,
      mismatches: [],
      mismatchCount: 0,
      events: [],
      eventCounts: {},
      sessions: [],
      sessionCount: 0,
    };
  }

  startSession(ctx: string | undefined): void {
    this.ctx = ctx;
    this.pending.clear();
    this.freelistDivergenceReported = false;
  }

  rustAlloc(key: string, id: number, info: AllocInfo): void {
    const p = this.entry(key, info);
    if (p.rustId !== undefined) return;
    p.rustId = id;
    if (info.fromFreeList !== undefined) p.rustFromFreeList = info.fromFreeList;
    this.maybeComplete(p);
  }

  jsAlloc(key: string, id: number, info: AllocInfo): void {
    const p = this.entry(key, info);
    if (p.jsId !== undefined) return;
    p.jsId = id;
    if (info.fromFreeList !== undefined) p.jsFromFreeList = info.fromFreeList;
    this.maybeComplete(p);
  }

  /** Names the message that carries an allocation Rust made before the message existed (a batched placeholder). */
  setWire(key: string, wire: Wire): void {
    const p = this.pending.get(key);
    if (p && !p.wire) p.wire = wire;
  }

  private entry(key: string, info: AllocInfo): PendingAlloc {
    let p = this.pending.get(key);
    if (!p) {
      p = { key, kind: info.kind, fn: info.fn };
      this.pending.set(key, p);
    }
    if (info.wire && !p.wire) p.wire = info.wire;
    if (info.op !== undefined && p.op === undefined) p.op = info.op;
    if (info.arg !== undefined && p.arg === undefined) p.arg = info.arg;
    return p;
  }

  private maybeComplete(p: PendingAlloc): void {
    if (p.rustId === undefined || p.jsId === undefined) return;
    this.pending.delete(p.key);
    this.finish(p);
  }

  private finish(p: PendingAlloc): void {
    const v: ValueTruth = { key: p.key, kind: p.kind, fn: p.fn };
    if (this.ctx !== undefined) v.ctx = this.ctx;
    const rustSeq = p.wire?.rustSeq;
    const jsSeq = p.wire?.jsSeq;
    if (rustSeq !== undefined || jsSeq !== undefined) v.seq = rustSeq ?? jsSeq;
    if (rustSeq !== undefined) v.rustSeq = rustSeq;
    if (jsSeq !== undefined) v.jsSeq = jsSeq;
    if (p.op !== undefined) v.op = p.op;
    if (p.arg !== undefined) v.arg = p.arg;
    if (p.rustId !== undefined) v.rustId = p.rustId;
    if (p.jsId !== undefined) v.jsId = p.jsId;
    if (p.rustFromFreeList !== undefined) v.rustFromFreeList = p.rustFromFreeList;
    if (p.jsFromFreeList !== undefined) v.jsFromFreeList = p.jsFromFreeList;
    if (p.rustId !== undefined && p.jsId !== undefined) v.match = p.rustId === p.jsId;
    const t = this.truth;
    t.valueCount++;
    if (t.values.length < this.limit) t.values.push(v);
    this.sink?.({ type: 'value', item: v });
    if (v.match === false) {
      t.mismatchCount++;
      if (t.mismatches.length < this.limit) t.mismatches.push(v);
      this.sink?.({ type: 'mismatch', item: v });
      if ((v.rustFromFreeList || v.jsFromFreeList) && !this.freelistDivergenceReported) {
        this.freelistDivergenceReported = true;
        this.event(
          'freelist-divergence',
          'sim',
          v.seq,
          `${v.fn} result ${v.key}: Rust took ${v.rustId}${v.rustFromFreeList ? ' from its free list' : ' from its counter'}, JS stored it at ${v.jsId}${v.jsFromFreeList ? ' from its free list' : ' from its counter'}`,
        );
      }
    }
  }

  event(kind: TruthEventKind, side: TruthEvent['side'], seq: number | undefined, message: string): void {
    const e: TruthEvent = { kind, side, message };
    if (this.ctx !== undefined) e.ctx = this.ctx;
    if (seq !== undefined) e.seq = seq;
    const t = this.truth;
    t.eventCounts[kind] = (t.eventCounts[kind] ?? 0) + 1;
    if (t.events.length < this.limit) t.events.push(e);
    this.sink?.({ type: 'event', item: e });
  }

  beginEval(wire: Wire, ops: number, reserved: number | undefined): EvalTracker {
    const item: EvalTruth = { ops, heapRefOps: 0, filled: 0, inserted: 0, deferred: 0, completed: false };
    if (this.ctx !== undefined) item.ctx = this.ctx;
    if (reserved !== undefined) item.reserved = reserved;
    return { wire, item };
  }

  endEval(tracker: EvalTracker, completed: boolean): void {
    const item = tracker.item;
    item.completed = completed;
    if (tracker.wire.rustSeq !== undefined) item.rustSeq = tracker.wire.rustSeq;
    if (tracker.wire.jsSeq !== undefined) item.jsSeq = tracker.wire.jsSeq;
    const t = this.truth;
    t.evalCount++;
    if (completed && item.reserved !== undefined && item.reserved > 0 && item.filled < item.reserved) t.underfilledEvals++;
    if (item.reserved !== undefined && item.reserved > 0 && item.heapRefOps > item.reserved) t.overfilledEvals++;
    if (t.evals.length < this.limit) t.evals.push(item);
    this.sink?.({ type: 'eval', item });
  }

  /** Closes the session: allocations only one side made are reported as they are. */
  endSession(session: SessionTruth): void {
    for (const p of this.pending.values()) this.finish(p);
    this.pending.clear();
    const t = this.truth;
    t.sessionCount++;
    if (t.sessions.length < this.limit) t.sessions.push(session);
    this.sink?.({ type: 'session', item: session });
  }

  /** Allocations seen by one side only so far (bounded by the live values of a session). */
  pendingCount(): number {
    return this.pending.size;
  }
}
