/**
 * The JS heap the JS model drives: the calls the webview runtime makes on `window.jsHeap`
 * (allocators.md §3; `src/ts/heap.ts`), either on a built-in model of that class or on
 * the user's own implementation loaded from a file (heap-file.ts), or on both at once
 * with every answer compared.
 */
import type { AllocatorKind } from '../../protocol/revisions.js';
import { JSIDX_OFFSET, JSIDX_RESERVED, type ValueInfo } from '../ids.js';

/** Hole ranges kept for explaining an empty slot; older ones are forgotten. */
const MAX_HOLE_RANGES = 4096;

/** The JS value a slot holds: in the replay, the identity of the value and its provenance. */
export interface JsVal {
  readonly key: string;
  readonly info: ValueInfo;
}

/** The JS runtime would throw here (the heap threw, or the runtime's own check failed). */
export class HeapThrow extends Error {
  override readonly name = 'HeapThrow';
}

/**
 * The interface a user's heap file must provide (documented in docs/findings.md,
 * "Driving your own heap"). Only the methods the trace's revision uses are called.
 */
export interface RealHeap {
  insert?(value: unknown): number;
  insertAt?(id: number, value: unknown): void;
  get(id: number): unknown;
  remove(id: number): unknown;
  pushReservationScope?(countOrIds: number | number[]): void;
  fillNextReserved?(value: unknown): void;
  popReservationScope?(validate?: boolean): void;
  addBorrowedRef(value: unknown): number;
  pushBorrowFrame(): void;
  popBorrowFrame(): void;
  deferHeapRefs?(): { push(value: unknown): void };
  resolveDeferredHeapRefs?(ids: number[]): void;
  getBorrowStackPointer?(): number;
}

export type EmptyReason = 'above-counter' | 'reserved-unfilled' | 'hole' | 'freed' | 'never';

interface CountScope {
  readonly start: number;
  readonly count: number;
  next: number;
}
interface ListScope {
  readonly ids: readonly number[];
  next: number;
}
interface Deferred {
  readonly values: JsVal[];
  next: number;
  enqueued: boolean;
}

/** The built-in model of the webview's `JSHeap`, one class for every allocator kind. */
export class ModelHeap {
  private slots = new Map<number, JsVal>();
  private borrow = new Map<number, JsVal>();
  maxId = JSIDX_RESERVED;
  private freeIds: number[] = [];
  pointer = JSIDX_OFFSET;
  private frames: number[] = [];
  private countScopes: CountScope[] = [];
  private listScopes: ListScope[] = [];
  private deferred = new Map<number, Deferred>();
  private deferredStack: number[] = [];
  private deferredSerial = 0;
  /** Unfilled tails of popped count scopes, as [start, end) ranges: a count read off the wire can be huge. */
  private holes: Array<readonly [number, number]> = [];

  constructor(readonly allocator: AllocatorKind) {}

  clone(): ModelHeap {
    const c = new ModelHeap(this.allocator);
    c.slots = new Map(this.slots);
    c.borrow = new Map(this.borrow);
    c.maxId = this.maxId;
    c.freeIds = [...this.freeIds];
    c.pointer = this.pointer;
    c.frames = [...this.frames];
    c.countScopes = this.countScopes.map((s) => ({ ...s }));
    c.listScopes = this.listScopes.map((s) => ({ ...s }));
    c.deferred = new Map([...this.deferred].map(([k, d]) => [k, { values: [...d.values], next: d.next, enqueued: d.enqueued }]));
    c.deferredStack = [...this.deferredStack];
    c.deferredSerial = this.deferredSerial;
    c.holes = [...this.holes];
    return c;
  }

  insert(v: JsVal): number {
    if (this.allocator === 'explicit') throw new Error('explicit-ids JS never inserts by itself');
    const id = this.allocator === 'freelist' && this.freeIds.length > 0 ? this.freeIds.pop()! : this.maxId++;
    this.slots.set(id, v);
    return id;
  }

  insertAt(id: number, v: JsVal): void {
    if (id < JSIDX_RESERVED) throw new HeapThrow(`Cannot install heap ref into special slot ${id}`);
    this.slots.set(id, v);
    if (id >= this.maxId && this.allocator !== 'explicit') this.maxId = id + 1;
  }

