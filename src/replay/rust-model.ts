/**
 * The Rust side's heap-ID bookkeeping (allocators.md §2, §4-§6), driven only by what the
 * Rust peer sees and does: the R-messages it sends (encode-time events) and the
 * J-messages it takes (decode-time events), in Rust's order.
 */
import { formatCallbackKey } from '../protocol/format.js';
import type { DecodedMessage, JEvalBody, JRespBody, Op, REvalBody, RRespBody } from '../protocol/messages.js';
import { forEachRef, type Value } from '../protocol/values.js';
import type { FindingLocation } from './findings.js';
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
  type OpIntent,
  type Origin,
  type RefIntent,
  type ValueInfo,
} from './ids.js';
import { helperIdArg, locationOf, resettleGuesses, type LMsg, type ModelContext, type StepOut } from './context.js';

export type Reading = 'L-R1' | 'L-R2';

interface RustFrame {
  readonly serial: number;
  readonly kind: 'r-eval' | 'j-eval';
  readonly lm: LMsg;
  readonly ops: readonly Op[];
  /** Ops whose results Rust allocates only when it takes the J-Resp (L-R2, R-R3, S-R2, E-R4). */
  readonly post: number[];
  /** `legacy*`: a lone HeapRef op whose placeholder may have been taken before sending (L-R1) or after the J-Resp (L-R2). */
  ambiguous?: { op: number; reading?: Reading; tentative: number };
  /** explicit-ids: IDs released by this R-Eval's drop ops, recycled once it is answered. */
  readonly drops: number[];
  /** J-Eval: whether a borrow frame was pushed for it. */
  readonly borrowFrame: boolean;
}

interface FreedEntry {
  readonly info: ValueInfo;
  readonly at: FindingLocation;
  readonly origin: Origin;
}

export interface RustSnapshot {
  maxId: number;
  freeList?: number[];
  live: number;
  borrowPointer: number;
  borrowFrames: number;
  openExchanges: Array<{ kind: string; message: number }>;
  pendingInstall?: number;
  releasedNotRecycled?: number[];
}

export class RustModel {
  private maxId = JSIDX_RESERVED;
  /** legacy-freelist: LIFO stack read by allocation. */
  private free: number[] = [];
  private live = new Map<number, ValueInfo>();
  private freed = new BoundedMap<number, FreedEntry>(FREED_MEMORY);
  /** explicit-ids: released by a drop op, not yet recycled (its R-Eval is not answered). */
  private released = new Map<number, { serial: number; at: FindingLocation; info: ValueInfo }>();
  private borrowPointer = JSIDX_OFFSET;
  private borrowFrames: number[] = [];
  private borrowSlots = new Map<number, ValueInfo>();
  /** What each borrow slot last held, to explain a borrowed ID used after its frame. */
  private lastBorrow = new Map<number, ValueInfo>();
  private frames: RustFrame[] = [];
  /** explicit-ids: values decoded from JS whose IDs go out in the next install list. */
  private pendingInstall: ValueInfo[] = [];
  /** explicit-ids: drop/dispose ops whose role was a guess when replayed (re-applied once settled). */
  private guessed: Array<{ readonly id: number; readonly op: Op; readonly at: FindingLocation; released: boolean }> = [];
  private settled = 0;
  /** Value key → the ID Rust holds it under (live values only). */
  private keyIndex = new Map<string, number>();
  /** Values Rust gave an ID during the current step (for the comparison at creation). */
  bornNow: Array<{ readonly id: number; readonly info: ValueInfo }> = [];
  /** by-id revisions: J-Resps set aside until their flush is the one waiting again. */
  private stash = new Map<number, { lm: LMsg; d: DecodedMessage }>();
  created = 0;
  freedCount = 0;
  /** Set by the session when `onIdEvent` is given: created/freed events of the step being run. */
  idEvents?: IdEvent[];

  constructor(private readonly ctx: ModelContext) {}

