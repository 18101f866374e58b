/**
 * The value model of `bridge-trace diff`: which JS value each heap ID on the wire stands
 * for, as the messages of one conversation reveal it, following JS's allocation rules for
 * the revision (docs/protocol.md §5.3–§5.7). Every value a call creates gets a record with
 * a creation-order name (`v1`, `v2`, …); a raw ID on the wire is resolved to the record JS
 * stored under it at that moment. Raw IDs nobody created resolve to an "unknown" record
 * (`#136?`): that is how a Rust placeholder JS never filled shows up.
 *
 * This is deliberately a small model (one side's view, no readings, no findings): the
 * replay engine (src/replay) is the authority on desyncs; diff only needs stable names.
 */
import { JSIDX_OFFSET, JSIDX_RESERVED, type REvalBody, type RRespBody } from '../protocol/messages.js';
import type { RevisionFeatures } from '../protocol/revisions.js';

/** A JS heap value as one trace reveals it. */
export interface ValueRec {
  readonly kind: 'heap';
  /** `v3`, or `#136?` for an ID nothing in the trace created. */
  readonly name: string;
  /** The ID JS stored it under (undefined while an explicit-ids value waits for its install ID). */
  raw: number | undefined;
  readonly unknown: boolean;
  /** What created it, for explanations: `result of op 1 fn 3 cast`. */
  readonly origin: string;
  /** The record of the other trace that stands for the same value (set by the aligner). */
  peer?: ValueRec;
  /** Set when the creating call was reported as only in one trace. */
  orphan?: boolean;
  /** Releases (drops) not yet matched by the other trace. */
  pending: number;
}

/** A Rust callback (closure or stack closure) as one trace reveals it. */
export interface CallbackRec {
  readonly kind: 'cb';
  /** `k2`, or `k?7` for a key no op ever sent. */
  readonly name: string;
  readonly raw: number;
  readonly unknown: boolean;
  readonly origin: string;
  /** The closure's heap value (result of the cast op that carried the key), for placement. */
  closure?: ValueRec;
  peer?: CallbackRec;
  orphan?: boolean;
  pending: number;
  /** A native-ref drop was seen: the next op sending this key creates a new callback. */
  released?: boolean;
}

export type Rec = ValueRec | CallbackRec;

/** Hands out creation-order names; one per trace, shared by its conversations. */
export class Namer {
  private values = 0;
  private callbacks = 0;
  value(): string {
    return `v${++this.values}`;
  }
  callback(): string {
    return `k${++this.callbacks}`;
  }
}

interface Scope {
  /** reservation-count: first reserved ID; explicit-ids: the reserved list. */
  readonly start: number;
  readonly count: number;
  readonly ids?: readonly number[];
  next: number;
}

interface Deferred {
  readonly values: ValueRec[];
  next: number;
}

/** True for the IDs that are never allocated: borrow slots 1..127 and the constants 128..131. */
export function isFixedId(id: number): boolean {
  return id > 0 && id < JSIDX_RESERVED;
}

/**
 * JS's side of the ID bookkeeping for one conversation, reduced to what naming needs: the
 * counter or free list, reservation scopes, the explicit-ids deferred values, the borrow
 * stack, and the callback keys.
 */
export class ValueModel {
  private maxId = JSIDX_RESERVED;
  private readonly freeIds: number[] = [];
  private readonly byRaw = new Map<number, ValueRec>();
  private readonly scopes: Scope[] = [];
  private readonly deferred: Deferred[] = [];
  private currentDeferred: Deferred | undefined;
  private borrowPointer = JSIDX_OFFSET;
  private readonly borrowFrames: number[] = [];
  private readonly callbacks = new Map<number, CallbackRec>();

  constructor(
    private readonly features: RevisionFeatures,
    private readonly namer: Namer,
  ) {}

  /** Live values the model keeps (bounded by what the trace never drops). */
  get size(): number {
    return this.byRaw.size + this.callbacks.size;
  }

