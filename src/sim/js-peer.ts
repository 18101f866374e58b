/**
 * The JS peer: the webview runtime of the chosen revision (ts/heap.ts, ipc.ts, types.ts,
 * rust_function.ts as described in allocators.md §3-§6 and sessions.md §4). It parses
 * every R-Eval op by op with the project's codec, runs scripted functions, stores results
 * in its heap (insert, reservation scope, or deferred batch), encodes J-Resps and J-Evals,
 * and sends native-ref drops. It is a generator thread driven by the scheduler.
 */
import { encodeMessage } from '../protocol/encoder.js';
import {
  JSIDX_OFFSET,
  JSIDX_RESERVED,
  TYPE_CACHED,
  TYPE_FULL,
  type OpResult,
} from '../protocol/messages.js';
import { readSignature, type Signature, type TypeDef } from '../protocol/types.js';
import { decodeValue, wordsToNumber, type Value, type ValueCodecContext } from '../protocol/values.js';
import { WireError } from '../wire/errors.js';
import { FrameReader } from '../wire/frame.js';
import type { SimBehaviour } from './behaviour.js';
import type { FaultState } from './faults.js';
import {
  JsException,
  JsObject,
  RustFunction,
  type Co,
  type JsVal,
  type Wire,
} from './model.js';
import { JS_REGISTRY, type JsContext } from './registry.js';
import type { AllocInfo, EvalTracker, SideEnd, TruthCollector } from './truth.js';

interface Slot {
  value: JsVal;
  key?: string;
}

type Scope =
  | { kind: 'count'; start: number; count: number; next: number; tracker: EvalTracker }
  | { kind: 'ids'; ids: number[]; next: number; tracker: EvalTracker };

interface DeferredValue {
  value: JsVal;
  key: string;
  info: AllocInfo;
}

/** One J-message's values waiting for Rust to name their ids (explicit-ids DeferredHeapRefs). */
interface Deferred {
  values: DeferredValue[];
  next: number;
}

/** Lazily pushes one message's Deferred on its first value (E-J4). */
interface DeferredHolder {
  d: Deferred | null;
}

export type JsTask =
  | { readonly kind: 'eval'; readonly wire: Wire }
  | { readonly kind: 'page-call'; readonly id: number; readonly args: JsVal[] }
  | { readonly kind: 'call'; readonly fn: JsVal; readonly name: string; readonly args: JsVal[] }
  | { readonly kind: 'finalize'; readonly rf: RustFunction };

const CONSTANTS: readonly JsVal[] = [undefined, null, true, false];
const EMPTY = new Uint8Array(0);

type MutableWire = { -readonly [K in keyof Wire]: Wire[K] };

export interface JsPeerOptions {
  readonly beh: SimBehaviour;
  readonly truth: TruthCollector;
  readonly faults: FaultState;
  readonly gc: boolean;
  readonly nextSerial: () => number;
}

export class JsPeer implements JsContext {
  private readonly beh: SimBehaviour;
  private readonly truth: TruthCollector;
  private readonly faults: FaultState;
  private readonly gc: boolean;
  private readonly nextSerial: () => number;
  private readonly r2j: ValueCodecContext;

  private readonly slots = new Map<number, Slot>();
  private readonly borrowSlots: (Slot | undefined)[] = [];
  private maxId = JSIDX_RESERVED;
  private readonly freeIds: number[] = [];
  /** One past the highest heap id ever stored (tells use-after-free from unknown ids). */
  private highWater = JSIDX_RESERVED;
  /** Reserved ids left unfilled when their scope was popped. */
  private readonly holes = new Set<number>();
  private readonly scopes: Scope[] = [];
  private readonly deferred: Deferred[] = [];
  private borrowPointer = JSIDX_OFFSET;
  private readonly borrowFrames: number[] = [];
  private readonly types = new Map<number, Signature>();
  /** Per message: JS's decoded str buffer and how far its strings have been cut (jsString). */
  private readonly strCursors = new WeakMap<Wire, { text: string | undefined; at: number }>();
  /** R-Evals being processed (innermost last). */
  private readonly open: EvalTracker[] = [];
  private readonly taskQueue: JsTask[] = [];
  private taskHead = 0;
  readonly page = new Map<string, JsVal>();
  /** Seq (JS side) of the message JS is currently processing, for events. */
  private currentSeq: number | undefined;

