/**
 * The Rust peer: the app-thread runtime of the chosen revision (batch.rs, encode.rs,
 * function.rs, runtime.rs as described in sessions.md §5/§8/§9 and allocators.md §2-§7).
 * It encodes ops with the project's codec, batches them, takes placeholder ids, flushes
 * when a call needs its result, decodes J-messages (allocating ids for the HeapRefs they
 * carry), runs callbacks (keeping the batching state, force-flushing before each R-Resp),
 * and defers drops through "ids to free" frames. It is also the API scenario programs are
 * written against: `call`, `batch`, `closure`, `drop`, `clone`, `idle`.
 */
import { encodeMessage } from '../protocol/encoder.js';
import {
  CALL_RUST_CALLBACK,
  DROP_NATIVE_REF,
  JSIDX_OFFSET,
  JSIDX_RESERVED,
  type Op,
  type REvalBody,
} from '../protocol/messages.js';
import { hex, makeSignature, type CallbackType, type Signature, type TypeDef } from '../protocol/types.js';
import { decodeValue, wordsToNumber, type Value, type ValueCodecContext } from '../protocol/values.js';
import { WireError } from '../wire/errors.js';
import { FrameReader } from '../wire/frame.js';
import type { SimBehaviour } from './behaviour.js';
import type { FaultState } from './faults.js';
import { CallbackRegistry, MinHeap } from './handles.js';
import {
  CallbackArg,
  JsValue,
  Moved,
  RustPanic,
  Some,
  StackClosure,
  type CallbackBody,
  type Co,
  type ImportDef,
  type OpMeta,
  type RustArg,
  type RVal,
  type Wire,
} from './model.js';
import { castImport, F } from './registry.js';
import type { AllocInfo, SideEnd, TruthCollector } from './truth.js';

type FreeEntry = { readonly kind: 'heap'; readonly id: number } | { readonly kind: 'handle'; readonly key: number };

interface PendingOp {
  readonly fnId: number;
  readonly marker: 'full' | 'cached';
  readonly typeId: number;
  readonly signature: Signature;
  readonly args: Value[];
  readonly meta: OpMeta;
}

interface ArgContext {
  moved: JsValue[];
  argKeys: (string | undefined)[];
  needsFlush: boolean;
}

export interface RustPeerOptions {
  readonly beh: SimBehaviour;
  readonly truth: TruthCollector;
  readonly faults: FaultState;
  readonly nextSerial: () => number;
  /** Scenario mode: `batch` wraps scenario sections in `batch()`. */
  readonly batchMode: boolean;
}

export class RustPeer {
  readonly beh: SimBehaviour;
  readonly batchMode: boolean;
  private readonly truth: TruthCollector;
  private readonly faults: FaultState;
  private readonly nextSerial: () => number;
  private readonly j2r: ValueCodecContext;

  // heap ids (legacy .. seq-id)
  private maxId = JSIDX_RESERVED;
  private readonly freeIds: number[] = [];
  private reservedCount = 0;
  // heap ids (explicit-ids slab)
  private slabNext = JSIDX_RESERVED;
  private readonly slabFree = new MinHeap();
  private readonly slabLive = new Set<number>();
  private readonly slabReleased = new Set<number>();
  private pendingInstall: number[] = [];
  private reservedIds: number[] = [];
  private recycleAfterFlush: number[] = [];
  // batching and encoding
  private batching = false;
  private pending: PendingOp[] = [];
  private opSerial = 0;
  // type cache
  private readonly typeIds = new Map<string, number>();
  private readonly signatures = new Map<ImportDef, { sig: Signature; hex: string }>();
  private nextTypeId = 0;
  private readonly acked = new Set<number>();
  private readonly ackStack: number[][] = [];
  // callbacks, frames, borrows
  private readonly callbacks: CallbackRegistry;
  private readonly frames: FreeEntry[][] = [];
  private borrowPointer = JSIDX_OFFSET;
  private readonly borrowFrames: number[] = [];
  // exchanges
  private evalCounter: number;
  private readonly stash = new Map<number, Wire>();
  private readonly waiting: number[] = [];
  private jEvalDepth = 0;
  private flushDepth = 0;
  /** Heap ids held by live JsValue handles (id → handle count). */
  private readonly live = new Map<number, number>();

