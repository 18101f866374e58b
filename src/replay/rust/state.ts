/**
 * What the Rust model knows between messages and how it takes and releases IDs: its live
 * values and what it freed, the counter or free list, the borrow stack, its open exchanges,
 * and the drop/dispose guesses its state rests on. The layers above (placeholder plans,
 * readings, message handlers) act on it.
 */
import type { DecodedMessage, Op } from '../../protocol/messages.js';
import { forEachRef, type Value } from '../../protocol/values.js';
import type { FindingLocation } from '../findings.js';
import { BoundedMap, FREED_MEMORY, JSIDX_OFFSET, JSIDX_RESERVED, describe, idEventOf, provenanceOf, MadeValue, type Belief, type IdEvent, type Origin, type RefIntent, type ValueInfo, type Made } from '../ids.js';
import { locationOf, resettleGuesses, type LMsg, type ModelContext, type StepOut } from '../context.js';

export type Reading = 'L-R1' | 'L-R2';

export interface RustFrame {
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

export abstract class RustModelState {
  protected maxId = JSIDX_RESERVED;
  /** legacy-freelist: LIFO stack read by allocation. */
  protected free: number[] = [];
  protected live = new Map<number, ValueInfo>();
  protected freed = new BoundedMap<number, FreedEntry>(FREED_MEMORY);
  /** explicit-ids: released by a drop op, not yet recycled (its R-Eval is not answered). */
  protected released = new Map<number, { serial: number; at: FindingLocation; info: ValueInfo }>();
  protected borrowPointer = JSIDX_OFFSET;
  protected borrowFrames: number[] = [];
  protected borrowSlots = new Map<number, ValueInfo>();
  /** What each borrow slot last held, to explain a borrowed ID used after its frame. */
  protected lastBorrow = new Map<number, ValueInfo>();
  protected frames: RustFrame[] = [];
  /** explicit-ids: values decoded from JS whose IDs go out in the next install list. */
  protected pendingInstall: ValueInfo[] = [];
  /** explicit-ids: drop/dispose ops whose role was a guess when replayed (re-applied once settled). */
  protected guessed: Array<{ readonly id: number; readonly op: Op; readonly at: FindingLocation; released: boolean }> = [];
  protected settled = 0;
  /** Value key → the ID Rust holds it under (live values only). */
  protected keyIndex = new Map<string, number>();
  /** Values Rust gave an ID during the current step (for the comparison at creation). */
  bornNow: Array<{ readonly id: number; readonly info: ValueInfo }> = [];
  /** by-id revisions: J-Resps set aside until their flush is the one waiting again. */
  protected stash = new Map<number, { lm: LMsg; d: DecodedMessage }>();
  created = 0;
  freedCount = 0;
  /** Set by the session when `onIdEvent` is given: created/freed events of the step being run. */
  idEvents?: IdEvent[];

  constructor(protected readonly ctx: ModelContext) {}

  get allocator() {
    return this.ctx.features.allocator;
  }

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

  /** A value Rust creates now: `name` is the op's function name or the callback's key. */
  protected info(origin: Origin, made: Made, name: string | number, at: FindingLocation, reused = false): MadeValue {
    return new MadeValue(origin, made, name, at, this.insideCallback(), reused);
  }

  /** The message of the innermost open J-Eval, 0 if none. */
  protected insideCallback(): number {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === 'j-eval') return f.lm.no;
    }
    return 0;
  }

  protected next(): { id: number; reused: boolean } {
    if (this.allocator === 'freelist' && this.free.length > 0) return { id: this.free.pop()!, reused: true };
    return { id: this.maxId++, reused: false };
  }

  protected peekNext(): number {
    if (this.allocator === 'freelist' && this.free.length > 0) return this.free[this.free.length - 1]!;
    return this.maxId;
  }

  /** Takes a specific ID as `next()` would have at an earlier moment. */
  protected claim(id: number): number {
    const i = this.free.lastIndexOf(id);
    if (i >= 0) this.free.splice(i, 1);
    else if (id >= this.maxId) this.maxId = id + 1;
    return id;
  }

  /** Every ID Rust's model takes for a value goes through here. */
  protected born(id: number, info: ValueInfo): void {
    this.live.set(id, info);
    this.keyIndex.set(info.key, id);
    // The replay compares values at creation only where neither a free list nor Rust's install lists decide the IDs.
    if (this.allocator !== 'freelist' && this.allocator !== 'explicit') this.bornNow.push({ id, info });
    this.created++;
    this.idEvents?.push(idEventOf('rust', id, 'created', info, info.at));
  }

  protected release(id: number, at: FindingLocation, frame: RustFrame | undefined): void {
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
  protected reconcile(): void {
    const v = this.ctx.settledVersion();
    if (v === this.settled) return;
    this.settled = v;
    this.guessed = resettleGuesses(this.ctx, this.guessed, (g, drop) => {
      if (drop && !g.released) this.release(g.id, g.at, undefined);
      else if (!drop && g.released && !this.live.has(g.id)) this.unrelease(g.id);
      g.released = drop;
    });
  }

  protected unrelease(id: number): void {
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
  protected adopt(id: number, info: ValueInfo, lm: LMsg, out: StepOut, why: 'reserved' | 'install' | 'seq'): void {
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

  protected refsOf(v: Value, param: number, role: RefIntent['role'], into: RefIntent[]): void {
    forEachRef(v, (r) => {
      if (r.id !== undefined) into.push({ id: r.id, belief: this.belief(r.id), role, param });
    });
  }

  protected popBorrowFrame(): void {
    const saved = this.borrowFrames.pop();
    if (saved === undefined) return;
    for (let i = this.borrowPointer; i < saved; i++) this.borrowSlots.delete(i);
    this.borrowPointer = saved;
  }

  protected quiescence(out: StepOut): void {
    if (this.frames.length > 0) return;
    out.quiescent = this.allocator !== 'explicit' ? { maxId: this.maxId, pointer: this.borrowPointer, frames: this.borrowFrames.length } : { pointer: this.borrowPointer, frames: this.borrowFrames.length };
  }
}

function originOfLoc(at: FindingLocation): Origin {
  return at.op !== undefined ? { no: at.message ?? 0, op: at.op } : { no: at.message ?? 0 };
}