  constructor(options: JsPeerOptions) {
    this.beh = options.beh;
    this.truth = options.truth;
    this.faults = options.faults;
    this.gc = options.gc;
    this.nextSerial = options.nextSerial;
    this.r2j = { dir: 'r2j', features: this.beh.features };
  }

  // ---- tasks ------------------------------------------------------------------------------

  hasTasks(): boolean {
    return this.taskHead < this.taskQueue.length;
  }

  takeTask(): JsTask | undefined {
    if (!this.hasTasks()) return undefined;
    const task = this.taskQueue[this.taskHead++]!;
    if (this.taskHead > 1024 && this.taskHead * 2 > this.taskQueue.length) {
      this.taskQueue.splice(0, this.taskHead);
      this.taskHead = 0;
    }
    return task;
  }

  pushTask(task: JsTask): void {
    this.taskQueue.push(task);
  }

  /** A task that runs before everything already queued (an event firing right now). */
  pushTaskFront(task: JsTask): void {
    if (this.taskHead > 0) this.taskQueue[--this.taskHead] = task;
    else this.taskQueue.unshift(task);
  }

  /** Page code calls the function stored at heap id `id` (it keeps its own reference to it). */
  pageCall(id: number, args: JsVal[]): void {
    this.pushTask({ kind: 'page-call', id, args });
  }

  /** Page code calls `f(...args)` as the very next task. */
  scheduleNow(f: JsVal, name: string, args: JsVal[]): void {
    this.hold(f);
    this.pushTaskFront({ kind: 'call', fn: f, name, args });
  }

  /** The JS thread: runs tasks forever; an exception ends only the task that threw. */
  *main(): Co<never> {
    for (;;) {
      const task = (yield { kind: 'idle' }) as JsTask;
      try {
        yield* this.runTask(task);
      } catch (e) {
        if (!(e instanceof JsException)) throw e;
        this.truth.event('js-exception', 'js', this.currentSeq, e.message);
        // The exception unwound every R-Eval JS was running: none of them will finish.
        for (const t of this.open.splice(0)) this.truth.endEval(t, false);
      }
    }
  }

  private *runTask(task: JsTask): Co<void> {
    switch (task.kind) {
      case 'eval': {
        const jresp = yield* this.handleREval(task.wire);
        const reply = yield* this.xhrChain(jresp);
        if (reply) {
          this.currentSeq = reply.jsSeq;
          throw new JsException('Unprocessed data remaining after Evaluate handling');
        }
        return;
      }
      case 'page-call':
        yield* this.callFunction(this.lookup(task.id, undefined, undefined, 'page code'), 'handler', task.args);
        return;
      case 'call':
        try {
          yield* this.callFunction(task.fn, task.name, task.args);
        } finally {
          this.unhold(task.fn);
        }
        return;
      case 'finalize': {
        const rf = task.rf;
        rf.finalizeQueued = false;
        if (rf.refs > 0 || rf.nativeDropped || rf.disposed) return;
        if (rf.activeCalls > 0) {
          rf.dropNativeWhenIdle = true;
          return;
        }
        yield* this.sendDropNative(rf);
        return;
      }
    }
  }

  /** Sends an XHR and handles replies that are R-Evals (nested work) until an R-Resp or a blank reply. */
  private *xhrChain(wire: Wire): Co<Wire | null> {
    let reply = (yield { kind: 'xhr', wire }) as Wire | null;
    while (reply && reply.kind === 'r-eval') {
      const jresp = yield* this.handleREval(reply);
      reply = (yield { kind: 'xhr', wire: jresp }) as Wire | null;
    }
    if (reply) this.currentSeq = reply.jsSeq;
    return reply;
  }

  // ---- R-Eval -----------------------------------------------------------------------------