  // ---- references ---------------------------------------------------------------------

  /** The value JS holds under `raw` now (an unknown record if nothing was stored there). */
  resolve(raw: number): ValueRec {
    const rec = this.byRaw.get(raw);
    if (rec) return rec;
    const unknown: ValueRec = { kind: 'heap', name: `#${raw}?`, raw, unknown: true, origin: 'no value was stored under this ID', pending: 0 };
    this.byRaw.set(raw, unknown);
    return unknown;
  }

  /** The callback a key names now, if any (no record is made). */
  peekCallback(raw: number): CallbackRec | undefined {
    return this.callbacks.get(raw);
  }

  /** The callback a key names now; an op sending the key (`sent`) may start a new one. */
  callback(raw: number, origin: string, sent: boolean): CallbackRec {
    const cur = this.callbacks.get(raw);
    if (cur && !(sent && (cur.released || cur.unknown))) return cur;
    const rec: CallbackRec = sent
      ? { kind: 'cb', name: this.namer.callback(), raw, unknown: false, origin, pending: 0 }
      : { kind: 'cb', name: `k?${raw}`, raw, unknown: true, origin: 'no op sent this callback key', pending: 0 };
    this.callbacks.set(raw, rec);
    return rec;
  }

  /** A native-ref drop: the key may be handed out again (explicit-ids reuses handles). */
  releaseCallback(raw: number): CallbackRec {
    const rec = this.callback(raw, '', false);
    rec.released = true;
    // The key is free again (explicit-ids reuses handles); a later call with it names nothing.
    this.callbacks.delete(raw);
    return rec;
  }

  /** The heap ID an op result would get if nothing nested allocated first (placement heuristic). */
  predictInsert(ahead: number): number {
    return this.maxId + ahead;
  }

  /** The reservation of the innermost R-Eval: the ID the HeapRef result `ahead` places after the next one fills. */
  predictReserved(ahead: number): number | undefined {
    const s = this.scopes[this.scopes.length - 1];
    const index = (s?.next ?? 0) + ahead;
    if (!s || s.count === 0 || index >= s.count) return undefined;
    return s.ids ? s.ids[index] : s.start + index;
  }

  // ---- creation ----------------------------------------------------------------------

  private bind(rec: ValueRec, raw: number): void {
    rec.raw = raw;
    this.byRaw.set(raw, rec);
  }

  private fresh(origin: string): ValueRec {
    return { kind: 'heap', name: this.namer.value(), raw: undefined, unknown: false, origin, pending: 0 };
  }

  /**
   * A HeapRef JS stores outside any reservation: an op result with no reserved slot, a
   * HeapRef inside a container result, a callback argument. `explicitRaw` is the ID JS
   * wrote (seq-id).
   */
  insert(origin: string, explicitRaw?: number): ValueRec {
    const rec = this.fresh(origin);
    switch (this.features.allocator) {
      case 'explicit':
        // JS never mints an ID: the value waits for an install list (E-J4).
        if (!this.currentDeferred) {
          this.currentDeferred = { values: [], next: 0 };
          this.deferred.push(this.currentDeferred);
        }
        this.currentDeferred.values.push(rec);
        return rec;
      case 'freelist': {
        const raw = this.freeIds.length > 0 ? this.freeIds.pop()! : this.maxId++;
        this.bind(rec, raw);
        return rec;
      }
      default: {
        const raw = explicitRaw ?? this.maxId;
        if (raw >= this.maxId) this.maxId = raw + 1;
        this.bind(rec, raw);
        return rec;
      }
    }
  }