  constructor(options: RustPeerOptions) {
    this.beh = options.beh;
    this.truth = options.truth;
    this.faults = options.faults;
    this.nextSerial = options.nextSerial;
    this.batchMode = options.batchMode;
    this.j2r = { dir: 'j2r', features: this.beh.features };
    this.callbacks = new CallbackRegistry(this.beh.handles);
    this.evalCounter = this.beh.evalIdStart ?? 0;
  }

  // ==== scenario API ========================================================================

  get rev(): string {
    return this.beh.rev;
  }

  isBatching(): boolean {
    return this.batching;
  }

  /** Whether Rust is at top level: no flush waiting and no J-Eval running. */
  isTopLevel(): boolean {
    return this.flushDepth === 0 && this.jEvalDepth === 0;
  }

  /** Calls an imported JS function (run_js_sync). */
  call(imp: ImportDef, args: RustArg[] = []): Co<RVal> {
    return this.runJsSync(imp, args);
  }

  /** Calls a JsValue-returning import and returns the JsValue. */
  *callValue(imp: ImportDef, args: RustArg[] = []): Co<JsValue> {
    const v = yield* this.runJsSync(imp, args);
    if (!(v instanceof JsValue)) throw new Error(`${imp.name} did not return a JsValue`);
    return v;
  }

  /** `batch(|| body)`: batching on for the body; the outermost batch force-flushes at the end. */
  *batch<R>(body: () => Co<R>): Co<R> {
    const was = this.batching;
    this.batching = true;
    const r = yield* body();
    if (!was) yield* this.forceFlush();
    this.batching = was;
    return r;
  }

  /** `batch(body)` in batch mode, `body()` otherwise. */
  section<R>(body: () => Co<R>): Co<R> {
    return this.batchMode ? this.batch(body) : body();
  }

  /** `Closure::new(body)`: registers the callback and casts its key to a JsValue (JS-owned policy). */
  *closure(type: CallbackType, body: CallbackBody, name = 'closure'): Co<JsValue> {
    const key = this.callbacks.insert({ type, body, name, stack: false });
    const v = yield* this.callValue(castImport(type), [new CallbackArg(key, type, 1)]);
    v.closureOwnership = 'owned';
    return v;
  }

  /**
   * `Closure::once(body)`: the JS-owned-once policy (2) in explicit-ids, where JS disposes the
   * wrapper after its first call and never sends a native-ref drop for it; before explicit-ids
   * there is no policy word and it is an ordinary closure.
   */
  *closureOnce(type: CallbackType, body: CallbackBody, name = 'once closure'): Co<JsValue> {
    const key = this.callbacks.insert({ type, body, name, stack: false });
    const v = yield* this.callValue(castImport(type), [new CallbackArg(key, type, 2)]);
    v.closureOwnership = 'owned';
    return v;
  }

  /** A stack closure argument (`&dyn Fn`). */
  stackClosure(type: CallbackType, body: CallbackBody, name = 'stack closure'): StackClosure {
    return new StackClosure(type, body, name);
  }

  /** Drops a JsValue (or a Closure): the JS slot is freed by a drop_heap_ref op, now or when the enclosing op finishes. */
  *drop(v: JsValue): Co<void> {
    yield* this.release(v);
  }

  /** `JsValue::clone`: a clone_heap_ref op for a heap id; constants and borrow slots are copied. */
  *clone(v: JsValue): Co<JsValue> {
    if (v.id < JSIDX_RESERVED) return new JsValue(v.id, v.key, v.borrowed, `${v.label} clone`);
    return yield* this.callValue(F.clone_heap_ref, [BigInt(v.id)]);
  }

  /** A callback body keeps an owned argument instead of dropping it at its end. */
  keep(v: JsValue): JsValue {
    v.kept = true;
    return v;
  }