  /** seq-id: JS wrote an ID other than the one this model chose; follow JS. */
  relocate(from: number, to: number): void {
    const v = this.slots.get(from);
    if (!v) return;
    this.slots.delete(from);
    this.slots.set(to, v);
    if (to >= this.maxId) this.maxId = to + 1;
  }

  pushReservationScope(arg: number | readonly number[]): void {
    if (typeof arg === 'number') {
      this.countScopes.push({ start: this.maxId, count: arg, next: 0 });
      this.maxId += arg;
      return;
    }
    this.listScopes.push({ ids: arg, next: 0 });
    for (const id of arg) {
      if (id < JSIDX_RESERVED) throw new HeapThrow(`Cannot reserve special heap slot ${id}`);
      if (this.slots.has(id)) throw new HeapThrow(`Reserved heap slot ${id} is already occupied`);
    }
  }

  fillNextReserved(v: JsVal, scope?: number): number {
    if (this.allocator === 'explicit') {
      const s = this.listScopes[scope ?? this.listScopes.length - 1];
      if (!s || s.next >= s.ids.length) throw new HeapThrow('No reserved slots available');
      const id = s.ids[s.next++]!;
      this.insertAt(id, v);
      return id;
    }
    const s = this.countScopes[scope ?? this.countScopes.length - 1];
    if (!s || s.next >= s.count) throw new HeapThrow('No reserved slots available');
    const id = s.start + s.next++;
    this.slots.set(id, v);
    return id;
  }

  popReservationScope(validate = true): void {
    if (this.allocator === 'explicit') {
      const s = this.listScopes.pop();
      if (validate && s && s.next !== s.ids.length) throw new HeapThrow(`Only filled ${s.next} of ${s.ids.length} reserved heap slots`);
      return;
    }
    const s = this.countScopes.pop();
    if (s && s.next < s.count) {
      this.holes.push([s.start + s.next, s.start + s.count]);
      if (this.holes.length > MAX_HOLE_RANGES) this.holes.shift();
    }
  }

  get(id: number): JsVal | undefined {
    return id < JSIDX_OFFSET ? this.borrow.get(id) : this.slots.get(id);
  }

  remove(id: number): JsVal | undefined {
    if (id < JSIDX_RESERVED) return undefined;
    const v = this.slots.get(id);
    if (this.allocator === 'explicit' && !v) return undefined;
    this.slots.delete(id);
    // legacy-freelist pushes even when the slot was empty (L-J7: no check that it was live).
    if (this.allocator === 'freelist') this.freeIds.push(id);
    return v;
  }

  addBorrowedRef(v: JsVal): number {
    if (this.pointer <= 1) throw new HeapThrow('Borrow stack overflow: too many borrowed references in a single operation');
    this.pointer--;
    this.borrow.set(this.pointer, v);
    return this.pointer;
  }

  pushBorrowFrame(): void {
    this.frames.push(this.pointer);
  }

  popBorrowFrame(): void {
    const saved = this.frames.pop();
    if (saved === undefined) return;
    for (let i = this.pointer; i < saved; i++) this.borrow.delete(i);
    this.pointer = saved;
  }

  /** A `DeferredHeapRefs` for one outbound message (explicit-ids). Returns its handle. */
  newDeferred(): number {
    const id = ++this.deferredSerial;
    this.deferred.set(id, { values: [], next: 0, enqueued: false });
    return id;
  }

  deferPush(handle: number, v: JsVal): void {
    const d = this.deferred.get(handle);
    if (!d) return;
    if (!d.enqueued) {
      d.enqueued = true;
      this.deferredStack.push(handle);
    }
    d.values.push(v);
  }

  /** E-J1: the top batch takes the IDs, positionally. Returns what was installed where. */
  resolveDeferred(ids: readonly number[]): Array<[number, JsVal]> {
    const handle = this.deferredStack[this.deferredStack.length - 1];
    const d = handle === undefined ? undefined : this.deferred.get(handle);
    if (!d) throw new HeapThrow('Received an install batch but no deferred heap-ref frame is pending');
    const remaining = d.values.length - d.next;
    if (ids.length > remaining) throw new HeapThrow(`Heap-ref install count mismatch: ${ids.length} IDs for ${remaining} remaining values`);
    const done: Array<[number, JsVal]> = [];
    ids.forEach((id, i) => {
      const v = d.values[d.next + i]!;
      this.insertAt(id, v);
      done.push([id, v]);
    });
    d.next += ids.length;
    if (d.next === d.values.length) {
      this.deferredStack.pop();
      this.deferred.delete(handle!);
    }
    return done;
  }

