/**
 * The JS side's heap-ID bookkeeping (allocators.md §3-§6), driven only by what the webview
 * sees and does: the R-messages it receives (in processing order) and the J-messages it
 * sends. An R-Eval's ops run one after another; where nested traffic happened inside it
 * is not on the wire, so every open R-Eval keeps an op window (allocators.md §8) and only
 * the ops before the window's start are committed until its J-Resp.
 */
import { formatCallbackKey } from '../protocol/format.js';
import type { DecodedMessage, JEvalBody, JRespBody, JsCall, Op, REvalBody, RRespBody } from '../protocol/messages.js';
import { forEachCallback, forEachRef, type Value } from '../protocol/values.js';
import type { TypeDef } from '../protocol/types.js';
import type { FindingKind } from './findings.js';
import {
  BoundedMap,
  FREED_MEMORY,
  JSIDX_OFFSET,
  JSIDX_RESERVED,
  describe,
  idEventOf,
  provenanceOf,
  valueKey,
  type Belief,
  type IdEvent,
  type Intent,
  type Origin,
  type RefIntent,
  type ValueInfo,
} from './ids.js';
import { helperIdArg, isCastLike, locationOf, resettleGuesses, type Draft, type LMsg, type ModelContext, type StepOut } from './context.js';
import { HeapThrow, type JsHeap, type JsVal } from './js-heap.js';
import type { FindingLocation } from './findings.js';

export interface JsFrame {
  readonly serial: number;
  readonly kind: 'r-eval' | 'j-eval';
  readonly lm: LMsg;
  readonly ops: readonly Op[];
  /** Op window: the nested traffic seen so far ran during an op in [kmin, kmax]. */
  kmin: number;
  kmax: number;
  /** Ops whose arguments were decoded (started) and whose effects were applied (done). */
  started: number;
  done: number;
  /** R-Eval: `count` (reserved-count*), `list` (explicit-ids) or none. */
  readonly reservation: 'none' | 'count' | 'list';
  readonly reserved: number;
  /** Key of the draft that predicts JS threw inside this exchange. */
  threw?: string;
  readonly incomplete: boolean;
  /** TYPE_FULL definitions of this R-Eval by op, for the TYPE_CACHED race check. */
  readonly typeDefs: Map<number, number>;
  /** explicit-ids: the DeferredHeapRefs of this exchange's outbound message. */
  deferred?: number;
  intent?: Intent;
  borrowPushed: boolean;
  scopePushed: boolean;
  /** Where this exchange's borrow frame and scope sit in the heap's stacks. */
  mark?: { frame: number; scope: number };
  /** The callback-holder heuristic narrowed this window (docs/protocol.md §8.10). */
  assumed?: { op: number; window: [number, number]; callback: number };
  /** Ops completed before the J-Resp whose result may hold heap refs (known only from the J-Resp). */
  readonly resultsPending: number[];
}

export interface JsSnapshot {
  maxId?: number;
  freeList?: number[];
  live: number;
  borrowPointer: number;
  borrowFrames: number;
  scopes: Array<{ reserved: number; filled: number; start?: number }>;
  openExchanges: Array<{ kind: string; message: number; window?: [number, number] }>;
  pendingDeferred?: number;
}

export interface WindowChoice {
  readonly kmin: number;
  readonly kmax: number;
}

export interface ForkPlan {
  readonly serial: number;
  readonly choices: readonly WindowChoice[];
  readonly primary: number;
  /** Where the callback is assumed to run and why (heuristic). */
  readonly heuristic?: number;
  /** The window before the heuristic narrowed it, when it did. */
  readonly bare?: [number, number];
}

interface Freed {
  readonly info: ValueInfo;
  readonly at: FindingLocation;
}

export class JsModel {
  private frames: JsFrame[] = [];
  private types = new Set<number>();
  /** Types defined only in ops JS never parsed (it threw first). */
  private unparsed = new Map<number, { no: number; op: number }>();
  /** explicit-ids: JS threw and the exception left every open exchange (see unwind). */
  private unwoundAfterThrow = false;
  /** Callback key → where it last reached JS, and the heap ID Rust gave the op that carried it. */
  private callbacks = new Map<number, { serial: number; no: number; op: number; heapId?: number }>();
  private keyIndex = new Map<string, number>();
  private freed = new BoundedMap<number, Freed>(FREED_MEMORY);
  /** explicit-ids: drop/dispose ops whose role was a guess when they ran (re-applied once settled). */
  private guessed: Array<{ readonly id: number; readonly op: Op; value?: JsVal; freed: boolean }> = [];
  private settled = 0;
  /** Values Rust meant by an ID finding that JS had not stored yet: value key → draft keys. */
  private awaiting = new BoundedMap<string, string[]>(4096);
  /** Where JS stored such a value after all, for the drafts that named it (taken by the replay). */
  amendments: Array<{ readonly draftKey: string; readonly jsId: number; readonly info: ValueInfo }> = [];
  /** Values JS stored during the current step (for the comparison at creation). */
  storedNow: Array<{ readonly id: number; readonly info: ValueInfo; readonly frame: number | undefined }> = [];
  created = 0;
  freedCount = 0;
  /** Set by the session when `onIdEvent` is given: created/freed events of the step being run. */
  idEvents?: IdEvent[];

  constructor(
    private readonly ctx: ModelContext,
    readonly heap: JsHeap,
  ) {}

  clone(): JsModel | undefined {
    const heap = this.heap.clone();
    if (!heap) return undefined;
    const c = new JsModel(this.ctx, heap);
    c.frames = this.frames.map((f) => ({ ...f, typeDefs: f.typeDefs, resultsPending: [...f.resultsPending] }));
    c.types = new Set(this.types);
    c.unparsed = new Map(this.unparsed);
    c.callbacks = new Map(this.callbacks);
    c.keyIndex = new Map(this.keyIndex);
    c.freed = this.freed.clone();
    c.guessed = this.guessed.map((g) => ({ ...g }));
    c.settled = this.settled;
    c.awaiting = this.awaiting.clone();
    c.created = this.created;
    c.freedCount = this.freedCount;
    if (this.idEvents) c.idEvents = [];
    return c;
  }

  private get allocator() {
    return this.ctx.features.allocator;
  }

  // ---- queries ------------------------------------------------------------------------

  liveCount(): number {
    return this.heap.model.liveCount();
  }

  liveEntries(): IterableIterator<[number, JsVal]> {
    return this.heap.model.entries();
  }

  counter(): number | undefined {
    return this.allocator === 'explicit' ? undefined : this.heap.model.maxId;
  }

  borrowState(): { pointer: number; frames: number } {
    return { pointer: this.heap.model.pointer, frames: this.heap.model.frameDepth() };
  }

  depth(): number {
    return this.frames.length;
  }

  openFrames(): readonly JsFrame[] {
    return this.frames;
  }