  /** The handle_callbacks task: handles J-Evals until JS has nothing more to send. */
  *idle(): Co<void> {
    if (this.batching) throw new Error('idle() inside batch(): a batch never survives a suspension point');
    for (;;) {
      const m = (yield { kind: 'recv', idle: true }) as Wire | null;
      if (!m) return;
      yield* this.handleJEval(m);
    }
  }

  // ==== run_js_sync =========================================================================

  private *runJsSync(imp: ImportDef, args: RustArg[]): Co<RVal> {
    this.frames.push([]);
    const key = `o${++this.opSerial}`;
    const ctx: ArgContext = { moved: [], argKeys: [], needsFlush: false };
    const values = imp.params.map((p, i) => this.toValue(p, args[i], ctx));
    const { sig, hex: sigHex } = this.signatureOf(imp);
    const { typeId, marker } = this.typeFor(sigHex);
    const meta: OpMeta = { key, fn: imp.name, argKeys: ctx.argKeys };
    this.pending.push({ fnId: imp.fnId, marker, typeId, signature: sig, args: values, meta });
    const opIndex = this.pending.length;
    // A JsValue passed by value is dropped right after being encoded: into this op's frame.
    for (const v of ctx.moved) yield* this.release(v);

    const ret = imp.ret;
    const info: AllocInfo = { kind: 'op-result', fn: imp.name, op: opIndex };
    const placeholderType = ret.kind === 'heapref' || ret.kind === 'null';
    let result: RVal = undefined;
    if (this.beh.explicit && ret.kind === 'heapref') {
      // E-R1: reserved before any flush, batching or not.
      const id = this.slabAlloc();
      this.reservedIds.push(id);
      result = this.newValue(id, key, imp.name, info, false);
    }
    if (!this.batching || ctx.needsFlush || !placeholderType) {
      const { resp, recycle, wire } = yield* this.flush();
      if (this.beh.explicit && ret.kind === 'heapref') {
        if (this.beh.rustChecksPlaceholderResponds) this.expectEmpty(resp);
      } else if (ret.kind === 'heapref') {
        if (this.beh.seqIds && !this.batching) {
          result = this.decodeResult(resp, ret, { kind: 'op-result', fn: imp.name, wire, op: opIndex });
        } else {
          // L-R2: the placeholder is taken after the answer; while batching (a forced flush) it is also counted (R-R1').
          const { id, fromFree } = this.nextHeapId();
          if (this.batching && this.beh.reservationCount) this.reservedCount++;
          result = this.newValue(id, key, imp.name, { ...info, wire, ...(this.beh.freelist && { fromFreeList: fromFree }) }, false);
        }
      } else if (ret.kind === 'null') {
        if (this.beh.rustChecksPlaceholderResponds) this.expectEmpty(resp);
      } else {
        result = this.decodeResult(resp, ret, { kind: 'result-inner', fn: imp.name, wire, op: opIndex });
      }
      this.recycle(recycle);
    } else if (ret.kind === 'heapref' && !this.beh.explicit) {
      // L-R1 / R-R1: a batched placeholder taken at encode time.
      const { id, fromFree } = this.nextHeapId();
      if (this.beh.reservationCount) this.reservedCount++;
      result = this.newValue(id, key, imp.name, this.beh.freelist ? { ...info, fromFreeList: fromFree } : info, false);
    }
    yield* this.popFrame();
    return result;
  }