  private *handleREval(wire: Wire): Co<Wire> {
    this.currentSeq = wire.jsSeq;
    const f = this.beh.features;
    const r = new FrameReader(wire.bytes);
    r.u8('message type');
    let evaluateId: number | undefined;
    let reservedCount: number | undefined;
    let reservedIds: number[] | undefined;
    switch (f.evalPrelude) {
      case 'none':
        break;
      case 'reserved-count':
        reservedCount = r.u32();
        break;
      case 'id-and-count':
        evaluateId = r.u32();
        reservedCount = r.u32();
        break;
      case 'install-and-reserved':
        this.install(readIdList(r));
        reservedIds = readIdList(r);
        break;
    }
    const tracker = this.truth.beginEval(wire, 0, reservedIds ? reservedIds.length : reservedCount);
    this.open.push(tracker);
    this.pushBorrowFrame();
    const nested = this.open.length > 1;
    if (reservedIds) {
      for (const id of reservedIds) {
        if (id < JSIDX_RESERVED) throw new JsException(`Cannot reserve special heap slot ${id}`);
        if (this.slots.has(id)) {
          this.truth.event('id-alias', 'js', wire.jsSeq, `reserved heap slot ${id} is already occupied`);
          throw new JsException(`Reserved heap slot ${id} is already occupied`);
        }
      }
      this.scopes.push({ kind: 'ids', ids: reservedIds, next: 0, tracker });
    } else if (reservedCount !== undefined) {
      this.scopes.push({ kind: 'count', start: this.maxId, count: reservedCount, next: 0, tracker });
      this.maxId += reservedCount;
    }
    const scope = this.scopes.length > 0 && (reservedIds || reservedCount !== undefined) ? this.scopes[this.scopes.length - 1] : undefined;

    const results: OpResult[] = [];
    const heapKeys: string[] = [];
    const holder: DeferredHolder = { d: null };
    let threw = true;
    const finish = (): void => {
      this.popBorrowFrame();
      if (scope) this.popScope(scope, wire, nested, threw);
    };
    try {
      let k = 0;
      while (r.hasMoreU32()) {
        k++;
        tracker.item.ops = k;
        const fnId = r.u32();
        const marker = r.u8();
        const typeId = r.u32();
        let sig: Signature;
        if (marker === TYPE_FULL) {
          sig = readSignature(r);
          this.types.set(typeId, sig);
        } else if (marker === TYPE_CACHED) {
          const known = this.types.get(typeId);
          if (!known) {
            this.truth.event('unknown-type-id', 'js', wire.jsSeq, `op ${k}: TYPE_CACHED ${typeId} before JS parsed its TYPE_FULL`);
            throw new JsException(`Unknown cached type ID ${typeId}`);
          }
          sig = known;
        } else {
          throw new JsException(`Unknown type marker ${marker}`);
        }
        const meta = wire.ops?.[k - 1];
        const args: JsVal[] = [];
        let heapArg = 0;
        for (const p of sig.params) {
          const v = decodeValue(r, p, this.r2j);
          args.push(this.fromRust(v, p, () => meta?.argKeys[heapArg++], wire));
        }
        const fdef = JS_REGISTRY.get(fnId);
        if (!fdef) throw new JsException(`Unknown function ID ${fnId}`);
        const value = yield* fdef.impl(this, args);
        const key = meta?.key ?? `x${wire.serial}.${k}`;
        const info: AllocInfo = { kind: 'op-result', fn: meta?.fn ?? fdef.name, wire, op: k };
        results.push(this.storeResult(sig.ret, value, key, info, scope, holder, heapKeys, tracker, wire));
      }
      threw = false;
    } finally {
      if (this.beh.jsFinally || !threw) finish();
    }
    this.open.pop();
    this.truth.endEval(tracker, true);
    const bytes = encodeMessage(f, { kind: 'j-resp', ...(evaluateId !== undefined && { evaluateId }), results });
    return { serial: this.nextSerial(), kind: 'j-resp', bytes, heapKeys, answers: wire };
  }