  snapshot(): JsSnapshot {
    const m = this.heap.model;
    return {
      ...(this.allocator !== 'explicit' && { maxId: m.maxId }),
      ...(this.allocator === 'freelist' && { freeList: m.freeList() }),
      live: m.liveCount(),
      borrowPointer: m.pointer,
      borrowFrames: m.frameDepth(),
      scopes: m.scopes(),
      openExchanges: this.frames.map((f) => ({ kind: f.kind, message: f.lm.no, ...(f.kind === 'r-eval' && { window: [f.kmin, f.kmax] as [number, number] }) })),
      ...(this.allocator === 'explicit' && { pendingDeferred: m.pendingDeferred() }),
    };
  }

  /** Where JS stored the value Rust calls `key`, if it did. */
  idOf(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  // ---- op window ------------------------------------------------------------------------

  /**
   * For a J-Eval nested in an open R-Eval: the op positions it may run in. When the
   * allocator makes JS IDs depend on that position (legacy*), the positions that give
   * different IDs are returned as separate choices; otherwise one choice.
   */
  forkPlan(d: DecodedMessage): ForkPlan | undefined {
    const top = this.frames[this.frames.length - 1];
    if (!top || top.kind !== 'r-eval' || top.threw || d.body?.kind !== 'j-eval') return undefined;
    const w = this.windowFor(top, d.body.call);
    const narrowed = !this.ctx.strict && w.h !== undefined;
    const bare: [number, number] = [w.a, w.b];
    const a = narrowed ? w.h! : w.a;
    const b = narrowed ? w.h! : w.b;
    const legacy = this.allocator === 'freelist' || this.allocator === 'monotonic';
    if (!legacy || a === b) return { serial: top.serial, choices: [{ kmin: a, kmax: b }], primary: 0, ...(w.h !== undefined && { heuristic: w.h }), ...(narrowed && w.a !== w.b && { bare }) };
    // Positions k and k+1 give the same JS state when op k has no heap effect.
    const choices: WindowChoice[] = [];
    let start = a;
    for (let k = a; k <= b; k++) {
      if (k === b || this.hasEffect(top.ops[k - 1]!)) {
        choices.push({ kmin: start, kmax: k });
        start = k + 1;
      }
    }
    const assumed = w.h ?? a;
    const primary = Math.max(0, choices.findIndex((c) => assumed >= c.kmin && assumed <= c.kmax));
    return { serial: top.serial, choices, primary, ...(w.h !== undefined && { heuristic: w.h }) };
  }

  private hasEffect(op: Op): boolean {
    return op.signature.ret.kind === 'heapref' || this.ctx.role(op) === 'drop_heap_ref';
  }

  /** allocators.md §8: the window rules that do not depend on later evidence, and the heuristic. */
  private windowFor(f: JsFrame, call: JsCall): { a: number; b: number; h?: number } {
    let a = Math.max(f.kmin, f.started > f.done ? f.started : f.done + 1);
    a = Math.max(f.kmin, Math.min(a, f.kmax));
    const b = f.kmax;
    if (call.kind !== 'callback') return { a, b };
    // Where the key reached JS: an op of this R-Eval carrying it, else an earlier message.
    let holder: number | undefined;
    for (const op of f.ops) {
      let found = false;
      for (const arg of op.args) forEachCallback(arg, (cb) => (found ||= cb.key === call.key));
      if (found) {
        holder = op.index;
        break;
      }
    }
    let heapId: number | undefined;
    const holderIsCast = holder !== undefined && isCastLike(f.ops[holder - 1]!, this.ctx);
    if (holder !== undefined) {
      if (holder > b) return { a, b };
      a = Math.max(a, holder);
      if (holderIsCast) heapId = f.intent?.ops?.[holder - 1]?.resultId ?? this.keyIndex.get(valueKey({ no: f.lm.no, op: holder }));
    } else {
      const c = this.callbacks.get(call.key);
      // Unbatched casts (L-R2) get their ID from Rust only after the J-Resp: use where JS put it.
      heapId = c ? (c.heapId ?? this.keyIndex.get(valueKey({ no: c.no, op: c.op }))) : undefined;
    }
    let h: number | undefined;
    if (heapId !== undefined && f.intent?.ops) {
      for (let j = a; j <= b; j++) {
        if (f.intent.ops[j - 1]?.refs.some((r) => r.role === 'arg' && r.id === heapId)) {
          h = j;
          break;
        }
      }
    } else if (holder !== undefined && !holderIsCast) {
      // A stack closure has no heap ID: the op that carries it is the one that calls it.
      h = holder;
    }
    return { a, b, ...(h !== undefined && { h }) };
  }

  private narrow(f: JsFrame, kmin: number, kmax: number, out: StepOut): void {
    const lo = Math.max(f.kmin, kmin);
    const hi = Math.min(f.kmax, kmax);
    if (lo > hi) {
      out.inconsistent = true;
      return;
    }
    f.kmin = lo;
    f.kmax = hi;
    this.advance(f, out);
  }

  /** Commits every op before the window and starts the first op of the window. */
  private advance(f: JsFrame, out: StepOut): void {
    if (f.threw) return;
    while (f.done < f.kmin - 1 && !f.threw) {
      const j = f.done + 1;
      // Even if its checks fail, the trace says JS went on past this op.
      if (f.started < j) this.startOp(f, j, out);
      this.completeOp(f, j, undefined, out);
    }
    if (!f.threw && f.started < f.kmin && f.kmin <= f.ops.length) this.startOp(f, f.kmin, out);
  }

  // ---- steps ----------------------------------------------------------------------------

  step(lm: LMsg, d: DecodedMessage, intent: Intent | undefined, out: StepOut, choice?: WindowChoice): void {
    this.reconcile();
    const body = d.body;
    if (!body) return;
    switch (body.kind) {
      case 'r-eval':
        this.onREval(lm, d, body, intent, out);
        return;
      case 'j-eval':
        this.onJEval(lm, d, body, out, choice);
        return;
      case 'j-resp':
        this.onJResp(d, body, out);
        return;
      case 'r-resp':
        this.onRResp(lm, d, body, intent, out);
        return;
    }
  }

  private frameIndex(serial: number | undefined): number {
    if (serial === undefined) return -1;
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.serial === serial) return i;
    return -1;
  }

  private val(origin: Origin, what: string, fn: string, at: FindingLocation, reused = false): JsVal {
    const inside = this.insideCallback();
    const info: ValueInfo = { key: valueKey(origin), origin, what, fn, at, ...(inside && { inside }), ...(reused && { reused }) };
    return { key: info.key, info };
  }