  private toValue(t: TypeDef, arg: RustArg, ctx: ArgContext): Value {
    switch (t.kind) {
      case 'null':
        return { kind: 'unit' };
      case 'bool':
        return { kind: 'bool', value: Boolean(arg) };
      case 'u8':
      case 'i8':
      case 'u16':
      case 'i16':
      case 'u32':
      case 'i32':
        return { kind: 'int', type: t.kind, value: Number(arg ?? 0) };
      case 'u64':
      case 'i64':
      case 'usize':
      case 'isize':
      case 'u128':
      case 'i128':
        return { kind: 'int', type: t.kind, value: BigInt(arg as number | bigint) };
      case 'f32':
      case 'f64':
        return { kind: 'float', type: t.kind, value: Number(arg) };
      case 'string': {
        const value = String(arg);
        const bytes = Buffer.byteLength(value, 'utf8');
        return { kind: 'string', value, byteLength: bytes, nonAscii: bytes !== value.length };
      }
      case 'heapref':
      case 'borrowed': {
        let v: JsValue | undefined;
        if (arg instanceof Moved) {
          v = arg.value;
          ctx.moved.push(v);
          if (v.closureOwnership === 'owned') v.closureOwnership = 'detached';
        } else if (arg instanceof JsValue) {
          v = arg;
        }
        if (!v) {
          ctx.argKeys.push(undefined);
          return { kind: t.kind, id: arg === null ? JSIDX_OFFSET + 1 : JSIDX_OFFSET };
        }
        if (v.dropped && !ctx.moved.includes(v)) throw new Error(`scenario bug: ${v.toString()} used after it was dropped`);
        if (this.beh.closureArgForcesFlush && v.closureOwnership !== undefined) ctx.needsFlush = true;
        ctx.argKeys.push(v.key);
        return { kind: t.kind, id: v.id };
      }
      case 'callback': {
        if (arg instanceof CallbackArg) {
          return { kind: 'callback', key: arg.key, type: t, ...(this.beh.features.callbackPolicyWord && { policy: arg.policy }) };
        }
        if (arg instanceof StackClosure) {
          const key = this.callbacks.insert({ type: arg.type, body: arg.body, name: arg.name, stack: true });
          // explicit-ids removes it when this op finishes (queue_rust_object_drop into the op
          // frame). Before, nothing but JS's native-ref drop removes it (encode.rs, runtime.rs
          // @0423680): the JS wrapper is registered for finalization like any other.
          if (this.beh.explicit) this.frames[this.frames.length - 1]!.push({ kind: 'handle', key });
          if (this.beh.stackClosureForcesFlush) ctx.needsFlush = true;
          return { kind: 'callback', key, type: t, ...(this.beh.features.callbackPolicyWord && { policy: 0 }) };
        }
        throw new Error('a Callback parameter needs a StackClosure or a closure key');
      }
      case 'option': {
        if (arg === null || arg === undefined) return { kind: 'option', value: null };
        const inner = arg instanceof Some ? arg.value : arg;
        return { kind: 'option', value: this.toValue(t.inner, inner, ctx) };
      }
      case 'result':
        return { kind: 'result', ok: true, value: this.toValue(t.ok, arg, ctx) };
      case 'array':
        return { kind: 'array', items: (Array.isArray(arg) ? arg : []).map((x) => this.toValue(t.element, x, ctx)) };
      case 'u8clamped':
        return { kind: 'clamped', bytes: Uint8Array.from(Array.isArray(arg) ? arg.map((x) => Number(x)) : []) };
      case 'stringenum':
        return { kind: 'enum', index: Number(arg ?? 0) };
    }
  }

  private signatureOf(imp: ImportDef): { sig: Signature; hex: string } {
    let s = this.signatures.get(imp);
    if (!s) {
      const sig = makeSignature(imp.params, imp.ret);
      s = { sig, hex: hex(sig.bytes) };
      this.signatures.set(imp, s);
    }
    return s;
  }

  /** TYPE_FULL the first time a signature is encoded (explicit-ids: until JS acknowledged it). */
  private typeFor(sigHex: string): { typeId: number; marker: 'full' | 'cached' } {
    let typeId = this.typeIds.get(sigHex);
    const known = typeId !== undefined;
    if (typeId === undefined) {
      typeId = this.nextTypeId++;
      this.typeIds.set(sigHex, typeId);
    }
    if (this.beh.explicit) return { typeId, marker: this.acked.has(typeId) ? 'cached' : 'full' };
    return { typeId, marker: known ? 'cached' : 'full' };
  }