  private storeResult(
    ret: TypeDef,
    value: JsVal,
    key: string,
    info: AllocInfo,
    scope: Scope | undefined,
    holder: DeferredHolder,
    heapKeys: string[],
    tracker: EvalTracker,
    wire: Wire,
  ): OpResult {
    const op = info.op!;
    if (ret.kind !== 'heapref') {
      return { op, type: ret, value: this.toRust(ret, value, key, heapKeys, holder, 'result-inner', info.fn, wire, info.op), filledReservation: false };
    }
    tracker.item.heapRefOps++;
    // R-J2/R-J3 look at the reservation scope on top of the stack (allocators §5).
    const top = this.scopes[this.scopes.length - 1];
    const reserving = top !== undefined && (top.kind === 'count' ? top.count > 0 : top.ids.length > 0);
    if (reserving && top) {
      const size = top.kind === 'count' ? top.count : top.ids.length;
      if (top.next >= size) {
        this.truth.event('reservation-overfilled', 'js', wire.jsSeq, `op ${op} (${info.fn}) has no reserved slot left (${size} reserved)`);
        throw new JsException('No reserved slots available');
      }
      const underfill = top.next === size - 1 && this.faults.fire('underfill', `R-Eval ${wire.jsSeq ?? '?'}: JS leaves reserved slot ${size} of ${size} unfilled`);
      if (!underfill) {
        const id = top.kind === 'count' ? top.start + top.next : top.ids[top.next]!;
        top.next++;
        top.tracker.item.filled++;
        this.setSlot(id, value, key);
        this.truth.jsAlloc(key, id, info);
        return { op, type: ret, value: { kind: 'heapref' }, filledReservation: true };
      }
    }
    if (this.beh.explicit) {
      this.defer(holder, value, key, info);
      tracker.item.deferred++;
      return { op, type: ret, value: { kind: 'heapref' }, filledReservation: false };
    }
    const id = this.insert(value, key, info);
    tracker.item.inserted++;
    if (this.beh.seqIds) {
      heapKeys.push(key);
      return { op, type: ret, value: { kind: 'heapref', id }, filledReservation: false };
    }
    return { op, type: ret, value: { kind: 'heapref' }, filledReservation: false };
  }

  private popScope(scope: Scope, wire: Wire, nested: boolean, threw: boolean): void {
    const size = scope.kind === 'count' ? scope.count : scope.ids.length;
    if (nested && this.faults.fire('unpopped-scope', `JS does not pop the reservation scope of R-Eval ${wire.jsSeq ?? '?'}`)) return;
    const i = this.scopes.lastIndexOf(scope);
    if (i >= 0) this.scopes.splice(i, 1);
    if (scope.next < size) {
      for (let j = scope.next; j < size; j++) this.holes.add(scope.kind === 'count' ? scope.start + j : scope.ids[j]!);
      if (!threw) {
        this.truth.event('reservation-underfilled', 'js', wire.jsSeq, `R-Eval reserved ${size} slots, JS filled ${scope.next}`);
        if (this.beh.explicit) throw new JsException(`Only filled ${scope.next} of ${size} reserved heap slots`);
      }
    }
  }

  // ---- heap -------------------------------------------------------------------------------

  private setSlot(id: number, value: JsVal, key: string | undefined): void {
    const old = this.slots.get(id);
    if (old) {
      this.truth.event('id-alias', 'js', this.currentSeq, `JS stores ${key ?? 'a value'} at heap id ${id}, overwriting ${old.key ?? 'a live value'}`);
      this.unref(old.value);
    }
    this.slots.set(id, key === undefined ? { value } : { value, key });
    this.ref(value);
    if (id >= this.highWater) this.highWater = id + 1;
    this.holes.delete(id);
  }

  private insert(value: JsVal, key: string, info: AllocInfo): number {
    let id: number;
    let fromFree = false;
    if (this.beh.freelist && this.freeIds.length > 0) {
      id = this.freeIds.pop()!;
      fromFree = true;
    } else {
      id = this.maxId++;
    }
    this.setSlot(id, value, key);
    this.truth.jsAlloc(key, id, this.beh.freelist ? { ...info, fromFreeList: fromFree } : info);
    return id;
  }

  private defer(holder: DeferredHolder, value: JsVal, key: string, info: AllocInfo): void {
    if (!holder.d) {
      holder.d = { values: [], next: 0 };
      this.deferred.push(holder.d);
    }
    holder.d.values.push({ value, key, info });
    this.ref(value);
  }

  /** E-J1: the top deferred batch takes the ids Rust shipped. */
  private install(ids: number[]): void {
    if (ids.length === 0) return;
    const d = this.deferred[this.deferred.length - 1];
    if (!d) throw new JsException('Heap-ref install with no pending deferred heap refs');
    if (ids.length > d.values.length - d.next) throw new JsException('Heap-ref install count mismatch');
    ids.forEach((id, i) => {
      if (id < JSIDX_RESERVED) throw new JsException(`Cannot install heap ref into special slot ${id}`);
      const dv = d.values[d.next + i]!;
      this.setSlot(id, dv.value, dv.key);
      this.unref(dv.value);
      this.truth.jsAlloc(dv.key, id, dv.info);
    });
    d.next += ids.length;
    if (d.next === d.values.length) this.deferred.pop();
  }