  /** Depths of the borrow-frame and reservation stacks (to remove one entry later). */
  marks(): { frame: number; scope: number } {
    return { frame: this.frames.length, scope: this.allocator === 'explicit' ? this.listScopes.length : this.countScopes.length };
  }

  /**
   * Drops the borrow frame and scope pushed at `mark` although newer ones sit above them:
   * the trace's order put an exchange's end after exchanges that JS really ran elsewhere.
   */
  removeAt(mark: { frame: number; scope: number }, frame: boolean, scope: boolean): void {
    if (frame && mark.frame < this.frames.length) this.frames.splice(mark.frame, 1);
    if (scope) {
      const list: unknown[] = this.allocator === 'explicit' ? this.listScopes : this.countScopes;
      if (mark.scope < list.length) list.splice(mark.scope, 1);
    }
  }

  // ---- introspection (the model only) ----------------------------------------------------

  has(id: number): boolean {
    return this.slots.has(id);
  }

  liveCount(): number {
    return this.slots.size;
  }

  entries(): IterableIterator<[number, JsVal]> {
    return this.slots.entries();
  }

  frameDepth(): number {
    return this.frames.length;
  }

  scopes(): Array<{ reserved: number; filled: number; start?: number }> {
    if (this.allocator === 'explicit') return this.listScopes.map((s) => ({ reserved: s.ids.length, filled: s.next }));
    return this.countScopes.map((s) => ({ reserved: s.count, filled: s.next, start: s.start }));
  }

  topDeferred(): { remaining: number; values: readonly JsVal[]; next: number } | undefined {
    const handle = this.deferredStack[this.deferredStack.length - 1];
    const d = handle === undefined ? undefined : this.deferred.get(handle);
    return d ? { remaining: d.values.length - d.next, values: d.values, next: d.next } : undefined;
  }

  pendingDeferred(): number {
    let n = 0;
    for (const h of this.deferredStack) {
      const d = this.deferred.get(h);
      if (d) n += d.values.length - d.next;
    }
    return n;
  }

  freeList(): number[] {
    return this.freeIds.slice(-16);
  }

  freeCount(): number {
    return this.freeIds.length;
  }

  /** `freeList()`, or `prev` when it holds the same IDs (snapshots share what did not change). */
  freeListOr(prev: readonly number[] | undefined): number[] {
    const ids = this.freeIds;
    const from = Math.max(0, ids.length - 16);
    if (prev && prev.length === ids.length - from) {
      let same = true;
      for (let i = 0; i < prev.length && same; i++) same = prev[i] === ids[from + i];
      if (same) return prev as number[];
    }
    return ids.slice(from);
  }

  /** `scopes()`, or `prev` when it shows the same scopes. */
  scopesOr(prev: ReadonlyArray<{ reserved: number; filled: number; start?: number }> | undefined): Array<{ reserved: number; filled: number; start?: number }> {
    if (prev) {
      let same = true;
      if (this.allocator === 'explicit') {
        const list = this.listScopes;
        same = prev.length === list.length;
        for (let i = 0; i < list.length && same; i++) same = prev[i]!.reserved === list[i]!.ids.length && prev[i]!.filled === list[i]!.next;
      } else {
        const list = this.countScopes;
        same = prev.length === list.length;
        for (let i = 0; i < list.length && same; i++) same = prev[i]!.reserved === list[i]!.count && prev[i]!.filled === list[i]!.next && prev[i]!.start === list[i]!.start;
      }
      if (same) return prev as Array<{ reserved: number; filled: number; start?: number }>;
    }
    return this.scopes();
  }

  /** Why an empty slot is empty, as far as this heap can tell. */
  why(id: number): EmptyReason {
    if (this.allocator === 'explicit') return 'never';
    if (id >= this.maxId) return 'above-counter';
    for (const s of this.countScopes) if (id >= s.start + s.next && id < s.start + s.count) return 'reserved-unfilled';
    if (this.holes.some(([start, end]) => id >= start && id < end)) return 'hole';
    return 'freed';
  }
}