  // ==== flushing and receiving ==============================================================

  private nextEvalId(): number {
    let id = this.evalCounter;
    if (this.beh.evalIdSkipsZero && id === 0) id = 1;
    this.evalCounter = (id + 1) >>> 0;
    return id;
  }

  private *forceFlush(): Co<void> {
    if (this.pending.length === 0) return;
    const { resp, recycle } = yield* this.flush();
    if (this.beh.rustChecksPlaceholderResponds) this.expectEmpty(resp);
    this.recycle(recycle);
  }

  /** Sends the pending batch as one R-Eval and waits for its J-Resp (handling J-Evals meanwhile). */
  private *flush(): Co<{ resp: Wire; recycle: number[]; wire: Wire }> {
    const pending = this.pending;
    this.pending = [];
    const ops: Op[] = pending.map((p, i) => ({
      index: i + 1,
      fnId: p.fnId,
      marker: p.marker,
      typeId: p.typeId,
      signature: p.signature,
      args: p.args,
    }));
    const body: { -readonly [K in keyof REvalBody]: REvalBody[K] } = { kind: 'r-eval', ops };
    if (this.beh.reservationCount) {
      body.reservedCount = this.reservedCount;
      this.reservedCount = 0;
    }
    let evalId: number | undefined;
    if (this.beh.evalIdStart !== undefined) {
      evalId = this.nextEvalId();
      body.evaluateId = evalId;
    }
    if (this.beh.explicit) {
      body.installIds = this.pendingInstall;
      body.reservedIds = this.reservedIds;
      this.pendingInstall = [];
      this.reservedIds = [];
      this.ackStack.push(pending.filter((p) => p.marker === 'full').map((p) => p.typeId));
    }
    const recycle = this.recycleAfterFlush;
    this.recycleAfterFlush = [];
    const wire: Wire = {
      serial: this.nextSerial(),
      kind: 'r-eval',
      bytes: encodeMessage(this.beh.features, body),
      ...(evalId !== undefined && { evalId }),
      ...(this.beh.explicit && { topLevel: this.jEvalDepth === 0 }),
      ops: pending.map((p) => p.meta),
      rustTopLevel: this.isTopLevel(),
    };
    for (const p of pending) this.truth.setWire(p.meta.key, wire);
    this.flushDepth++;
    yield { kind: 'send', wire };
    const resp = yield* this.waitForResponse(wire);
    this.flushDepth--;
    if (this.beh.explicit) for (const id of this.ackStack.pop() ?? []) this.acked.add(id);
    if (resp.answers !== wire) {
      this.truth.event(
        'misrouted-respond',
        'rust',
        resp.rustSeq,
        `Rust took the J-Resp JS sent for R-Eval (js seq ${resp.answers?.jsSeq ?? '?'}) as the answer to R-Eval (rust seq ${wire.rustSeq ?? '?'})`,
      );
    }
    return { resp, recycle, wire };
  }

  private *waitForResponse(req: Wire): Co<Wire> {
    const byId = this.beh.features.routing === 'by-id' && req.evalId !== undefined;
    if (byId) this.waiting.push(req.evalId!);
    for (;;) {
      if (byId) {
        const stashed = this.stash.get(req.evalId!);
        if (stashed) {
          this.stash.delete(req.evalId!);
          this.waiting.pop();
          return stashed;
        }
      }
      const msg = (yield { kind: 'recv', idle: false }) as Wire;
      if (msg.kind === 'j-eval') {
        yield* this.handleJEval(msg);
        continue;
      }
      if (byId) {
        const id = new FrameReader(msg.bytes).u32('evaluate id');
        if (id !== req.evalId) {
          if (this.beh.unknownIdPanics && !this.waiting.includes(id)) {
            throw new RustPanic(`J-Resp for evaluate id ${id}, which no flush is waiting for`);
          }
          this.stash.set(id, msg);
          continue;
        }
        this.waiting.pop();
      }
      return msg;
    }
  }