  private lookup(id: number, intendedKey: string | undefined, wire: Wire | undefined, what: string): JsVal {
    let slot: Slot | undefined;
    if (id >= 1 && id < JSIDX_OFFSET) slot = this.borrowSlots[id];
    else if (id >= JSIDX_OFFSET && id < JSIDX_RESERVED) return CONSTANTS[id - JSIDX_OFFSET];
    else slot = this.slots.get(id);
    if (!slot) {
      const freed = id >= JSIDX_RESERVED && id < this.highWater && !this.holes.has(id) && !this.inOpenReservation(id);
      this.truth.event(
        freed ? 'use-after-free' : 'unknown-heap-id',
        'js',
        wire?.jsSeq ?? this.currentSeq,
        `${what} refers to heap id ${id}, which ${freed ? 'JS already freed' : 'JS never stored'}`,
      );
      if (this.beh.jsThrowsOnEmptySlot) throw new JsException(`Unknown JS heap reference ID: ${id}`);
      return undefined;
    }
    if (intendedKey !== undefined && slot.key !== undefined && slot.key !== intendedKey) {
      this.truth.event('wrong-object', 'js', wire?.jsSeq ?? this.currentSeq, `${what}: Rust means ${intendedKey} by id ${id}, JS holds ${slot.key} there`);
    }
    return slot.value;
  }

  /** Whether `id` is a reserved slot of an open R-Eval that has not been filled yet. */
  private inOpenReservation(id: number): boolean {
    for (const sc of this.scopes) {
      if (sc.kind === 'count' ? id >= sc.start + sc.next && id < sc.start + sc.count : sc.ids.indexOf(id, sc.next) >= 0) return true;
    }
    return false;
  }

  heapGet(id: number): JsVal {
    return this.lookup(id, undefined, undefined, 'clone_heap_ref');
  }

  heapRemove(id: number): void {
    if (id < JSIDX_RESERVED) return;
    const slot = this.slots.get(id);
    if (!slot) {
      this.truth.event('double-free', 'js', this.currentSeq, `drop_heap_ref(${id}) for an empty slot`);
    } else {
      this.slots.delete(id);
      this.unref(slot.value);
    }
    if (this.beh.freelist) this.freeIds.push(id);
  }

  private pushBorrowFrame(): void {
    this.borrowFrames.push(this.borrowPointer);
  }

  private popBorrowFrame(): void {
    const saved = this.borrowFrames.pop();
    if (saved === undefined) return;
    for (let id = this.borrowPointer; id < saved; id++) {
      const s = this.borrowSlots[id];
      if (s) this.unref(s.value);
      this.borrowSlots[id] = undefined;
    }
    this.borrowPointer = saved;
  }

  private pushBorrowed(value: JsVal, key: string, info: AllocInfo): void {
    if (this.borrowPointer <= 1) throw new JsException('Borrow stack overflow: too many borrowed references in a single operation');
    this.borrowPointer--;
    this.borrowSlots[this.borrowPointer] = { value, key };
    this.ref(value);
    this.truth.jsAlloc(key, this.borrowPointer, info);
  }

  // ---- simulated garbage collection of RustFunction wrappers ---------------------------

  private ref(v: JsVal): void {
    if (v instanceof RustFunction) v.refs++;
  }

  private unref(v: JsVal): void {
    if (!(v instanceof RustFunction)) return;
    v.refs--;
    this.maybeFinalize(v);
  }

  private maybeFinalize(rf: RustFunction): void {
    if (!this.gc || !rf.finalizable || rf.refs > 0 || rf.nativeDropped || rf.disposed || rf.finalizeQueued) return;
    rf.finalizeQueued = true;
    this.pushTask({ kind: 'finalize', rf });
  }

  hold(v: JsVal): void {
    this.ref(v);
  }

  unhold(v: JsVal): void {
    this.unref(v);
  }

  // ---- values -----------------------------------------------------------------------------