  /** A HeapRef-declared op result completing inside an R-Eval: reserved slot if there is one, else insert. */
  opResult(origin: string, explicitRaw?: number): ValueRec {
    const s = this.scopes[this.scopes.length - 1];
    if (s && s.count > 0) {
      const rec = this.fresh(origin);
      if (s.next < s.count) {
        this.bind(rec, s.ids ? s.ids[s.next]! : s.start + s.next);
        s.next++;
      }
      // An overfilled reservation makes JS throw; the value then lives nowhere.
      return rec;
    }
    return this.insert(origin, explicitRaw);
  }

  /** A BorrowedRef callback argument: the next borrow slot (L-J2). */
  borrow(): number {
    if (this.borrowPointer > 1) this.borrowPointer--;
    return this.borrowPointer;
  }

  // ---- messages ----------------------------------------------------------------------

  /** Installs IDs for deferred values (explicit-ids, E-J1). */
  private install(ids: readonly number[] | undefined): void {
    if (!ids || ids.length === 0) return;
    let i = 0;
    while (i < ids.length && this.deferred.length > 0) {
      const d = this.deferred[this.deferred.length - 1]!;
      while (i < ids.length && d.next < d.values.length) this.bind(d.values[d.next++]!, ids[i++]!);
      if (d.next >= d.values.length) {
        this.deferred.pop();
        if (this.currentDeferred === d) this.currentDeferred = undefined;
      }
    }
  }

  /** JS starts an R-Eval: install list, reservation scope, borrow frame (L-J3, R-J1, E-J1/2). */
  evalStart(body: REvalBody | undefined): void {
    this.install(body?.installIds);
    if (body?.reservedIds) {
      this.scopes.push({ start: 0, count: body.reservedIds.length, ids: body.reservedIds, next: 0 });
    } else {
      const n = body?.reservedCount ?? 0;
      this.scopes.push({ start: this.maxId, count: n, next: 0 });
      this.maxId += n;
    }
    this.borrowFrames.push(this.borrowPointer);
  }

  /** JS finished an R-Eval (its J-Resp is sent, or it was abandoned). */
  evalEnd(): void {
    this.scopes.pop();
    this.popBorrowFrame();
  }

  /** JS starts a J-message whose HeapRefs may be deferred (explicit-ids): a new DeferredHeapRefs. */
  beginJMessage(): void {
    this.currentDeferred = undefined;
  }

  endJMessage(): void {
    this.currentDeferred = undefined;
  }

  /** `RustFunction.call`: a borrow frame around the arguments and the whole reply chain (L-J5). */
  callStart(): void {
    this.borrowFrames.push(this.borrowPointer);
  }

  /** The R-Resp (or the end of the chain) reached JS. */
  callEnd(body?: RRespBody): void {
    this.install(body?.installIds);
    this.popBorrowFrame();
  }

  /** A Rust message other than an R-Eval or R-Resp opening/closing a frame: only its install list. */
  installFrom(body: RRespBody | undefined): void {
    this.install(body?.installIds);
  }

  private popBorrowFrame(): void {
    const saved = this.borrowFrames.pop();
    if (saved !== undefined) this.borrowPointer = saved;
  }

  /** `drop_heap_ref(raw)` ran in JS: returns the value it freed (L-J7, E-J6). */
  drop(raw: number): ValueRec | undefined {
    if (raw < JSIDX_RESERVED) return undefined;
    const rec = this.byRaw.get(raw);
    if (this.features.allocator === 'freelist' && rec && !rec.unknown) this.freeIds.push(raw);
    // JS deletes the slot; a later use of the ID resolves to an unknown record (`#N?`).
    // Forgetting freed IDs also keeps the model as small as the live heap.
    this.byRaw.delete(raw);
    return rec ?? { kind: 'heap', name: `#${raw}?`, raw, unknown: true, origin: 'no value was stored under this ID', pending: 0 };
  }

  /** `dispose_rust_function(raw)` (explicit-ids): the value stays, the callback is disposed. */
  dispose(raw: number): ValueRec | undefined {
    if (raw < JSIDX_RESERVED) return undefined;
    return this.resolve(raw);
  }
}