/**
 * What the JS model calls: the built-in model always, and the user's heap when one was
 * given. The user's heap is authoritative; every answer that differs is reported.
 */
export class JsHeap {
  private realDeferred = new Map<number, { push(value: unknown): void }>();

  constructor(
    readonly model: ModelHeap,
    private readonly real: RealHeap | undefined,
    private readonly disagree: (call: string, model: string, real: string) => void,
  ) {}

  get usesRealHeap(): boolean {
    return this.real !== undefined;
  }

  clone(): JsHeap | undefined {
    if (this.real) return undefined;
    return new JsHeap(this.model.clone(), undefined, this.disagree);
  }

  /** Calls the model and the user's heap, and reports where they differ (without a user heap, callers go straight to the model). */
  private both<T>(call: string, onModel: () => T, onReal: ((r: RealHeap) => T) | undefined, same: (m: T, r: T) => boolean, show: (x: T) => string): T {
    let m: T | undefined;
    let mErr: unknown;
    try {
      m = onModel();
    } catch (e) {
      mErr = e;
    }
    if (!this.real || !onReal) {
      if (mErr) throw mErr;
      return m as T;
    }
    let r: T | undefined;
    let rErr: unknown;
    try {
      r = onReal(this.real);
    } catch (e) {
      rErr = e;
    }
    const msg = errorText;
    if (mErr && rErr) throw new HeapThrow(msg(rErr));
    if (mErr) {
      this.disagree(call, `throws "${msg(mErr)}"`, `returns ${show(r as T)}`);
      return r as T;
    }
    if (rErr) {
      this.disagree(call, `returns ${show(m as T)}`, `throws "${msg(rErr)}"`);
      throw new HeapThrow(msg(rErr));
    }
    if (!same(m as T, r as T)) this.disagree(call, show(m as T), show(r as T));
    return r as T;
  }

  private need<K extends keyof RealHeap>(name: K): NonNullable<RealHeap[K]> {
    const f = this.real?.[name];
    if (typeof f !== 'function') throw new Error(`the JS heap file has no ${String(name)}() method, which this revision needs`);
    return f as NonNullable<RealHeap[K]>;
  }

  insert(v: JsVal): number {
    if (!this.real) return this.model.insert(v);
    return this.both('insert', () => this.model.insert(v), (r) => this.need('insert').call(r, v), (a, b) => a === b, (x) => `#${x}`);
  }

  insertAt(id: number, v: JsVal): void {
    if (!this.real) return this.model.insertAt(id, v);
    this.both('insertAt', () => this.model.insertAt(id, v), (r) => this.need('insertAt').call(r, id, v), () => true, () => 'ok');
  }

  relocate(from: number, to: number): void {
    this.model.relocate(from, to);
  }

  pushReservationScope(arg: number | readonly number[]): void {
    if (!this.real) return this.model.pushReservationScope(arg);
    this.both(
      'pushReservationScope',
      () => this.model.pushReservationScope(arg),
      (r) => this.need('pushReservationScope').call(r, typeof arg === 'number' ? arg : [...arg]),
      () => true,
      () => 'ok',
    );
  }

  /**
   * `scope`: the reservation stack index of the R-Eval whose op completes, when it is not the
   * innermost one (its op really completed before the newer scopes were pushed; only the
   * model can be told so).
   */
  fillNextReserved(v: JsVal, scope?: number): number {
    const top = this.model.marks().scope - 1;
    if (scope !== undefined && scope !== top && scope >= 0) return this.model.fillNextReserved(v, scope);
    let modelId: number | undefined;
    let mErr: unknown;
    try {
      modelId = this.model.fillNextReserved(v);
    } catch (e) {
      mErr = e;
    }
    if (!this.real) {
      if (mErr) throw mErr;
      return modelId!;
    }
    let rErr: unknown;
    try {
      this.need('fillNextReserved').call(this.real, v);
    } catch (e) {
      rErr = e;
    }
    if (mErr && rErr) throw new HeapThrow(errorText(rErr));
    if (rErr) {
      this.disagree('fillNextReserved', `fills #${modelId}`, `throws "${errorText(rErr)}"`);
      throw new HeapThrow(errorText(rErr));
    }
    if (mErr) {
      this.disagree('fillNextReserved', `throws "${errorText(mErr)}"`, 'fills a slot');
      return -1;
    }
    if (this.real.get(modelId!) === v) return modelId!;
    this.disagree('fillNextReserved', `fills #${modelId}`, `stores the value elsewhere (get(${modelId}) does not return it)`);
    return -1;
  }