  /** A Rust→JS value as JS sees it (decode side of types.ts). */
  private fromRust(v: Value, t: TypeDef, nextKey: () => string | undefined, wire: Wire | undefined): JsVal {
    switch (v.kind) {
      case 'unit':
        return undefined;
      case 'bool':
        return v.value;
      case 'int':
        return typeof v.value === 'bigint' && v.value <= BigInt(Number.MAX_SAFE_INTEGER) && t.kind !== 'i64' && t.kind !== 'isize'
          ? Number(v.value)
          : v.value;
      case 'float':
        return v.value;
      case 'string':
        return wire ? this.jsString(wire, v.byteLength, v.value) : v.value;
      case 'cached-string':
        return this.lookup(v.id, undefined, wire, 'cached string');
      case 'heapref':
      case 'borrowed':
        return this.lookup(v.id ?? 0, nextKey(), wire, 'HeapRef argument');
      case 'callback': {
        const policy = v.policy;
        // explicit-ids registers all but RustOwned (policy 0, a stack closure) with the
        // FinalizationRegistry; earlier revisions register every wrapper (ts/rust_function.ts).
        const finalizable = policy !== undefined ? policy !== 0 : true;
        return new RustFunction(v.key, v.type, policy, finalizable);
      }
      case 'option':
        return v.value === null ? null : this.fromRust(v.value, t.kind === 'option' ? t.inner : t, nextKey, wire);
      case 'result': {
        const inner = this.fromRust(v.value, t.kind === 'result' ? (v.ok ? t.ok : t.err) : t, nextKey, wire);
        return JsObject.of(v.ok ? { ok: inner } : { err: inner });
      }
      case 'array':
        return v.items.map((item) => this.fromRust(item, t.kind === 'array' ? t.element : t, nextKey, wire));
      case 'clamped':
        return Array.from(v.bytes);
      case 'enum':
        return v.variant ?? v.index;
    }
  }