  private insideCallback(): string | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === 'j-eval') return `inside the callback of msg ${f.lm.no}`;
    }
    return undefined;
  }

  private stored(id: number, v: JsVal): void {
    this.keyIndex.set(v.key, id);
    this.storedNow.push({ id, info: v.info, frame: this.frames[this.frames.length - 1]?.serial });
    const waiting = this.awaiting.get(v.key);
    if (waiting) {
      this.awaiting.delete(v.key);
      for (const draftKey of waiting) this.amendments.push({ draftKey, jsId: id, info: v.info });
    }
    this.created++;
    this.idEvents?.push(idEventOf('js', id, 'created', v.info, v.info.at));
  }

  private onREval(lm: LMsg, d: DecodedMessage, body: REvalBody, intent: Intent | undefined, out: StepOut): void {
    const f = this.ctx.features;
    const heapOps = body.ops.filter((o) => o.signature.ret.kind === 'heapref').length;
    const incomplete = d.exchange?.incomplete ?? false;
    const reservation = f.evalPrelude === 'install-and-reserved' ? 'list' : f.evalPrelude === 'none' ? 'none' : 'count';
    const reserved = reservation === 'list' ? body.reservedIds?.length ?? 0 : body.reservedCount ?? 0;
    const typeDefs = new Map<number, number>();
    for (const op of body.ops) if (op.marker === 'full' && !typeDefs.has(op.typeId)) typeDefs.set(op.typeId, op.index);
    const frame: JsFrame = {
      serial: d.exchange?.serial ?? -lm.no,
      kind: 'r-eval',
      lm,
      ops: body.ops,
      kmin: 1,
      kmax: Math.max(1, body.ops.length),
      started: 0,
      done: 0,
      reservation,
      reserved,
      incomplete,
      typeDefs,
      ...(intent && { intent }),
      borrowPushed: false,
      scopePushed: false,
      resultsPending: [],
    };
    this.frames.push(frame);
    const loc = locationOf(this.ctx, lm, 'js');
    if (reservation === 'list' && body.installIds && body.installIds.length > 0) {
      if (!this.install(body.installIds, intent, lm, out)) frame.threw = `install-mismatch|${lm.no}`;
    }
    frame.mark = this.heap.model.marks();
    this.heap.pushBorrowFrame();
    frame.borrowPushed = true;
    if (!incomplete && reserved > 0 && reserved !== heapOps) {
      const over = reserved < heapOps;
      const key = `${over ? 'reservation-overfilled' : 'reservation-underfilled'}|${lm.no}`;
      out.add({
        kind: over ? 'reservation-overfilled' : 'reservation-underfilled',
        severity: 'error',
        key,
        message: over
          ? `msg ${lm.no} reserves ${reserved} placeholder${reserved === 1 ? '' : 's'} but ${heapOps} of its ops return a JsValue: JS throws "No reserved slots available" at the ${ordinal(reserved + 1)} of them and never answers`
          : reservation === 'count'
            ? `msg ${lm.no} reserves ${reserved} placeholders but only ${heapOps} of its ops return a JsValue: JS skips ${reserved - heapOps} ID${reserved - heapOps === 1 ? '' : 's'} that Rust never hands out, and its counter runs ${reserved - heapOps} ahead from here`
            : `msg ${lm.no} reserves ${reserved} IDs but only ${heapOps} of its ops return a JsValue: JS throws "Only filled ${heapOps} of ${reserved} reserved heap slots" when the R-Eval ends`,
        location: loc,
        detail: { reserved, heapResults: heapOps },
      });
    }
    if (reservation === 'count') {
      this.heap.pushReservationScope(reserved);
      frame.scopePushed = true;
    } else if (reservation === 'list' && !frame.threw) {
      const ids = body.reservedIds ?? [];
      let bad: string | undefined;
      ids.forEach((id, i) => {
        const occupant = id >= JSIDX_RESERVED ? this.heap.get(id) : undefined;
        if (id >= JSIDX_RESERVED && !occupant) return;
        const belief = intent?.reserved?.[i];
        bad ??= this.occupied(id, occupant, belief, 'reserved', lm, out);
      });
      try {
        this.heap.pushReservationScope(ids);
        frame.scopePushed = true;
      } catch (e) {
        frame.scopePushed = true;
        if (!(e instanceof HeapThrow)) throw e;
        frame.threw = bad ?? `reserved-id-occupied|${lm.no}`;
      }
    }
    if (!frame.threw && body.ops.length > 0) this.startOp(frame, 1, out);
  }

  /** An ID Rust names (reserved or installed) is live in JS. */
  private occupied(id: number, occupant: JsVal | undefined, belief: Belief | undefined, list: 'reserved' | 'install', lm: LMsg, out0: StepOut): string {
    const loc = locationOf(this.ctx, lm, 'js');
    const guess = this.guessOn(id);
    const out = { add: (d: Draft): void => out0.add(this.withGuess(d, guess)) };
    if (belief?.releasedAt || (belief?.state === 'freed' && occupant && belief.info?.key === occupant.key)) {
      const key = `id-reused-before-drop|${lm.no}|${id}`;
      out.add({
        kind: 'id-reused-before-drop',
        severity: 'error',
        key,
        message: `msg ${lm.no} names #${id} in its ${list} list, but JS still holds ${occupant ? describe(occupant.info) : 'a value'} there: Rust released it ${belief?.freedAt ? `in msg ${belief.freedAt.message} op ${belief.freedAt.op}` : 'earlier'} and JS has not run that drop yet`,
        location: loc,
        rustId: id,
        jsId: id,
        ...(occupant && { provenance: [provenanceOf(id, 'js', occupant.info)] }),
      });
      return key;
    }
    const kind: FindingKind = list === 'reserved' ? 'reserved-id-occupied' : 'install-mismatch';
    const key = `${kind}|${lm.no}|${id}`;
    out.add({
      kind,
      severity: 'error',
      key,
      message:
        id < JSIDX_RESERVED
          ? `msg ${lm.no} names special slot #${id} in its ${list} list (JS throws)`
          : list === 'reserved'
            ? `msg ${lm.no} reserves #${id}, which JS still holds (${occupant ? describe(occupant.info) : 'a value'}): JS throws "Reserved heap slot ${id} is already occupied"`
            : `msg ${lm.no} installs #${id}, which JS still holds (${occupant ? describe(occupant.info) : 'a value'}): JS overwrites it silently`,
      location: loc,
      rustId: id,
      jsId: id,
      ...(occupant && { provenance: [provenanceOf(id, 'js', occupant.info)] }),
    });
    return key;
  }

  /** E-J1: an install list arrives; the top deferred batch takes it. Returns false if JS throws. */
  private install(ids: readonly number[], intent: Intent | undefined, lm: LMsg, out: StepOut): boolean {
    const top = this.heap.model.topDeferred();
    const loc = locationOf(this.ctx, lm, 'js');
    if (!top || ids.length > top.remaining) {
      out.add({
        kind: 'install-mismatch',
        severity: 'error',
        key: `install-mismatch|${lm.no}`,
        message: top
          ? `msg ${lm.no} installs ${ids.length} IDs but the pending deferred batch has only ${top.remaining} value${top.remaining === 1 ? '' : 's'} left: JS throws "Heap-ref install count mismatch"`
          : `msg ${lm.no} installs ${ids.length} ID${ids.length === 1 ? '' : 's'} (${ids.slice(0, 8).map((i) => `#${i}`).join(', ')}) but JS has no deferred values waiting: JS throws`,
        location: loc,
        detail: { ids: ids.slice(0, 32), pending: top?.remaining ?? 0 },
      });
      return false;
    }
    ids.forEach((id, i) => {
      const occupant = this.heap.get(id);
      if (occupant) this.occupied(id, occupant, intent?.install?.[i], 'install', lm, out);
      const jsVal = top.values[top.next + i]!;
      const rustKey = intent?.installKeys?.[i];
      if (rustKey !== undefined && rustKey !== jsVal.key) {
        out.add({
          kind: 'install-mismatch',
          severity: 'error',
          key: `install-mismatch|${lm.no}|${id}`,
          mismatch: true,
          message: `msg ${lm.no} installs #${id}: Rust gave it to ${intent?.installInfo?.[i] ? describe(intent.installInfo[i]!) : rustKey}, but JS applies it to ${describe(jsVal.info)} (the newest pending batch)`,
          location: loc,
          rustId: id,
          jsId: id,
          provenance: [...(intent?.installInfo?.[i] ? [provenanceOf(id, 'rust', intent.installInfo[i]!)] : []), provenanceOf(id, 'js', jsVal.info)],
        });
      }
    });
    try {
      for (const [id, v] of this.heap.resolveDeferred(ids)) this.stored(id, v);
    } catch (e) {
      if (!(e instanceof HeapThrow)) throw e;
      return false;
    }
    return true;
  }

  /** JS parses op j's type and decodes its arguments. Returns false if a check failed. */
  private startOp(f: JsFrame, j: number, out: StepOut): boolean {
    const op = f.ops[j - 1];
    if (!op) return true;
    f.started = Math.max(f.started, j);
    const lm = f.lm;
    let ok = true;
    if (op.marker === 'full') {
      this.types.add(op.typeId);
    } else if (!this.types.has(op.typeId)) {
      ok = this.typeRace(f, op, out) && ok;
      if (!ok) return false;
    }
    const refs = (f.intent?.ops?.[j - 1]?.refs ?? this.refsFromOp(op)).map((r) => this.currentRole(op, r));
    for (const r of refs) {
      if (!this.checkRef(r, lm, f, j, out, this.ctx.roleGuess(op))) ok = false;
    }
    const heapId = f.intent?.ops?.[j - 1]?.resultId;
    for (const a of op.args) {
      forEachCallback(a, (cb) => this.callbacks.set(cb.key, { serial: f.serial, no: lm.no, op: j, ...(heapId !== undefined && { heapId }) }));
    }
    if (!ok && this.allocator === 'explicit' && refs.some((r) => r.role === 'arg' || r.role === 'cached-string')) {
      // E-J7: an unknown HeapRef argument throws, and so does a cached-string reference to a slot
      // without a string ("Cached string ID n does not refer to a string").
      f.threw ??= `unknown-heap-id|${lm.no}|${j}`;
    }
    return ok;
  }

  /** A drop/dispose helper's role as known when JS runs the op (evidence may have settled it since Rust sent it). */
  private currentRole(op: Op, r: RefIntent): RefIntent {
    if (r.role !== 'drop' && r.role !== 'dispose') return r;
    const role = this.ctx.role(op);
    const now = role === 'drop_heap_ref' ? 'drop' : role === 'dispose_rust_function' ? 'dispose' : r.role;
    return now === r.role ? r : { ...r, role: now };
  }

  /** Without an intent (a message only the JS side recorded), the IDs as written. */
  private refsFromOp(op: Op): RefIntent[] {
    const role = this.ctx.role(op);
    if (role === 'drop_heap_ref' || role === 'clone_heap_ref' || role === 'dispose_rust_function') {
      const id = helperIdArg(op);
      return id === undefined ? [] : [{ id, belief: { id, state: 'unknown' }, role: role === 'drop_heap_ref' ? 'drop' : role === 'clone_heap_ref' ? 'clone' : 'dispose', param: 1 }];
    }
    const refs: RefIntent[] = [];
    op.args.forEach((a, i) =>
      forEachRef(a, (r) => {
        if (r.id !== undefined) refs.push({ id: r.id, belief: { id: r.id, state: 'unknown' }, role: 'arg', param: i + 1 });
      }),
    );
    return refs;
  }

  /** TYPE_CACHED for a type JS has not parsed: defined later in an enclosing R-Eval, or never parsed. */
  private typeRace(f: JsFrame, op: Op, out: StepOut): boolean {
    const loc = locationOf(this.ctx, f.lm, 'js', op.index);
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const g = this.frames[i]!;
      if (g === f || g.kind !== 'r-eval') continue;
      const m = g.typeDefs.get(op.typeId);
      if (m === undefined) continue;
      const definite = m > g.kmax;
      const key = `unknown-type-id|${f.lm.no}|${op.index}`;
      out.add(this.withAssumptions({
        kind: 'unknown-type-id',
        severity: definite ? 'error' : 'warning',
        certainty: definite ? 'definite' : 'possible',
        key,
        message: `op ${op.index} of msg ${f.lm.no} uses cached type ${op.typeId}, whose TYPE_FULL is in op ${m} of the enclosing msg ${g.lm.no}; the nested exchange runs during op ${g.kmin === g.kmax ? g.kmin : `${g.kmin}..${g.kmax}`} of msg ${g.lm.no}, so JS ${definite ? 'has' : 'may have'} not parsed it yet and throws "Unknown cached type ID"`,
        location: loc,
        detail: { typeId: op.typeId, definedIn: { message: g.lm.no, op: m }, window: [g.kmin, g.kmax] },
      }));
      if (definite) f.threw ??= key;
      return !definite;
    }
    const never = this.unparsed.get(op.typeId);
    if (never) {
      const key = `unknown-type-id|${f.lm.no}|${op.index}`;
      out.add(this.withAssumptions({
        kind: 'unknown-type-id',
        severity: 'error',
        key,
        message: `op ${op.index} of msg ${f.lm.no} uses cached type ${op.typeId}, defined only in op ${never.op} of msg ${never.no}, which JS never parsed (it stopped before that op): JS throws "Unknown cached type ID"`,
        location: loc,
        detail: { typeId: op.typeId, definedIn: { message: never.no, op: never.op } },
      }));
      f.threw ??= key;
      return false;
    }
    return true;
  }

  /**
   * explicit-ids: evidence settled which helper is drop and which dispose (wire §9.1). Ops
   * that ran on a guess that turned out wrong are re-applied: a dispose taken for a drop
   * puts the value back (JS never freed it), a drop taken for a dispose frees the slot.
   */
  private reconcile(): void {
    const v = this.ctx.settledVersion();
    if (v === this.settled) return;
    this.settled = v;
    this.guessed = resettleGuesses(this.ctx, this.guessed, (g, drop) => {
      if (drop && !g.freed) {
        g.value = this.free(g.id, this.freed.get(g.id)?.at ?? g.value?.info.at ?? { input: '' });
      } else if (!drop && g.freed && g.value && !this.heap.get(g.id)) {
        this.heap.insertAt(g.id, g.value);
        this.keyIndex.set(g.value.key, g.id);
        this.freed.delete(g.id);
        this.freedCount = Math.max(0, this.freedCount - 1);
      }
      g.freed = drop;
    });
  }

  /** A guess of the drop/dispose split the state of `id` rests on, if it is not settled yet. */
  private guessOn(id: number): string | undefined {
    for (let i = this.guessed.length - 1; i >= 0; i--) {
      const g = this.guessed[i]!;
      if (g.id === id) return this.ctx.roleGuess(g.op);
    }
    return undefined;
  }

  private free(id: number, at: FindingLocation): JsVal | undefined {
    const v = this.heap.remove(id);
    if (v) {
      if (this.keyIndex.get(v.key) === id) this.keyIndex.delete(v.key);
      this.freed.set(id, { info: v.info, at });
      this.freedCount++;
      this.idEvents?.push(idEventOf('js', id, 'freed', v.info, at));
    }
    return v;
  }

  /** Applies op j's effects: a drop, the result's slot. */
  private completeOp(f: JsFrame, j: number, result: Value | undefined, out: StepOut): void {
    const op = f.ops[j - 1];
    f.done = Math.max(f.done, j);
    if (!op) return;
    const lm = f.lm;
    const at = locationOf(this.ctx, lm, 'js', j);
    const role = this.ctx.role(op);
    if (role === 'drop_heap_ref' || role === 'dispose_rust_function') {
      const id = helperIdArg(op);
      const guess = this.ctx.roleGuess(op) !== undefined;
      if (id !== undefined && id >= JSIDX_RESERVED) {
        const v = role === 'drop_heap_ref' ? this.free(id, at) : this.heap.get(id);
        if (guess) {
          this.guessed.push({ id, op, ...(v && { value: v }), freed: role === 'drop_heap_ref' });
          if (this.guessed.length > 4096) this.guessed.shift();
        }
      }
    }
    const ret = op.signature.ret;
    if (ret.kind === 'heapref') {
      const fn = this.ctx.fnName(op);
      const v = this.val({ no: lm.no, op: j }, `result of op ${j} \`${fn}\` in msg ${lm.no}`, fn, at);
      try {
        if (f.reserved > 0 && f.reservation !== 'none') {
          const id = this.heap.fillNextReserved(v, f.mark?.scope);
          if (id >= 0) this.stored(id, v);
        } else if (this.allocator === 'explicit') {
          f.deferred ??= this.heap.newDeferred();
          this.heap.deferPush(f.deferred, v);
        } else {
          const id = this.heap.insert(v);
          this.stored(id, v);
          if (this.ctx.features.jsWritesHeapIds && result?.kind === 'heapref' && result.id !== undefined && result.id !== id) this.relocate(id, result.id, v);
        }
      } catch (e) {
        if (!(e instanceof HeapThrow)) throw e;
        f.threw ??= `reservation-overfilled|${lm.no}`;
      }
      return;
    }
    if (mayHoldRefs(ret)) {
      if (result) this.storeResultRefs(f, j, result, out);
      else f.resultsPending.push(j);
    }
  }

  /** Heap refs inside a non-HeapRef result (Option, Result, Vec): `insert` in decode order (R-J3, E-J4). */
  private storeResultRefs(f: JsFrame, j: number, result: Value, _out: StepOut): void {
    const op = f.ops[j - 1]!;
    const fn = this.ctx.fnName(op);
    const at = locationOf(this.ctx, f.lm, 'js', j);
    let ref = 0;
    forEachRef(result, (r) => {
      if (r.kind !== 'heapref') return;
      ref++;
      const v = this.val({ no: f.lm.no, op: j, ref }, `value ${ref} in the result of op ${j} \`${fn}\` in msg ${f.lm.no}`, fn, at);
      if (this.allocator === 'explicit') {
        f.deferred ??= this.heap.newDeferred();
        this.heap.deferPush(f.deferred, v);
        return;
      }
      const id = this.heap.insert(v);
      this.stored(id, v);
      if (this.ctx.features.jsWritesHeapIds && r.id !== undefined && r.id !== id) this.relocate(id, r.id, v);
    });
  }

  private relocate(from: number, to: number, v: JsVal): void {
    this.heap.relocate(from, to);
    this.keyIndex.set(v.key, to);
  }

  // ---- reference checks (INV-3, INV-4, INV-5) -------------------------------------------

  /**
   * Checks one ID Rust wrote, when JS uses it, against what Rust meant by it. Returns
   * false when JS will not find what Rust meant.
   */
  private checkRef(r: RefIntent, lm: LMsg, f: JsFrame | undefined, op: number | undefined, out: StepOut, opGuess?: string): boolean {
    const id = r.id;
    const guess = (r.role === 'drop' || r.role === 'dispose' ? opGuess : undefined) ?? this.guessOn(id);
    const guarded = (d: Draft): Draft => this.withGuess(this.withAssumptions(d), guess);
    const b = r.belief;
    const loc = locationOf(this.ctx, lm, 'js', op);
    const keyBase = `${lm.no}|${op ?? 'r'}|${r.param ?? 0}|${id}`;
    if (r.role === 'cached-string') {
      if (id >= JSIDX_RESERVED && this.heap.get(id)) return true;
    } else if (id > 0 && id < JSIDX_OFFSET) {
      return this.checkBorrowed(r, lm, loc, keyBase, out);
    } else if (id >= JSIDX_OFFSET && id < JSIDX_RESERVED) {
      return true;
    }
    this.evidence(b, f, out);
    const v = id >= JSIDX_RESERVED ? this.heap.get(id) : undefined;
    const meant = b.info && (b.state === 'live' || b.state === 'freed' || b.state === 'pending') ? b.info : undefined;
    if (v && (!meant || v.key === meant.key)) return true;
    if (meant) {
      // nested-encode-order: the ID is a placeholder that a later op of this same R-Eval fills.
      if (f && op !== undefined && meant.origin.no === f.lm.no && meant.origin.op !== undefined && meant.origin.op >= op && !v) {
        const key = `nested-encode-order|${keyBase}`;
        out.add(guarded({
          kind: 'nested-encode-order',
          severity: 'error',
          key,
          mismatch: true,
          message: `op ${op} of msg ${lm.no} passes #${id}, which Rust gave to the result of op ${meant.origin.op} of the same message (encoding op ${op}'s argument called JS first): JS fills #${id} ${meant.origin.op === op ? `with op ${op}'s own result` : `only when op ${meant.origin.op} completes`}, so op ${op} reads an empty slot`,
          location: loc,
          rustId: id,
          provenance: [provenanceOf(id, 'rust', meant)],
          detail: { filledBy: meant.origin.op },
        }));
        return false;
      }
      const jsAt = this.keyIndex.get(meant.key);
      if (jsAt !== undefined || v) {
        const jsAtVal = jsAt !== undefined ? this.heap.get(jsAt) : undefined;
        const freelist = this.allocator === 'freelist' && (meant.reused || v?.info.reused || jsAtVal?.info.reused);
        const kind: FindingKind = freelist ? 'freelist-divergence' : 'placeholder-id-mismatch';
        const here = v ? `JS #${id} holds ${describe(v.info)}` : `JS #${id} is ${this.emptyText(id)}`;
        const key = `${kind}|${keyBase}`;
        if (jsAt === undefined) this.await(meant.key, key);
        const prov = [provenanceOf(id, 'rust', meant)];
        if (jsAt !== undefined && jsAtVal) prov.push(provenanceOf(jsAt, 'js', jsAtVal.info));
        if (v) prov.push(provenanceOf(id, 'js', v.info));
        out.add(guarded({
          kind,
          severity: 'error',
          key,
          mismatch: true,
          message: `${this.useText(r, lm, op)}: Rust: #${id} = ${describe(meant)}; ${jsAt !== undefined ? `JS stored it at #${jsAt}` : 'JS has not stored it anywhere'}; ${here}`,
          location: loc,
          rustId: id,
          ...(jsAt !== undefined && { jsId: jsAt }),
          provenance: prov,
          detail: { role: r.role, ...(r.param !== undefined && { param: r.param }), rust: describe(meant), js: v ? describe(v.info) : null },
        }));
        if (!v) this.emptyFinding(r, lm, loc, keyBase, out, key, guess);
        return false;
      }
    }
    if (v) return true; // Rust does not know the ID in this reading; JS has something there.
    this.emptyFinding(r, lm, loc, keyBase, out, undefined, guess);
    return false;
  }

  private useText(r: RefIntent, lm: LMsg, op: number | undefined): string {
    switch (r.role) {
      case 'drop':
        return `drop_heap_ref(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'clone':
        return `clone_heap_ref(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'dispose':
        return `dispose_rust_function(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'return':
        return `the value #${r.id} returned in msg ${lm.no}`;
      default:
        return `argument ${r.param ?? '?'} (#${r.id}) of op ${op} in msg ${lm.no}`;
    }
  }

  private emptyText(id: number): string {
    const shadow = this.heap.usesRealHeap ? this.heap.model.get(id) : undefined;
    if (shadow) return `empty in the JS heap file (the built-in model holds ${describe(shadow.info)} there)`;
    const fr = this.freed.get(id);
    if (fr) return `empty (JS freed ${describe(fr.info)} there in msg ${fr.at.message} op ${fr.at.op})`;
    switch (this.heap.model.why(id)) {
      case 'above-counter':
        return `empty (above JS's counter ${this.heap.model.maxId})`;
      case 'reserved-unfilled':
        return 'empty (reserved, not filled yet)';
      case 'hole':
        return 'empty (a reserved slot that was never filled)';
      case 'freed':
        return 'empty (freed earlier)';
      default:
        return 'empty (never stored)';
    }
  }

  /** An ID finding about a value JS has not stored yet: once JS stores it, the finding names that ID too. */
  private await(key: string, draftKey: string): void {
    const list = this.awaiting.get(key) ?? [];
    if (list.length < 8) list.push(draftKey);
    this.awaiting.set(key, list);
  }

  /** The slot Rust uses is empty in JS: use-after-free, double-free or unknown-heap-id. */
  private emptyFinding(r: RefIntent, lm: LMsg, loc: FindingLocation, keyBase: string, out: StepOut, causedByKey: string | undefined, guess?: string): void {
    const id = r.id;
    const shadow = this.heap.usesRealHeap && this.heap.model.get(id) !== undefined;
    const fr = shadow ? undefined : this.freed.get(id);
    const why = shadow ? 'never' : fr ? 'freed' : this.heap.model.why(id);
    const freed = why === 'freed';
    const kind: FindingKind = freed ? (r.role === 'drop' ? 'double-free' : 'use-after-free') : 'unknown-heap-id';
    const what = this.useText(r, lm, loc.op);
    const meantInfo = r.belief.info && (r.belief.state === 'live' || r.belief.state === 'freed' || r.belief.state === 'pending') ? r.belief.info : undefined;
    const jsAt = meantInfo ? this.keyIndex.get(meantInfo.key) : undefined;
    const meant = r.belief.info ? ` (Rust means ${describe(r.belief.info)}${jsAt !== undefined && jsAt !== id ? `, which JS stored at #${jsAt}` : ''})` : '';
    const draftKey = `${kind}|${keyBase}`;
    if (meantInfo && jsAt === undefined && kind !== 'double-free') this.await(meantInfo.key, draftKey);
    let message: string;
    if (kind === 'double-free') message = `${what} frees #${id} again${meant}: JS freed it already${fr ? ` (${describe(fr.info)}, in msg ${fr.at.message} op ${fr.at.op})` : ''} and nothing was stored there since`;
    else if (kind === 'use-after-free') message = `${what} uses #${id}${meant} after JS freed it${fr ? ` (${describe(fr.info)}, dropped in msg ${fr.at.message} op ${fr.at.op})` : ''}: JS ${this.allocator === 'explicit' ? 'throws "Unknown JS heap reference ID"' : 'reads undefined'}`;
    else if (jsAt !== undefined && jsAt !== id) message = `${what} uses #${id}${meant}; JS #${id} is ${this.emptyText(id)}`;
    else message = `${what} uses #${id}${meant}, which JS never stored: ${this.emptyText(id)}`;
    out.add(this.withGuess(this.withAssumptions({
      kind,
      severity: 'error',
      key: draftKey,
      mismatch: true,
      message,
      location: loc,
      rustId: id,
      ...(jsAt !== undefined && jsAt !== id && { jsId: jsAt }),
      ...(fr && { provenance: [provenanceOf(id, 'js', fr.info, fr.at)] }),
      detail: { role: r.role, reason: why },
      ...(causedByKey && { causedByKey }),
    }), guess));
  }

  private checkBorrowed(r: RefIntent, lm: LMsg, loc: FindingLocation, keyBase: string, out: StepOut): boolean {
    const id = r.id;
    const pointer = this.heap.model.pointer;
    const v = this.heap.get(id);
    if (id < pointer || !v) {
      out.add({
        kind: 'borrow-ref-escaped',
        severity: 'error',
        key: `borrow-ref-escaped|${keyBase}`,
        mismatch: true,
        message: `${this.useText(r, lm, loc.op)} uses borrow slot ${id}${r.belief.info ? ` (${describe(r.belief.info)})` : ''} after the frame that held it was popped (JS borrow pointer is ${pointer})${v ? `; the slot now holds ${describe(v.info)}` : ''}`,
        location: loc,
        rustId: id,
        ...(r.belief.info && { provenance: [provenanceOf(id, 'rust', r.belief.info)] }),
      });
      return false;
    }
    if (r.belief.info && r.belief.state === 'borrow' && r.belief.info.key !== v.key) {
      out.add({
        kind: 'borrow-frame-unbalanced',
        severity: 'error',
        key: `borrow-frame-unbalanced|${keyBase}`,
        mismatch: true,
        message: `${this.useText(r, lm, loc.op)}: Rust's borrow slot ${id} is ${describe(r.belief.info)}, JS's holds ${describe(v.info)}: the borrow stacks are out of step`,
        location: loc,
        rustId: id,
        jsId: id,
        provenance: [provenanceOf(id, 'rust', r.belief.info), provenanceOf(id, 'js', v.info)],
      });
      return false;
    }
    return true;
  }

  /** What the open windows rest on: positions only the callback-holder heuristic decided. */
  private assumptions(): Array<{ message: number; op: number; window: [number, number]; callbackIn: number }> | undefined {
    const out = this.frames.filter((f) => f.assumed).map((f) => ({ message: f.lm.no, op: f.assumed!.op, window: f.assumed!.window, callbackIn: f.assumed!.callback }));
    return out.length > 0 ? out : undefined;
  }

  private withAssumptions(d: Draft): Draft {
    const a = this.assumptions();
    if (!a) return d;
    const text = a.map((x) => `the callback of msg ${x.callbackIn} ran during op ${x.op} of msg ${x.message} (any of ops ${x.window[0]}..${x.window[1]} without it)`).join('; ');
    return { ...d, message: `${d.message} [relies on the callback-holder heuristic: ${text}]`, detail: { ...d.detail, reliesOnHeuristic: a } };
  }

  /**
   * docs/findings.md §3: a finding that rests on the drop/dispose guess of the signature
   * heuristic (explicit-ids, no fn.* keys) is possible, never definite, and says so.
   */
  private withGuess(d: Draft, guess: string | undefined): Draft {
    if (!guess) return d;
    return {
      ...d,
      certainty: 'possible',
      severity: d.severity === 'error' ? 'warning' : d.severity,
      message: `${d.message} [relies on a guess of the signature heuristic: ${guess}]`,
      detail: { ...d.detail, reliesOnGuess: guess },
    };
  }

  /** allocators.md §8: a nested reference to an op's result or drop narrows that R-Eval's window. */
  private evidence(b: Belief, f: JsFrame | undefined, out: StepOut): void {
    const origin = b.state === 'live' ? b.info?.origin : b.state === 'freed' ? b.freedOrigin : undefined;
    if (!origin || origin.op === undefined) return;
    for (const g of this.frames) {
      if (g === f || g.kind !== 'r-eval' || g.lm.no !== origin.no || g.threw) continue;
      if (b.state === 'live') {
        if (g.kmin <= origin.op) this.narrow(g, origin.op + 1, g.kmax, out);
      } else if (g.kmax > origin.op && g.done < origin.op) {
        this.narrow(g, g.kmin, origin.op, out);
      }
    }
  }

  private onJEval(lm: LMsg, d: DecodedMessage, body: JEvalBody, out: StepOut, choice: WindowChoice | undefined): void {
    for (const x of d.abandoned) this.abandon(x.serial, x.kind === 'j-eval' ? 'lost-respond' : 'exception', out);
    const top = this.frames[this.frames.length - 1];
    const call = body.call;
    // The callback can only run once the op that handed JS its key has started, in every
    // enclosing R-Eval, not just the innermost one.
    if (call.kind === 'callback' && !this.heap.usesRealHeap) {
      for (const g of this.frames) {
        if (g === top || g.kind !== 'r-eval' || g.threw) continue;
        const w = this.windowFor(g, call);
        const lo = !this.ctx.strict && w.h !== undefined ? w.h : w.a;
        if (lo > g.kmin && lo <= g.kmax) this.narrow(g, lo, g.kmax, out);
      }
    }
    if (top && top.kind === 'r-eval' && !top.threw) {
      const fp = this.forkPlan(d);
      const plan = choice ?? fp?.choices[fp.primary];
      if (fp?.bare && fp.heuristic !== undefined && call.kind === 'callback') top.assumed = { op: fp.heuristic, window: fp.bare, callback: lm.no };
      if (plan) this.narrow(top, plan.kmin, plan.kmax, out);
    }
    const frame: JsFrame = {
      serial: d.exchange?.serial ?? -lm.no,
      kind: 'j-eval',
      lm,
      ops: [],
      kmin: 0,
      kmax: 0,
      started: 0,
      done: 0,
      reservation: 'none',
      reserved: 0,
      incomplete: d.exchange?.incomplete ?? false,
      typeDefs: new Map(),
      borrowPushed: false,
      scopePushed: false,
      resultsPending: [],
    };
    if (call.kind === 'callback' || call.kind === 'export') {
      frame.mark = this.heap.model.marks();
      this.heap.pushBorrowFrame();
      frame.borrowPushed = true;
    }
    const allocs: Array<{ key: string; id: number; reused: boolean }> = [];
    if (call.kind === 'callback') {
      const at = locationOf(this.ctx, lm, 'js');
      let ref = 0;
      call.args.forEach((arg, i) => {
        forEachRef(arg, (r) => {
          ref++;
          if (frame.threw) return;
          const origin: Origin = { no: lm.no, ref, arg: i + 1 };
          const fn = `callback ${formatCallbackKey(call.key)}`;
          if (r.kind === 'borrowed') {
            const v = this.val(origin, `borrowed argument ${i + 1} of callback ${formatCallbackKey(call.key)} in msg ${lm.no}`, fn, at);
            try {
              this.heap.addBorrowedRef(v);
            } catch (e) {
              if (!(e instanceof HeapThrow)) throw e;
              const key = `borrow-stack-overflow|${lm.no}`;
              out.add({
                kind: 'borrow-stack-overflow',
                severity: 'error',
                key,
                message: `callback ${formatCallbackKey(call.key)} in msg ${lm.no} takes a borrowed reference with the borrow stack already at slot ${this.heap.model.pointer}: more than 127 borrowed references alive (JS throws, Rust panics)`,
                location: at,
              });
              frame.threw = key;
            }
            return;
          }
          const freeBefore = this.allocator === 'freelist' ? this.heap.model.freeList() : [];
          const v = this.val(origin, `argument ${i + 1} of callback ${formatCallbackKey(call.key)} in msg ${lm.no}`, fn, at, freeBefore.length > 0);
          if (this.allocator === 'explicit') {
            frame.deferred ??= this.heap.newDeferred();
            this.heap.deferPush(frame.deferred, v);
            return;
          }
          let id = this.heap.insert(v);
          this.stored(id, v);
          if (this.ctx.features.jsWritesHeapIds && r.id !== undefined && r.id !== id) {
            this.relocate(id, r.id, v);
            id = r.id;
          }
          allocs.push({ key: v.key, id, reused: freeBefore.length > 0 });
        });
      });
    }
    this.frames.push(frame);
    out.jsAllocs = allocs;
  }

  private onJResp(d: DecodedMessage, body: JRespBody, out: StepOut): void {
    for (const x of d.abandoned) this.abandon(x.serial, 'exception', out);
    const i = this.frameIndex(d.exchange?.serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    // A J-Resp exists, so JS did not throw in it after all.
    f.threw = undefined;
    const byOp = new Map(body.results.map((r) => [r.op, r.value]));
    for (const j of f.resultsPending) {
      const v = byOp.get(j);
      if (v) this.storeResultRefs(f, j, v, out);
    }
    f.resultsPending.length = 0;
    for (let j = f.done + 1; j <= f.ops.length; j++) {
      if (f.started < j) this.startOp(f, j, out);
      this.completeOp(f, j, byOp.get(j), out);
    }
    f.threw = undefined;
    this.close(f, out, true);
  }

  private onRResp(lm: LMsg, d: DecodedMessage, body: RRespBody, intent: Intent | undefined, out: StepOut): void {
    if (this.allocator === 'explicit' && body.installIds && body.installIds.length > 0) this.install(body.installIds, intent, lm, out);
    for (const x of d.abandoned) this.abandon(x.serial, 'exception', out);
    const i = this.frameIndex(d.exchange?.serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    // L-J5: the frame is popped before the return value is decoded.
    if (f.borrowPushed) {
      this.heap.popBorrowFrame();
      f.borrowPushed = false;
    }
    const refs: RefIntent[] = intent?.value ?? [];
    if (!intent && body.value) {
      forEachRef(body.value, (r) => {
        if (r.id !== undefined) refs.push({ id: r.id, belief: { id: r.id, state: 'unknown' }, role: 'return' });
      });
    }
    for (const r of refs) this.checkRef(r, lm, undefined, undefined, out);
    this.close(f, out, true);
  }

  /** Pops an exchange normally (its Respond went out or came in). */
  private close(f: JsFrame, out: StepOut, normal: boolean): void {
    const i = this.frames.indexOf(f);
    if (i >= 0 && i < this.frames.length - 1 && f.mark && !this.heap.usesRealHeap) {
      // Not the innermost: the record is not in JS's order (a Respond routed by id). JS ran the
      // exchanges above it elsewhere; end this one alone.
      this.frames.splice(i, 1);
      this.noteUnparsed(f);
      const later = this.frames.slice(i);
      this.heap.model.removeAt(f.mark, f.borrowPushed && (normal || this.allocator === 'explicit'), f.kind === 'r-eval' && f.scopePushed && (normal || this.allocator === 'explicit'));
      for (const g of later) if (g.mark) g.mark = { frame: g.mark.frame - (f.borrowPushed ? 1 : 0), scope: g.mark.scope - (f.scopePushed ? 1 : 0) };
      return;
    }
    if (i >= 0) this.frames.splice(i, 1);
    if (f.kind === 'r-eval') {
      this.noteUnparsed(f);
      if (normal || this.allocator === 'explicit') {
        if (f.borrowPushed) this.heap.popBorrowFrame();
        if (f.scopePushed) {
          try {
            this.heap.popReservationScope(normal && !f.threw);
          } catch (e) {
            if (!(e instanceof HeapThrow)) throw e;
            // "Only filled k of n": reported as reservation-underfilled when the R-Eval arrived.
          }
        }
      }
    } else if (f.borrowPushed && (normal || this.allocator === 'explicit')) {
      this.heap.popBorrowFrame();
    }
    if (this.frames.length === 0) {
      const m = this.heap.model;
      out.quiescent = { ...(this.allocator !== 'explicit' && { maxId: m.maxId }), pointer: m.pointer, frames: m.frameDepth() };
    }
  }

  private noteUnparsed(f: JsFrame): void {
    for (let j = f.started + 1; j <= f.ops.length; j++) {
      const op = f.ops[j - 1]!;
      if (op.marker === 'full' && !this.types.has(op.typeId)) this.unparsed.set(op.typeId, { no: f.lm.no, op: j });
    }
  }

  /**
   * An exchange that ends without its Respond. A lost R-Resp (lost-respond) ends the
   * callback's chain normally; otherwise JS threw, and before explicit-ids nothing pops
   * the frames it had pushed.
   */
  private abandon(serial: number, how: 'lost-respond' | 'exception', out: StepOut): void {
    const i = this.frameIndex(serial);
    if (i < 0) return;
    const f = this.frames[i]!;
    if (f.kind === 'r-eval' && !f.threw) this.runOn(f, out);
    this.close(f, out, how === 'lost-respond');
  }

  /**
   * Runs the rest of an R-Eval that was never answered, as JS would, up to the first op
   * that fails its checks: that is most likely where JS threw.
   */
  private runOn(f: JsFrame, out: StepOut): void {
    for (let j = f.done + 1; j <= f.ops.length && !f.threw; j++) {
      if (f.started < j && !this.startOp(f, j, out)) {
        f.threw ??= `stopped|${f.lm.no}|${j}`;
        return;
      }
      this.completeOp(f, j, undefined, out);
    }
  }

  /** End of trace: let the innermost open R-Eval run as far as it can; report values never installed. */
  finish(out: StepOut): void {
    const top = this.frames[this.frames.length - 1];
    if (top && top.kind === 'r-eval' && !top.threw) this.runOn(top, out);
    if (this.allocator === 'explicit' && this.threwAt()) this.unwind();
    if (this.allocator === 'explicit') {
      const n = this.heap.model.pendingDeferred();
      if (n > 0 && this.frames.length === 0) {
        out.add({
          kind: 'install-mismatch',
          severity: 'error',
          key: 'install-mismatch|end',
          message: `${n} value${n === 1 ? '' : 's'} JS sent without an ID never received one from an install list by the end of the trace`,
          location: { input: '', side: 'js' },
          detail: { pending: n },
        });
      }
    }
  }

  /** The ID JS's value `key` is stored at, if it is. */
  storedAt(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  /** Drafts wrapped the way this model wraps its own (window assumptions, drop/dispose guesses). */
  qualify(d: Draft, ids: readonly number[]): Draft {
    let g: string | undefined;
    for (const id of ids) g ??= this.guessOn(id);
    return this.withGuess(this.withAssumptions(d), g);
  }

  /**
   * explicit-ids: JS threw, and the exception left through every exchange on JS's call stack.
   * The R-Eval loop and RustFunction.call pop their borrow frame (and the R-Eval its reservation
   * scope, unchecked) in `finally`, so none of the open exchanges holds a frame any more, although
   * none of them was answered. Earlier revisions have no finally: their frames stay.
   */
  private unwind(): void {
    this.unwoundAfterThrow = true;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.borrowPushed) this.heap.popBorrowFrame();
      if (f.scopePushed) this.heap.popReservationScope(false);
      f.borrowPushed = false;
      f.scopePushed = false;
    }
  }

  /** explicit-ids: JS threw and has left every open exchange (see unwind). */
  unwound(): boolean {
    return this.unwoundAfterThrow;
  }

  /** The innermost open R-Eval JS threw in, if any: its message and the draft key that says why. */
  threwAt(): { lm: LMsg; key: string } | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === 'r-eval' && f.threw) return { lm: f.lm, key: f.threw };
    }
    return undefined;
  }

  /** Keys of drafts that predicted an exception, by exchange serial (for unanswered-evaluate). */
  threwIn(serial: number): string | undefined {
    return this.frames.find((f) => f.serial === serial)?.threw;
  }
}

function mayHoldRefs(t: TypeDef): boolean {
  switch (t.kind) {
    case 'heapref':
      return true;
    case 'option':
      return mayHoldRefs(t.inner);
    case 'result':
      return mayHoldRefs(t.ok) || mayHoldRefs(t.err);
    case 'array':
      return mayHoldRefs(t.element);
    default:
      return false;
  }
}

function ordinal(n: number): string {
  const s = ['th', 'st', 'nd', 'rd'];
  const v = n % 100;
  return `${n}${s[(v - 20) % 10] ?? s[v] ?? s[0]}`;
}

export type { Draft };