  private expectEmpty(resp: Wire): void {
    const r = new FrameReader(resp.bytes);
    r.u8();
    if (this.beh.features.jRespPrelude === 'id') r.u32();
    const left = r.remaining();
    if (left.u32 || left.u16 || left.u8 || left.str) throw new RustPanic('Extra data remaining after decoding response');
  }

  /** Decodes the value of the op that triggered the flush (`R::decode`), allocating ids for its HeapRefs. */
  private decodeResult(resp: Wire, ret: TypeDef, info: AllocInfo): RVal {
    const r = new FrameReader(resp.bytes);
    r.u8();
    if (this.beh.features.jRespPrelude === 'id') r.u32();
    let v: Value;
    try {
      v = decodeValue(r, ret, this.j2r);
    } catch (e) {
      if (e instanceof WireError) throw new RustPanic(`Failed to decode return value: ${e.message}`);
      throw e;
    }
    const left = r.remaining();
    if (left.u32 || left.u16 || left.u8 || left.str) throw new RustPanic('Extra data remaining after decoding response');
    const keys = resp.heapKeys ?? [];
    let i = 0;
    return this.fromJs(v, ret, () => keys[i++] ?? `x${resp.serial}.${i}`, info, false);
  }

  /** A J→R value as Rust decodes it: HeapRefs get fresh heap ids, BorrowedRefs borrow slots. */
  private fromJs(v: Value, t: TypeDef, nextKey: () => string, info: AllocInfo, callbackArg: boolean): RVal {
    switch (v.kind) {
      case 'unit':
        return undefined;
      case 'bool':
        return v.value;
      case 'int':
        return typeof v.value === 'bigint' && v.value <= BigInt(Number.MAX_SAFE_INTEGER) && v.value >= 0n && (v.type === 'u64' || v.type === 'usize')
          ? Number(v.value)
          : v.value;
      case 'float':
        return v.value;
      case 'string':
        return v.value;
      case 'cached-string':
        return `<cached ${v.id}>`;
      case 'heapref': {
        const key = nextKey();
        let id: number;
        let fromFree: boolean | undefined;
        if (this.beh.seqIds) {
          id = v.id ?? 0;
          if (id >= this.maxId) this.maxId = id + 1; // S-R1
        } else if (this.beh.explicit) {
          id = this.slabAlloc(); // E-R4
          if (callbackArg && this.faults.fire('callback-params-as-placeholders', `callback argument id ${id} goes into the reserved list`)) {
            this.reservedIds.push(id);
          } else {
            this.pendingInstall.push(id);
          }
        } else {
          const n = this.nextHeapId();
          id = n.id;
          if (this.beh.freelist) fromFree = n.fromFree;
          if (callbackArg && this.beh.reservationCount && this.faults.fire('callback-params-as-placeholders', `callback argument id ${id} counted as a placeholder`)) {
            this.reservedCount++;
          }
        }
        return this.newValue(id, key, info.fn, fromFree !== undefined ? { ...info, fromFreeList: fromFree } : info, false);
      }
      case 'borrowed': {
        const key = nextKey();
        if (this.borrowPointer <= 1) throw new RustPanic('borrow stack overflow');
        this.borrowPointer--;
        const id = this.borrowPointer;
        this.truth.rustAlloc(key, id, { ...info, kind: 'borrowed' });
        return new JsValue(id, key, true, 'borrowed');
      }
      case 'option':
        return v.value === null ? null : { some: this.fromJs(v.value, t.kind === 'option' ? t.inner : t, nextKey, info, callbackArg) };
      case 'result':
        return { ok: v.ok, value: this.fromJs(v.value, t.kind === 'result' ? (v.ok ? t.ok : t.err) : t, nextKey, info, callbackArg) };
      case 'array':
        return v.items.map((item) => this.fromJs(item, t.kind === 'array' ? t.element : t, nextKey, info, callbackArg));
      case 'clamped':
        return Array.from(v.bytes);
      case 'enum':
        return v.variant ?? v.index;
      case 'callback':
        return v.key;
    }
  }