  /** A JS value encoded JS→Rust (types.ts encode side); HeapRefs are stored as they are encoded. */
  private toRust(
    t: TypeDef,
    v: JsVal,
    keyBase: string,
    heapKeys: string[],
    holder: DeferredHolder,
    kind: AllocInfo['kind'],
    fn: string,
    wire: Wire | undefined,
    op: number | undefined,
    arg?: number,
  ): Value {
    const n = (): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'boolean' ? (v ? 1 : 0) : NaN);
    switch (t.kind) {
      case 'null':
        return { kind: 'unit' };
      case 'bool':
        return { kind: 'bool', value: Boolean(v) };
      case 'u8':
      case 'i8':
      case 'u16':
      case 'i16':
      case 'u32':
      case 'i32':
        return { kind: 'int', type: t.kind, value: n() >>> 0 };
      case 'u64':
      case 'i64':
      case 'usize':
      case 'isize':
      case 'u128':
      case 'i128': {
        const big = typeof v === 'bigint' ? v : BigInt(Math.trunc(n()) || 0);
        return { kind: 'int', type: t.kind, value: BigInt.asUintN(t.kind === 'u128' || t.kind === 'i128' ? 128 : 64, big) };
      }
      case 'f32':
      case 'f64':
        return { kind: 'float', type: t.kind, value: n() };
      case 'string': {
        const s = String(v);
        return { kind: 'string', value: s, byteLength: 0, nonAscii: false };
      }
      case 'heapref': {
        const key = `${keyBase}.${heapKeys.length}`;
        const info: AllocInfo = { kind, fn, ...(wire && { wire }), ...(op !== undefined && { op }), ...(arg !== undefined && { arg }) };
        heapKeys.push(key);
        if (this.beh.explicit) {
          this.defer(holder, v, key, info);
          return { kind: 'heapref' };
        }
        const id = this.insert(v, key, info);
        return this.beh.seqIds ? { kind: 'heapref', id } : { kind: 'heapref' };
      }
      case 'borrowed': {
        const key = `${keyBase}.${heapKeys.length}`;
        heapKeys.push(key);
        this.pushBorrowed(v, key, { kind: 'borrowed', fn, ...(wire && { wire }), ...(arg !== undefined && { arg }) });
        return { kind: 'borrowed' };
      }
      case 'option':
        return { kind: 'option', value: v === null || v === undefined ? null : this.toRust(t.inner, v, keyBase, heapKeys, holder, kind, fn, wire, op, arg) };
      case 'result': {
        const o = v instanceof JsObject ? v : undefined;
        if (o?.props.has('ok')) return { kind: 'result', ok: true, value: this.toRust(t.ok, o.props.get('ok'), keyBase, heapKeys, holder, kind, fn, wire, op, arg) };
        if (o?.props.has('err')) return { kind: 'result', ok: false, value: this.toRust(t.err, o.props.get('err'), keyBase, heapKeys, holder, kind, fn, wire, op, arg) };
        throw new JsException('TypeError: Result value must be an object with an ok or err key');
      }
      case 'array': {
        if (!Array.isArray(v)) throw new JsException('TypeError: value is not an array');
        return { kind: 'array', items: v.map((item) => this.toRust(t.element, item, keyBase, heapKeys, holder, kind, fn, wire, op, arg)) };
      }
      case 'u8clamped':
        return { kind: 'clamped', bytes: Uint8Array.from(Array.isArray(v) ? v.map((x) => Number(x)) : []) };
      case 'stringenum': {
        const i = t.variants.indexOf(String(v));
        return { kind: 'enum', index: i < 0 ? t.variants.length : i };
      }
      case 'callback':
        throw new JsException('TypeError: cannot send a function to Rust');
    }
  }

  /**
   * takeStr (ts/encoding.ts, every revision): JS decodes a message's whole str buffer once and
   * cuts each string out with substring(offset, offset + byteLength), offset advancing by byte
   * lengths. Exact for ASCII; a non-ASCII string shifts the strings after it.
   */
  private jsString(wire: Wire, byteLength: number, value: string): string {
    let c = this.strCursors.get(wire);
    if (!c) {
      const r = new FrameReader(wire.bytes);
      const section = wire.bytes.subarray(r.layout.strStart, r.layout.end);
      const ascii = section.every((b) => b < 0x80);
      c = { text: ascii ? undefined : jsTextDecoder.decode(section), at: 0 };
      this.strCursors.set(wire, c);
    }
    const at = c.at;
    c.at += byteLength;
    return c.text === undefined ? value : c.text.substring(at, at + byteLength);
  }

  // ---- calling Rust -----------------------------------------------------------------------

  *callFunction(f: JsVal, name: string, args: JsVal[]): Co<JsVal> {
    if (!(f instanceof RustFunction)) throw new JsException(`TypeError: ${name} is not a function`);
    return yield* this.callRust(f, args);
  }

  /** RustFunction.call (ts/rust_function.ts): a J-Eval `fn 0` and its reply chain. */
  private *callRust(rf: RustFunction, args: JsVal[]): Co<JsVal> {
    if (this.beh.explicit && rf.disposed) throw new JsException('Rust function has already been dropped');
    rf.activeCalls++;
    this.pushBorrowFrame();
    const serial = this.nextSerial();
    const heapKeys: string[] = [];
    const holder: DeferredHolder = { d: null };
    let reply: Wire | null = null;
    // RustFunction.call's finally: pop the frame, and a wrapper disposed while it ran sends its
    // native-ref drop now, synchronously, before the return value is decoded (dropNativeRefIfIdle).
    const done = function* (this: JsPeer): Co<void> {
      this.popBorrowFrame();
      rf.activeCalls--;
      if (rf.activeCalls !== 0) return;
      if (rf.dropNativeWhenIdle && rf.disposed) {
        if (!rf.nativeDropped) yield* this.sendDropNative(rf);
      } else if (rf.dropNativeWhenIdle) this.pushTask({ kind: 'finalize', rf }); // collected while it ran: the finalizer runs later
      else this.maybeFinalize(rf);
    }.bind(this);
    let ok = false;
    try {
      // The message object exists before its bytes so that allocations made while encoding can name it.
      const wire: MutableWire = { serial, kind: 'j-eval', bytes: EMPTY, heapKeys };
      const wireArgs = rf.type.params.map((p, i) =>
        this.toRust(p, args[i], `a${serial}`, heapKeys, holder, p.kind === 'borrowed' ? 'borrowed' : 'callback-arg', 'callback', wire, undefined, i),
      );
      wire.bytes = encodeMessage(this.beh.features, { kind: 'j-eval', call: { kind: 'callback', key: rf.key, type: rf.type, args: wireArgs } });
      reply = yield* this.xhrChain(wire);
      if (reply) this.receiveRResp(reply);
      ok = true;
    } finally {
      if (ok || this.beh.jsFinally) yield* done();
    }
    if (!reply) return undefined;
    const r = new FrameReader(reply.bytes);
    r.u8();
    if (this.beh.features.rRespPrelude === 'zero-word') r.u32();
    else if (this.beh.features.rRespPrelude === 'install') readIdList(r);
    let value: JsVal;
    try {
      const v = decodeValue(r, rf.type.ret, this.r2j);
      value = this.fromRust(v, rf.type.ret, () => reply?.valueKey, reply);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      value = undefined; // JS reads past a buffer's end as undefined
    }
    const left = r.remaining();
    if (left.u32 || left.u16 || left.u8 || left.str) throw new JsException('Unprocessed data remaining after RustFunction call');
    if (rf.policy === POLICY_JS_OWNED_ONCE && rf.finalizable) {
      // A once-closure that ran: unregistered and disposed; Rust frees its side itself.
      rf.finalizable = false;
      rf.disposed = true;
    }
    return value;
  }

  /** E-J1 for an R-Resp (explicit-ids install list). */
  private receiveRResp(reply: Wire): void {
    if (this.beh.features.rRespPrelude !== 'install') return;
    const r = new FrameReader(reply.bytes);
    r.u8();
    this.install(readIdList(r));
  }

  private *sendDropNative(rf: RustFunction): Co<void> {
    rf.nativeDropped = true;
    rf.dropNativeWhenIdle = false;
    const bytes = encodeMessage(this.beh.features, { kind: 'j-eval', call: { kind: 'drop-native', key: rf.key } });
    const reply = yield* this.xhrChain({ serial: this.nextSerial(), kind: 'j-eval', bytes, heapKeys: [] });
    if (reply) this.receiveRResp(reply);
  }

  /** dispose_rust_function (explicit-ids): disposes the wrapper and tells Rust at once when idle. */
  *dispose(id: number): Co<void> {
    const slot = id >= JSIDX_RESERVED ? this.slots.get(id) : undefined;
    const rf = slot?.value;
    if (!(rf instanceof RustFunction) || rf.disposed) return;
    rf.disposed = true;
    if (rf.policy === POLICY_JS_OWNED_ONCE && rf.activeCalls > 0) {
      // disposeFromRust on a running once-closure: unregister, and never send a drop.
      rf.finalizable = false;
      return;
    }
    rf.dropNativeWhenIdle = true;
    if (rf.activeCalls > 0) return;
    if (!rf.nativeDropped) yield* this.sendDropNative(rf);
  }

  // ---- JsContext --------------------------------------------------------------------------

  prop(v: JsVal, name: string): JsVal {
    if (v === undefined || v === null) throw new JsException(`TypeError: Cannot read properties of ${String(v)} (reading '${name}')`);
    if (v instanceof JsObject) return v.props.get(name);
    if (Array.isArray(v) && name === 'length') return v.length;
    return undefined;
  }

  setProp(v: JsVal, name: string, value: JsVal): void {
    if (v === undefined || v === null) throw new JsException(`TypeError: Cannot set properties of ${String(v)} (setting '${name}')`);
    if (v instanceof JsObject) v.props.set(name, value);
  }

  schedule(f: JsVal, name: string, args: JsVal[]): void {
    this.hold(f);
    this.pushTask({ kind: 'call', fn: f, name, args });
  }

  // ---- end state --------------------------------------------------------------------------

  endState(limit: number): SideEnd {
    const ids = [...this.slots.keys()].sort((a, b) => a - b);
    const end: SideEnd = {
      liveIds: ids.slice(0, limit),
      liveCount: ids.length,
      maxId: this.beh.explicit ? this.highWater : this.maxId,
      borrowPointer: this.borrowPointer,
      borrowFrames: this.borrowFrames.length,
      reservationScopes: this.scopes.length,
    };
    if (this.beh.explicit) end.deferredBatches = this.deferred.length;
    if (this.beh.freelist) end.freeList = this.freeIds.slice(-limit);
    return end;
  }

}

/** The runtime's TextDecoder("utf-8") (a leading BOM is dropped). */
const jsTextDecoder = new TextDecoder('utf-8');

/** explicit-ids RustFunctionPolicy.JsOwnedOnce (ts/rust_function.ts). */
const POLICY_JS_OWNED_ONCE = 2;

function readIdList(r: FrameReader): number[] {
  const n = r.u32();
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(wordsToNumber(r.u32(), r.u32()));
  return ids;
}
