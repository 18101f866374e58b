/**
 * What the JS model knows between messages: its open exchanges, the heap it drives, where
 * it stored each value and what it freed, and the drop/dispose guesses its state rests on.
 * The layers above (op windows, reference checks, ops, exchanges, message handlers) act on it.
 */
import type { Op } from '../../protocol/messages.js';
import type { FindingLocation } from '../findings.js';
import { BoundedMap, FREED_MEMORY, idEventOf, MadeValue, type IdEvent, type Intent, type Origin, type ValueInfo, type Made } from '../ids.js';
import { resettleGuesses, type LMsg, type ModelContext } from '../context.js';
import type { JsHeap, JsVal } from './heap.js';

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
  readonly typeDefs: ReadonlyMap<number, number>;
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

/** The type definitions of an exchange without TYPE_FULL ops. */
export const NO_TYPES: ReadonlyMap<number, number> = new Map();

interface Freed {
  readonly info: ValueInfo;
  readonly at: FindingLocation;
}

export abstract class JsModelState {
  protected frames: JsFrame[] = [];
  protected types = new Set<number>();
  /** Types defined only in ops JS never parsed (it threw first). */
  protected unparsed = new Map<number, { no: number; op: number }>();
  /** explicit-ids: JS threw and the exception left every open exchange (see unwind). */
  protected unwoundAfterThrow = false;
  /** Callback key → where it last reached JS, and the heap ID Rust gave the op that carried it. */
  protected callbacks = new Map<number, { serial: number; no: number; op: number; heapId?: number }>();
  protected keyIndex = new Map<string, number>();
  protected freed = new BoundedMap<number, Freed>(FREED_MEMORY);
  /** explicit-ids: drop/dispose ops whose role was a guess when they ran (re-applied once settled). */
  protected guessed: Array<{ readonly id: number; readonly op: Op; value?: JsVal; freed: boolean }> = [];
  protected settled = 0;
  /** Values Rust meant by an ID finding that JS had not stored yet: value key → draft keys. */
  protected awaiting = new BoundedMap<string, string[]>(4096);
  /** Where JS stored such a value after all, for the drafts that named it (taken by the replay). */
  amendments: Array<{ readonly draftKey: string; readonly jsId: number; readonly info: ValueInfo }> = [];
  /** Values JS stored during the current step (for the comparison at creation). */
  storedNow: Array<{ readonly id: number; readonly info: ValueInfo; readonly frame: number | undefined }> = [];
  created = 0;
  freedCount = 0;
  /** Set by the session when `onIdEvent` is given: created/freed events of the step being run. */
  idEvents?: IdEvent[];

  constructor(
    protected readonly ctx: ModelContext,
    readonly heap: JsHeap,
  ) {}

  protected get allocator() {
    return this.ctx.features.allocator;
  }

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

  /** Where JS stored the value Rust calls `key`, if it did. */
  idOf(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  /** The ID JS's value `key` is stored at, if it is. */
  storedAt(key: string): number | undefined {
    return this.keyIndex.get(key);
  }

  protected frameIndex(serial: number | undefined): number {
    if (serial === undefined) return -1;
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]!.serial === serial) return i;
    return -1;
  }

  /** A value JS creates now: `name` is the op's function name or the callback's key. */
  protected val(origin: Origin, made: Made, name: string | number, at: FindingLocation, reused = false): JsVal {
    const info = new MadeValue(origin, made, name, at, this.insideCallback(), reused);
    return { key: info.key, info };
  }

  /** The message of the innermost open J-Eval, 0 if none. */
  protected insideCallback(): number {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i]!;
      if (f.kind === 'j-eval') return f.lm.no;
    }
    return 0;
  }

  protected stored(id: number, v: JsVal): void {
    this.keyIndex.set(v.key, id);
    // As for Rust's bornNow: compared only where neither a free list nor install lists decide the IDs.
    if (this.allocator !== 'freelist' && this.allocator !== 'explicit') this.storedNow.push({ id, info: v.info, frame: this.frames[this.frames.length - 1]?.serial });
    const waiting = this.awaiting.get(v.key);
    if (waiting) {
      this.awaiting.delete(v.key);
      for (const draftKey of waiting) this.amendments.push({ draftKey, jsId: id, info: v.info });
    }
    this.created++;
    this.idEvents?.push(idEventOf('js', id, 'created', v.info, v.info.at));
  }

  protected relocate(from: number, to: number, v: JsVal): void {
    this.heap.relocate(from, to);
    this.keyIndex.set(v.key, to);
  }

  protected free(id: number, at: FindingLocation): JsVal | undefined {
    const v = this.heap.remove(id);
    if (v) {
      if (this.keyIndex.get(v.key) === id) this.keyIndex.delete(v.key);
      this.freed.set(id, { info: v.info, at });
      this.freedCount++;
      this.idEvents?.push(idEventOf('js', id, 'freed', v.info, at));
    }
    return v;
  }

  /**
   * explicit-ids: evidence settled which helper is drop and which dispose (wire §9.1). Ops
   * that ran on a guess that turned out wrong are re-applied: a dispose taken for a drop
   * puts the value back (JS never freed it), a drop taken for a dispose frees the slot.
   */
  protected reconcile(): void {
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
  protected guessOn(id: number): string | undefined {
    for (let i = this.guessed.length - 1; i >= 0; i--) {
      const g = this.guessed[i]!;
      if (g.id === id) return this.ctx.roleGuess(g.op);
    }
    return undefined;
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