  // ==== J-Evals (callbacks, native-ref drops) ================================================

  private *handleJEval(wire: Wire): Co<void> {
    const r = new FrameReader(wire.bytes);
    r.u8();
    const fnId = r.u32('call kind');
    const readKey = (): number => (this.beh.features.callbackKeyWords === 2 ? wordsToNumber(r.u32(), r.u32()) : r.u32());
    if (fnId === CALL_RUST_CALLBACK) {
      const key = readKey();
      const cb = this.callbacks.get(key);
      if (!cb) {
        this.truth.event('unknown-callback', 'rust', wire.rustSeq, `callback call for key ${key}, which Rust does not have`);
        throw new RustPanic(`invalid handle ${key}`);
      }
      this.jEvalDepth++;
      this.borrowFrames.push(this.borrowPointer);
      const keys = wire.heapKeys ?? [];
      let i = 0;
      const args: RVal[] = [];
      const info: AllocInfo = { kind: 'callback-arg', fn: 'callback', wire };
      for (const p of cb.type.params) {
        let v: Value;
        try {
          v = decodeValue(r, p, this.j2r);
        } catch (e) {
          if (e instanceof WireError) throw new RustPanic(`Failed to decode callback argument: ${e.message}`);
          throw e;
        }
        const argIndex = args.length;
        args.push(this.fromJs(v, p, () => keys[i++] ?? `x${wire.serial}.${i}`, { ...info, arg: argIndex }, true));
      }
      const result = yield* cb.body(args);
      // The body's owned arguments die at its end unless it kept or returned them.
      for (const a of args) if (a instanceof JsValue && !a.borrowed && !a.dropped && !a.kept && a !== result) yield* this.release(a);
      // The wrapper encodes the return value (dropping it right after), then force-flushes.
      const ctx: ArgContext = { moved: [], argKeys: [], needsFlush: false };
      const value = this.toValue(cb.type.ret, result as RustArg, ctx);
      if (result instanceof JsValue && !result.kept) yield* this.release(result);
      yield* this.forceFlush();
      const saved = this.borrowFrames.pop();
      if (saved !== undefined) this.borrowPointer = saved;
      const installIds = this.beh.explicit ? this.drainInstall() : undefined;
      this.jEvalDepth--;
      const bytes = encodeMessage(this.beh.features, {
        kind: 'r-resp',
        ...(installIds && { installIds }),
        value,
        type: cb.type.ret,
      });
      yield {
        kind: 'send',
        wire: { serial: this.nextSerial(), kind: 'r-resp', bytes, answers: wire, ...(ctx.argKeys[0] !== undefined && { valueKey: ctx.argKeys[0] }) },
      };
      return;
    }
    if (fnId === DROP_NATIVE_REF) {
      const key = readKey();
      this.jEvalDepth++;
      if (this.beh.explicit && this.frames.length > 0) {
        this.frames[this.frames.length - 1]!.push({ kind: 'handle', key });
      } else if (!this.callbacks.remove(key) && this.beh.handles !== 'slotmap') {
        this.truth.event('unknown-callback', 'rust', wire.rustSeq, `native-ref drop for key ${key}, which Rust does not have`);
        throw new RustPanic(`invalid handle ${key}`);
      }
      const installIds = this.beh.explicit ? this.drainInstall() : undefined;
      this.jEvalDepth--;
      const bytes = encodeMessage(this.beh.features, { kind: 'r-resp', ...(installIds && { installIds }) });
      yield { kind: 'send', wire: { serial: this.nextSerial(), kind: 'r-resp', bytes, answers: wire } };
      return;
    }
    throw new RustPanic(`unknown J-Eval call kind 0x${fnId.toString(16)}`);
  }

  private drainInstall(): number[] {
    const ids = this.pendingInstall;
    this.pendingInstall = [];
    return ids;
  }

  // ==== heap ids and drops ==================================================================