  clone(): RustModel {
    const c = new RustModel(this.ctx);
    c.maxId = this.maxId;
    c.free = [...this.free];
    c.live = new Map(this.live);
    c.freed = this.freed.clone();
    c.released = new Map(this.released);
    c.borrowPointer = this.borrowPointer;
    c.borrowFrames = [...this.borrowFrames];
    c.borrowSlots = new Map(this.borrowSlots);
    c.lastBorrow = new Map(this.lastBorrow);
    c.frames = this.frames.map((f) => ({ ...f, post: [...f.post], drops: [...f.drops], ...(f.ambiguous && { ambiguous: { ...f.ambiguous } }) }));
    c.pendingInstall = [...this.pendingInstall];
    c.stash = new Map(this.stash);
    c.guessed = this.guessed.map((g) => ({ ...g }));
    c.settled = this.settled;
    c.keyIndex = new Map(this.keyIndex);
    c.created = this.created;
    c.freedCount = this.freedCount;
    if (this.idEvents) c.idEvents = [];
    return c;
  }

  get allocator() {
    return this.ctx.features.allocator;
  }

  // ---- queries ------------------------------------------------------------------------

  liveCount(): number {
    return this.live.size;
  }

  liveEntries(): IterableIterator<[number, ValueInfo]> {
    return this.live.entries();
  }

  counter(): number {
    return this.maxId;
  }