  popReservationScope(validate: boolean): void {
    if (!this.real) return this.model.popReservationScope(validate);
    this.both('popReservationScope', () => this.model.popReservationScope(validate), (r) => this.need('popReservationScope').call(r, validate), () => true, () => 'ok');
  }

  get(id: number): JsVal | undefined {
    const m = this.model.get(id);
    if (!this.real) return m;
    let r: unknown;
    try {
      r = this.real.get(id);
    } catch (e) {
      this.disagree(`get(${id})`, m ? `returns ${m.info.what}` : 'returns undefined', `throws "${e instanceof Error ? e.message : String(e)}"`);
      return undefined;
    }
    const rv = isJsVal(r) ? r : undefined;
    if (rv !== m) this.disagree(`get(${id})`, m ? m.info.what : 'undefined', rv ? rv.info.what : r === undefined ? 'undefined' : String(r));
    return rv;
  }

  remove(id: number): JsVal | undefined {
    if (!this.real) return this.model.remove(id);
    return this.both(
      `remove(${id})`,
      () => this.model.remove(id),
      (r) => {
        const x = this.need('remove').call(r, id);
        return isJsVal(x) ? x : undefined;
      },
      (a, b) => a === b,
      (x) => (x ? x.info.what : 'undefined'),
    );
  }

  addBorrowedRef(v: JsVal): number {
    if (!this.real) return this.model.addBorrowedRef(v);
    return this.both('addBorrowedRef', () => this.model.addBorrowedRef(v), (r) => this.need('addBorrowedRef').call(r, v), (a, b) => a === b, (x) => `#${x}`);
  }

  pushBorrowFrame(): void {
    if (!this.real) return this.model.pushBorrowFrame();
    this.both('pushBorrowFrame', () => this.model.pushBorrowFrame(), (r) => this.need('pushBorrowFrame').call(r), () => true, () => 'ok');
  }

  popBorrowFrame(): void {
    if (!this.real) return this.model.popBorrowFrame();
    this.both('popBorrowFrame', () => this.model.popBorrowFrame(), (r) => this.need('popBorrowFrame').call(r), () => true, () => 'ok');
    const rp = this.real?.getBorrowStackPointer?.();
    if (typeof rp === 'number' && rp !== this.model.pointer) this.disagree('popBorrowFrame', `pointer ${this.model.pointer}`, `pointer ${rp}`);
  }

  newDeferred(): number {
    const h = this.model.newDeferred();
    if (this.real) this.realDeferred.set(h, this.need('deferHeapRefs').call(this.real));
    return h;
  }

  deferPush(handle: number, v: JsVal): void {
    this.model.deferPush(handle, v);
    this.realDeferred.get(handle)?.push(v);
  }

  resolveDeferred(ids: readonly number[]): Array<[number, JsVal]> {
    if (!this.real) return this.model.resolveDeferred(ids);
    return this.both(
      'resolveDeferredHeapRefs',
      () => this.model.resolveDeferred(ids),
      (r) => {
        this.need('resolveDeferredHeapRefs').call(r, [...ids]);
        const out: Array<[number, JsVal]> = [];
        for (const id of ids) {
          const x = r.get(id);
          if (isJsVal(x)) out.push([id, x]);
        }
        return out;
      },
      (a, b) => a.length === b.length && a.every(([id, v], i) => b[i]![0] === id && b[i]![1] === v),
      (x) => x.map(([id, v]) => `#${id}=${v.info.what}`).join(', ') || 'nothing',
    );
  }
}

function isJsVal(x: unknown): x is JsVal {
  return typeof x === 'object' && x !== null && typeof (x as JsVal).key === 'string' && typeof (x as JsVal).info === 'object';
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