  private nextHeapId(): { id: number; fromFree: boolean } {
    if (this.beh.freelist && this.freeIds.length > 0) {
      const id = this.freeIds.pop()!;
      if (this.live.has(id)) this.truth.event('id-alias', 'rust', undefined, `Rust hands out heap id ${id} from its free list while a JsValue still holds it`);
      return { id, fromFree: true };
    }
    return { id: this.maxId++, fromFree: false };
  }

  private slabAlloc(): number {
    const id = this.slabFree.pop() ?? this.slabNext++;
    if (this.slabLive.has(id)) throw new RustPanic(`heap id ${id} allocated twice`);
    this.slabLive.add(id);
    return id;
  }

  private recycle(ids: number[]): void {
    for (const id of ids) {
      // E-R10: deferred recycles skip ids that became live again.
      if (this.slabReleased.delete(id)) this.slabFree.push(id);
    }
  }

  private newValue(id: number, key: string, fn: string, info: AllocInfo, borrowed: boolean): JsValue {
    this.truth.rustAlloc(key, id, info);
    if (!borrowed && id >= JSIDX_RESERVED) this.live.set(id, (this.live.get(id) ?? 0) + 1);
    return new JsValue(id, key, borrowed, fn);
  }

  private *release(v: JsValue): Co<void> {
    if (v.dropped) return;
    v.dropped = true;
    if (v.borrowed || v.id < JSIDX_RESERVED) return;
    const n = (this.live.get(v.id) ?? 1) - 1;
    if (n <= 0) this.live.delete(v.id);
    else this.live.set(v.id, n);
    if (this.beh.disposeOnClosureDrop && v.closureOwnership === 'owned') {
      // Dropping an owned Closure disposes its RustFunction first (emitted at once).
      yield* this.runJsSync(F.dispose_rust_function, [BigInt(v.id)]);
    }
    yield* this.releaseId(v.id);
    if (this.faults.fire('double-drop', `Rust releases heap id ${v.id} a second time`)) yield* this.releaseId(v.id);
  }

  private *releaseId(id: number): Co<void> {
    if (this.beh.explicit) {
      if (!this.slabLive.delete(id)) throw new RustPanic(`release of heap id ${id}, which is not live`);
      this.slabReleased.add(id);
    }
    const frame = this.frames[this.frames.length - 1];
    if (frame) frame.push({ kind: 'heap', id });
    else yield* this.emitDrop(id);
  }

  private *emitDrop(id: number): Co<void> {
    // legacy-freelist: the id is reusable as soon as its drop is queued (L-R6).
    if (this.beh.freelist) this.freeIds.push(id);
    yield* this.runJsSync(F.drop_heap_ref, [BigInt(id)]);
    if (this.beh.explicit) {
      if (this.batching) this.recycleAfterFlush.push(id);
      else this.recycle([id]);
    }
  }

  /** Pops the op's "ids to free" frame: into the parent frame, or emitted now. */
  private *popFrame(): Co<void> {
    const entries = this.frames.pop() ?? [];
    const parent = this.frames[this.frames.length - 1];
    if (parent) {
      parent.push(...entries);
      return;
    }
    for (const e of entries) {
      if (e.kind === 'heap') yield* this.emitDrop(e.id);
      else this.callbacks.remove(e.key);
    }
  }

  // ==== reports =============================================================================

  endState(limit: number): SideEnd {
    const ids = [...this.live.keys()].sort((a, b) => a - b);
    return {
      liveIds: ids.slice(0, limit),
      liveCount: ids.length,
      maxId: this.beh.explicit ? this.slabNext : this.maxId,
      borrowPointer: this.borrowPointer,
      borrowFrames: this.borrowFrames.length,
    };
  }
}

/** The scenario-facing part of the Rust peer. */
export type RustApi = Pick<
  RustPeer,
  'rev' | 'beh' | 'batchMode' | 'isBatching' | 'call' | 'callValue' | 'batch' | 'section' | 'closure' | 'closureOnce' | 'stackClosure' | 'drop' | 'clone' | 'keep' | 'idle'
>;