  /** The ID Rust holds the value `key` under, if it is live. */
  idOf(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  /** The live value Rust holds under `id`. */
  valueAt(id: number): ValueInfo | undefined {
    return this.live.get(id);
  }

  borrowState(): { pointer: number; frames: number } {
    return { pointer: this.borrowPointer, frames: this.borrowFrames.length };
  }

  depth(): number {
    return this.frames.length;
  }

  frameMessage(serial: number): number | undefined {
    return this.frames.find((f) => f.serial === serial)?.lm.no;
  }

  snapshot(): RustSnapshot {
    return {
      maxId: this.maxId,
      ...(this.allocator === 'freelist' && { freeList: this.free.slice(-16) }),
      live: this.live.size,
      borrowPointer: this.borrowPointer,
      borrowFrames: this.borrowFrames.length,
      openExchanges: this.frames.map((f) => ({ kind: f.kind, message: f.lm.no })),
      ...(this.allocator === 'explicit' && { pendingInstall: this.pendingInstall.length, releasedNotRecycled: [...this.released.keys()].slice(0, 16) }),
    };
  }

  /** What Rust means by `id` right now. */
  belief(id: number): Belief {
    if (id < JSIDX_OFFSET) {
      const info = this.borrowSlots.get(id);
      if (info && id >= this.borrowPointer) return { id, state: 'borrow', info };
      const last = this.lastBorrow.get(id);
      return last ? { id, state: 'freed', info: last } : { id, state: 'unknown' };
    }
    if (id < JSIDX_RESERVED) return { id, state: 'const' };
    const info = this.live.get(id);
    if (info) return { id, state: 'live', info };
    const rel = this.released.get(id);
    if (rel) return { id, state: 'freed', info: rel.info, freedAt: rel.at, freedOrigin: originOfLoc(rel.at), releasedAt: rel.at };
    const fr = this.freed.get(id);
    if (fr) return { id, state: 'freed', info: fr.info, freedAt: fr.at, freedOrigin: fr.origin };
    return { id, state: 'unknown' };
  }

  // ---- reading forks (allocators.md §4 "Telling L-R1 from L-R2") --------------------------

  /**
   * Serials of open R-Evals whose lone HeapRef op is still ambiguous, if this message makes
   * Rust allocate while they are open: the two readings give different IDs from here on.
   */
  ambiguousBefore(d: DecodedMessage): number[] {
    if (this.allocator === 'explicit') return [];
    const open = this.frames.filter((f) => f.ambiguous && f.ambiguous.reading === undefined);
    if (open.length === 0) return [];
    const closes = d.kind === 'j-resp' ? d.exchange?.serial : undefined;
    const candidates = open.filter((f) => f.serial !== closes);
    if (candidates.length === 0 || this.allocations(d) === 0) return [];
    return candidates.map((f) => f.serial);
  }

  /** The reading preferred when nothing decides: unbatched in legacy*, batched where N says so. */
  preferredReading(): Reading {
    return this.allocator === 'reservation-count' ? 'L-R1' : 'L-R2';
  }

  /** Commits a reading of an ambiguous R-Eval. L-R1 takes the placeholder now, as of sending. */
  decide(serial: number, reading: Reading): void {
    const f = this.frames.find((x) => x.serial === serial);
    if (!f?.ambiguous || f.ambiguous.reading) return;
    f.ambiguous.reading = reading;
    if (reading === 'L-R1') {
      const op = f.ops[f.ambiguous.op - 1]!;
      const origin: Origin = { no: f.lm.no, op: op.index };
      const id = this.claim(f.ambiguous.tentative);
      this.born(id, this.info(origin, `result of op ${op.index} \`${this.ctx.fnName(op)}\` in msg ${f.lm.no}`, this.ctx.fnName(op), locationOf(this.ctx, f.lm, 'rust', op.index)));
      const i = f.post.indexOf(op.index);
      if (i >= 0) f.post.splice(i, 1);
    }
  }

  /** How many IDs Rust's `next()` would hand out for this message (0 if none). */
  private allocations(d: DecodedMessage): number {
    const body = d.body;
    if (!body) return 0;
    let n = 0;
    const countRefs = (v: Value | undefined): void => {
      if (v) forEachRef(v, (r) => (r.kind === 'heapref' ? n++ : undefined));
    };
    switch (body.kind) {
      case 'j-eval':
        if (body.call.kind === 'callback') body.call.args.forEach(countRefs);
        return n;
      case 'r-eval':
        return this.plan(body).placeholder.filter(Boolean).length;
      case 'j-resp': {
        const f = this.frames.find((x) => x.serial === d.exchange?.serial);
        if (!f) return 0;
        n += f.post.length;
        const last = body.results[body.results.length - 1];
        if (last && last.type.kind !== 'heapref') countRefs(last.value);
        return n;
      }
      default:
        return 0;
    }
  }

  // ---- steps ----------------------------------------------------------------------------

  /** Rust sends (R-messages) or takes (J-messages) one message. */
  step(lm: LMsg, d: DecodedMessage, out: StepOut): void {
    this.reconcile();
    const body = d.body;
    if (!body) return;
    switch (body.kind) {
      case 'r-eval':
        this.onREval(lm, d, body, out);
        return;
      case 'r-resp':
        this.onRResp(lm, d, body, out);
        return;
      case 'j-eval':
        this.onJEval(lm, d, body, out);
        return;
      case 'j-resp':
        this.onJResp(lm, d, body, out);
        return;
    }
  }

  private info(origin: Origin, what: string, fn: string, at: FindingLocation, reused = false): ValueInfo {
    const inside = this.insideCallback();
    return { key: valueKey(origin), origin, what, fn, at, ...(inside && { inside }), ...(reused && { reused }) };
  }

  private insideCallback(): string | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === 'j-eval') return `inside the callback of msg ${f.lm.no}`;
    }
    return undefined;
  }

  /** Which ops get a placeholder at encode time, and which get their ID only from the J-Resp. */
  private plan(body: REvalBody): { placeholder: boolean[]; post: number[]; ambiguous?: number } {
    const ops = body.ops;
    const placeholder = ops.map(() => false);
    const post: number[] = [];
    const heapOps = ops.filter((o) => o.signature.ret.kind === 'heapref');
    const last = ops[ops.length - 1];
    switch (this.allocator) {
      case 'freelist':
      case 'monotonic':
        if (ops.length >= 2) {
          for (const o of heapOps) placeholder[o.index - 1] = true;
        } else if (last && last.signature.ret.kind === 'heapref') {
          post.push(last.index);
          return { placeholder, post, ambiguous: last.index };
        }
        break;
      case 'reservation-count': {
        const n = body.reservedCount ?? 0;
        if (ops.length === 1 && n === 1 && heapOps.length === 1) {
          // docs/protocol.md §8.4: a lone JsValue op with N = 1 is a batch (R-R1) or an unbatched
          // call carrying a stale count after R-R1' (L-R2); they differ only if something nested allocates.
          post.push(last!.index);
          return { placeholder, post, ambiguous: last!.index };
        }
        heapOps.forEach((o, i) => {
          if (i < n) placeholder[o.index - 1] = true;
          else if (o === last) post.push(o.index);
        });
        break;
      }
      case 'explicit': {
        const n = body.reservedIds?.length ?? 0;
        heapOps.forEach((o, i) => {
          if (i < n) placeholder[o.index - 1] = true;
          else if (o === last) post.push(o.index);
        });
        break;
      }
    }
    return { placeholder, post };
  }

  private next(): { id: number; reused: boolean } {
    if (this.allocator === 'freelist' && this.free.length > 0) return { id: this.free.pop()!, reused: true };
    return { id: this.maxId++, reused: false };
  }

  private peekNext(): number {
    if (this.allocator === 'freelist' && this.free.length > 0) return this.free[this.free.length - 1]!;
    return this.maxId;
  }

  /** Takes a specific ID as `next()` would have at an earlier moment. */
  private claim(id: number): number {
    const i = this.free.lastIndexOf(id);
    if (i >= 0) this.free.splice(i, 1);
    else if (id >= this.maxId) this.maxId = id + 1;
    return id;
  }

  /** Every ID Rust's model takes for a value goes through here. */
  private born(id: number, info: ValueInfo): void {
    this.live.set(id, info);
    this.keyIndex.set(info.key, id);
    this.bornNow.push({ id, info });
    this.created++;
    this.idEvents?.push(idEventOf('rust', id, 'created', info, info.at));
  }

  private release(id: number, at: FindingLocation, frame: RustFrame | undefined): void {
    if (id < JSIDX_RESERVED) return;
    const info = this.live.get(id);
    if (!info) {
      // legacy-freelist Rust has only a debug assertion: a second release pushes the ID again,
      // and it is handed out twice.
      if (this.allocator === 'freelist') this.free.push(id);
      return;
    }
    this.live.delete(id);
    if (this.keyIndex.get(info.key) === id) this.keyIndex.delete(info.key);
    this.freedCount++;
    this.idEvents?.push(idEventOf('rust', id, 'freed', info, at));
    const origin = originOfLoc(at);
    this.freed.set(id, { info, at, origin });
    if (this.allocator === 'freelist') this.free.push(id);
    if (this.allocator === 'explicit' && frame) {
      this.released.set(id, { serial: frame.serial, at, info });
      frame.drops.push(id);
    }
  }

  /**
   * explicit-ids: evidence settled which helper is drop and which dispose (wire §9.1). Ops
   * replayed on a guess that turned out wrong are re-applied: a dispose taken for a drop
   * gives its ID back, a drop taken for a dispose releases it.
   */
  private reconcile(): void {
    const v = this.ctx.settledVersion();
    if (v === this.settled) return;
    this.settled = v;
    this.guessed = resettleGuesses(this.ctx, this.guessed, (g, drop) => {
      if (drop && !g.released) this.release(g.id, g.at, undefined);
      else if (!drop && g.released && !this.live.has(g.id)) this.unrelease(g.id);
      g.released = drop;
    });
  }

  private unrelease(id: number): void {
    const fr = this.freed.get(id);
    const rel = this.released.get(id);
    const info = rel?.info ?? fr?.info;
    if (!info) return;
    this.released.delete(id);
    this.freed.delete(id);
    this.live.set(id, info);
    this.freedCount = Math.max(0, this.freedCount - 1);
  }

  /** An ID whose state rests on a drop/dispose guess the bytes have not settled. */
  guessOn(id: number): string | undefined {
    for (let i = this.guessed.length - 1; i >= 0; i--) {
      const g = this.guessed[i]!;
      if (g.id === id) return this.ctx.roleGuess(g.op);
    }
    return undefined;
  }

  /** explicit-ids / seq-id: Rust takes an ID named on the wire. */
  private adopt(id: number, info: ValueInfo, lm: LMsg, out: StepOut, why: 'reserved' | 'install' | 'seq'): void {
    const rel = this.released.get(id);
    if (rel && why !== 'seq') {
      const guess = this.guessOn(id);
      out.add({
        kind: 'id-reused-before-drop',
        severity: guess ? 'warning' : 'error',
        ...(guess && { certainty: 'possible' as const }),
        key: `id-reused-before-drop|${lm.no}|${id}`,
        message: `Rust names #${id} in the ${why === 'reserved' ? 'reserved' : 'install'} list of msg ${lm.no} for ${describe(info)}, but it released #${id} (${describe(rel.info)}) in msg ${rel.at.message} op ${rel.at.op} and that drop has not been answered yet${guess ? ` [relies on a guess of the signature heuristic: ${guess}]` : ''}`,
        location: locationOf(this.ctx, lm, 'rust'),
        rustId: id,
        provenance: [provenanceOf(id, 'rust', rel.info, rel.at), provenanceOf(id, 'rust', info)],
        detail: { releasedIn: rel.at.message, ...(guess && { reliesOnGuess: guess }) },
      });
      this.released.delete(id);
    }
    const prior = this.live.get(id);
    if (prior && why === 'seq') {
      out.add({
        kind: 'id-alias',
        severity: 'error',
        key: `id-alias|${lm.no}|${id}`,
        message: `JS wrote #${id} for ${describe(info)}, but Rust already owns #${id} as ${describe(prior)}: two Rust JsValues now hold the same heap ID`,
        location: locationOf(this.ctx, lm, 'rust'),
        rustId: id,
        jsId: id,
        provenance: [provenanceOf(id, 'rust', prior), provenanceOf(id, 'js', info)],
      });
    }
    this.born(id, info);
    if (id >= this.maxId) this.maxId = id + 1;
  }

  private refsOf(v: Value, param: number, role: RefIntent['role'], into: RefIntent[]): void {
    forEachRef(v, (r) => {
      if (r.id !== undefined) into.push({ id: r.id, belief: this.belief(r.id), role, param });
    });
  }

  /**
   * The IDs this R-Eval's placeholders get, by op. In message order, except where an op's
   * argument is a placeholder not yet handed out in message order: that argument's encoder
   * called JS itself (nested-encode-order), so the inner op, appended after the outer
   * one, took its placeholder first.
   */
  private planIds(body: REvalBody, placeholder: readonly boolean[]): Map<number, number> | undefined {
    const ops = body.ops.filter((o) => placeholder[o.index - 1]);
    if (ops.length === 0) return new Map();
    let ids: number[];
    if (this.allocator === 'explicit') ids = (body.reservedIds ?? []).slice(0, ops.length);
    else if (this.allocator === 'freelist') return undefined;
    else ids = ops.map((_, i) => this.maxId + i);
    const assign = new Map<number, number>();
    ops.forEach((o, i) => {
      if (ids[i] !== undefined) assign.set(o.index, ids[i]!);
    });
    const owner = (id: number): number | undefined => {
      for (const [op, x] of assign) if (x === id) return op;
      return undefined;
    };
    for (const op of body.ops) {
      const args: number[] = [];
      for (const a of op.args) forEachRef(a, (r) => (r.id !== undefined ? args.push(r.id) : undefined));
      for (const id of args) {
        if (owner(id) !== op.index) continue;
        const next = ops.find((o) => o.index > op.index);
        if (!next || !assign.has(next.index)) continue;
        const mine = assign.get(op.index)!;
        assign.set(op.index, assign.get(next.index)!);
        assign.set(next.index, mine);
      }
    }
    return assign;
  }

  private onREval(lm: LMsg, d: DecodedMessage, body: REvalBody, out: StepOut): void {
    const serial = d.exchange?.serial ?? -lm.no;
    const intent: Intent = { ops: [] };
    if (this.allocator === 'explicit') this.applyInstall(body.installIds ?? [], lm, out, intent);
    const plan = this.plan(body);
    const frame: RustFrame = { serial, kind: 'r-eval', lm, ops: body.ops, post: plan.post, drops: [], borrowFrame: false };
    if (this.allocator === 'explicit') intent.reserved = (body.reservedIds ?? []).map((id) => this.belief(id));
    const planned = this.planIds(body, plan.placeholder);
    // Placeholders of this message, by ID, with the value each stands for (before they are taken).
    const pending = new Map<number, ValueInfo>();
    const infoOf = (op: Op): ValueInfo => {
      const fn = this.ctx.fnName(op);
      return this.info({ no: lm.no, op: op.index }, `result of op ${op.index} \`${fn}\` in msg ${lm.no}`, fn, locationOf(this.ctx, lm, 'rust', op.index));
    };
    if (planned) for (const op of body.ops) if (planned.has(op.index)) pending.set(planned.get(op.index)!, infoOf(op));
    const beliefOf = (id: number): Belief => {
      const p = pending.get(id);
      return p && !this.live.has(id) ? { id, state: 'pending', info: p } : this.belief(id);
    };
    for (const op of body.ops) {
      const role = this.ctx.role(op);
      const refs: RefIntent[] = [];
      const at = locationOf(this.ctx, lm, 'rust', op.index);
      if (role === 'drop_heap_ref' || role === 'clone_heap_ref' || role === 'dispose_rust_function') {
        const id = helperIdArg(op);
        if (id !== undefined) {
          refs.push({ id, belief: beliefOf(id), role: role === 'drop_heap_ref' ? 'drop' : role === 'clone_heap_ref' ? 'clone' : 'dispose', param: 1 });
          if (refs[0]!.belief.state === 'unknown' && id >= JSIDX_RESERVED) out.inconsistent = true;
        }
      } else {
        op.args.forEach((a, i) => {
          forEachRef(a, (r) => {
            if (r.id !== undefined) refs.push({ id: r.id, belief: beliefOf(r.id), role: 'arg', param: i + 1 });
          });
          if (a.kind === 'cached-string') refs.push({ id: a.id, belief: this.belief(a.id), role: 'cached-string', param: i + 1 });
        });
        for (const r of refs) if (r.belief.state === 'unknown' && r.id >= JSIDX_RESERVED) out.inconsistent = true;
      }
      const guess = role === 'drop_heap_ref' || role === 'dispose_rust_function' ? this.ctx.roleGuess(op) : undefined;
      if (role === 'drop_heap_ref') {
        const id = helperIdArg(op);
        if (id !== undefined) this.release(id, at, frame);
      }
      if (guess !== undefined) {
        const id = helperIdArg(op);
        if (id !== undefined && id >= JSIDX_RESERVED) this.guessed.push({ id, op, at, released: role === 'drop_heap_ref' });
        if (this.guessed.length > 4096) this.guessed.shift();
      }
      let resultId: number | undefined;
      let resultKey: string | undefined;
      if (plan.placeholder[op.index - 1]) {
        const info = infoOf(op);
        if (planned) {
          const id = planned.get(op.index);
          if (id !== undefined) {
            if (this.allocator === 'explicit') this.adopt(id, info, lm, out, 'reserved');
            else {
              this.born(id, info);
              if (id >= this.maxId) this.maxId = id + 1;
            }
            resultId = id;
          }
        } else {
          const { id, reused } = this.next();
          this.born(id, reused ? { ...info, reused } : info);
          resultId = id;
        }
        resultKey = info.key;
      }
      const opIntent: OpIntent = { refs, ...(resultId !== undefined && { resultId, resultKey }) };
      intent.ops!.push(opIntent);
    }
    if (plan.ambiguous !== undefined) frame.ambiguous = { op: plan.ambiguous, tentative: this.peekNext() };
    this.frames.push(frame);
    out.intent = intent;
  }

  private applyInstall(ids: readonly number[], lm: LMsg, out: StepOut, intent: Intent): void {
    const beliefs: Belief[] = [];
    const keys: string[] = [];
    const infos: ValueInfo[] = [];
    for (const id of ids) {
      beliefs.push(this.belief(id));
      const info = this.pendingInstall.shift();
      if (!info) {
        out.inconsistent = true;
        continue;
      }
      keys.push(info.key);
      infos.push(info);
      this.adopt(id, info, lm, out, 'install');
    }
    intent.install = beliefs;
    intent.installKeys = keys;
    intent.installInfo = infos;
  }

  private onRResp(lm: LMsg, d: DecodedMessage, body: RRespBody, out: StepOut): void {
    const intent: Intent = {};
    if (this.allocator === 'explicit') this.applyInstall(body.installIds ?? [], lm, out, intent);
    const serial = d.exchange?.serial;
    const at = this.frames.findIndex((f) => f.serial === serial);
    if (at >= 0) {
      // Exchanges above it were abandoned (a panic skipped their cleanup).
      while (this.frames.length > at + 1) this.abandonTop();
      const frame = this.frames.pop()!;
      if (frame.borrowFrame) this.popBorrowFrame();
    }
    const refs: RefIntent[] = [];
    if (body.value) this.refsOf(body.value, 1, 'return', refs);
    intent.value = refs;
    out.intent = intent;
    this.takeStashed(out);
    this.quiescence(out);
  }

  private onJEval(lm: LMsg, d: DecodedMessage, body: JEvalBody, out: StepOut): void {
    for (const x of d.abandoned) this.dropFrame(x.serial, true);
    const call = body.call;
    const intent: Intent = { allocs: [] };
    const isCallback = call.kind === 'callback';
    if (isCallback) this.borrowFrames.push(this.borrowPointer);
    if (call.kind === 'callback') {
      let ref = 0;
      call.args.forEach((arg, i) => {
        forEachRef(arg, (r) => {
          ref++;
          const origin: Origin = { no: lm.no, ref, arg: i + 1 };
          const fn = `callback ${formatCallbackKey(call.key)}`;
          const at = locationOf(this.ctx, lm, 'rust');
          if (r.kind === 'borrowed') {
            const what = `borrowed argument ${i + 1} of callback ${formatCallbackKey(call.key)} in msg ${lm.no}`;
            if (this.borrowPointer <= 1) {
              out.add({
                kind: 'borrow-stack-overflow',
                severity: 'error',
                key: `borrow-stack-overflow|${lm.no}`,
                message: `callback ${formatCallbackKey(call.key)} in msg ${lm.no} takes a borrowed reference with the borrow stack already at slot ${this.borrowPointer}: more than 127 borrowed references alive (Rust panics, JS throws)`,
                location: at,
              });
              return;
            }
            this.borrowPointer--;
            const info = this.info(origin, what, fn, at);
            this.borrowSlots.set(this.borrowPointer, info);
            this.lastBorrow.set(this.borrowPointer, info);
            return;
          }
          const what = `argument ${i + 1} of callback ${formatCallbackKey(call.key)} in msg ${lm.no}`;
          this.allocDecoded(origin, what, fn, at, r.id, lm, out, intent);
        });
      });
    }
    this.frames.push({ serial: d.exchange?.serial ?? -lm.no, kind: 'j-eval', lm, ops: [], post: [], drops: [], borrowFrame: isCallback });
    out.intent = intent;
    this.quiescence(out);
  }

  /** A HeapRef Rust decodes from JS: L-R3 / R-R3, S-R1 (explicit ID), E-R4 (pending install). */
  private allocDecoded(origin: Origin, what: string, fn: string, at: FindingLocation, wireId: number | undefined, lm: LMsg, out: StepOut, intent: Intent): void {
    const key = valueKey(origin);
    if (this.allocator === 'explicit') {
      this.pendingInstall.push(this.info(origin, what, fn, at));
      return;
    }
    if (this.ctx.features.jsWritesHeapIds && wireId !== undefined) {
      this.adopt(wireId, this.info(origin, what, fn, at), lm, out, 'seq');
      intent.allocs?.push({ key, id: wireId, reused: false });
      return;
    }
    const { id, reused } = this.next();
    this.born(id, this.info(origin, what, fn, at, reused));
    intent.allocs?.push({ key, id, reused });
  }

  private onJResp(lm: LMsg, d: DecodedMessage, body: JRespBody, out: StepOut): void {
    const serial = d.exchange?.serial;
    if (serial === undefined) return;
    const index = this.frames.findIndex((f) => f.serial === serial);
    if (index < 0) return;
    const waiting = this.waitingFlush();
    if (this.ctx.features.routing === 'by-id' && waiting && waiting.serial !== serial && index < this.frames.indexOf(waiting)) {
      // Set aside: its flush takes it only when it is the innermost one waiting (allocators §5).
      this.stash.set(serial, { lm, d });
      return;
    }
    while (this.frames.length > index + 1) this.abandonTop();
    out.intent = this.take(lm, body, out);
    this.takeStashed(out);
    this.quiescence(out);
  }

  /** The innermost open R-Eval: the flush currently waiting for a J-Resp. */
  private waitingFlush(): RustFrame | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.kind === 'r-eval') return this.frames[i];
    return undefined;
  }

  private takeStashed(out: StepOut): void {
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (!top || top.kind !== 'r-eval') return;
      const s = this.stash.get(top.serial);
      if (!s || s.d.body?.kind !== 'j-resp') return;
      this.stash.delete(top.serial);
      // Its allocations belong to that earlier message; this message's intent stays as it is.
      this.take(s.lm, s.d.body, out);
    }
  }

  /** Rust's flush takes its J-Resp: post-answer allocations, decode, recycle (E-R9, E-R10). */
  private take(lm: LMsg, body: JRespBody, out: StepOut): Intent {
    const frame = this.frames.pop()!;
    const intent: Intent = { allocs: [] };
    const byOp = new Map(body.results.map((r) => [r.op, r]));
    const at = locationOf(this.ctx, lm, 'rust');
    for (const opIndex of [...frame.post].sort((a, b) => a - b)) {
      const op = frame.ops[opIndex - 1];
      if (!op) continue;
      const fn = this.ctx.fnName(op);
      const origin: Origin = { no: frame.lm.no, op: opIndex };
      const what = `result of op ${opIndex} \`${fn}\` in msg ${frame.lm.no}`;
      const result = byOp.get(opIndex);
      const wireId = result?.value.kind === 'heapref' ? result.value.id : undefined;
      this.allocDecoded(origin, what, fn, at, wireId, lm, out, intent);
    }
    const last = frame.ops[frame.ops.length - 1];
    const lastResult = last ? byOp.get(last.index) : undefined;
    if (last && lastResult && last.signature.ret.kind !== 'heapref') {
      let ref = 0;
      const fn = this.ctx.fnName(last);
      forEachRef(lastResult.value, (r) => {
        if (r.kind !== 'heapref') return;
        ref++;
        const origin: Origin = { no: frame.lm.no, op: last.index, ref };
        this.allocDecoded(origin, `value ${ref} in the result of op ${last.index} \`${fn}\` in msg ${frame.lm.no}`, fn, at, r.id, lm, out, intent);
      });
    }
    if (this.allocator === 'explicit') {
      for (const id of frame.drops) if (this.released.get(id)?.serial === frame.serial) this.released.delete(id);
    }
    return intent;
  }

  private quiescence(out: StepOut): void {
    if (this.frames.length > 0) return;
    out.quiescent = { ...(this.allocator !== 'explicit' && { maxId: this.maxId }), pointer: this.borrowPointer, frames: this.borrowFrames.length };
  }

  private popBorrowFrame(): void {
    const saved = this.borrowFrames.pop();
    if (saved === undefined) return;
    for (let i = this.borrowPointer; i < saved; i++) this.borrowSlots.delete(i);
    this.borrowPointer = saved;
  }

  /** An exchange that ends without its Respond: before explicit-ids nothing restores its borrow frame. */
  private abandonTop(): void {
    const f = this.frames.pop()!;
    if (f.borrowFrame && this.allocator === 'explicit') this.popBorrowFrame();
    else if (f.borrowFrame) this.borrowFrames.pop();
  }

  private dropFrame(serial: number, lostRespond: boolean): void {
    const i = this.frames.findIndex((f) => f.serial === serial);
    if (i < 0) return;
    const [f] = this.frames.splice(i, 1);
    if (f!.borrowFrame && (lostRespond || this.allocator === 'explicit')) this.popBorrowFrame();
  }

  /** End of trace: values decoded from JS that never received an install ID. */
  pendingInstallCount(): number {
    return this.pendingInstall.length;
  }
}

function originOfLoc(at: FindingLocation): Origin {
  return { no: at.message ?? 0, ...(at.op !== undefined && { op: at.op }) };
}
