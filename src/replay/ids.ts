/**
 * Vocabulary shared by the two models: logical value identities, provenance, and the
 * beliefs the Rust model hands the JS model for every ID it writes.
 *
 * The two models never share state. What they share is the *name* of a value: the place
 * in the trace where it came into being (message, op, position), which both sides can
 * derive from the messages alone. Rust's model maps its IDs to those names, the JS
 * model maps its own IDs to them, and a desync is simply the two maps disagreeing.
 */
import { formatCallbackKey } from '../protocol/format.js';
import type { Side } from '../trace/record.js';
import type { FindingLocation, Provenance } from './findings.js';

export { JSIDX_OFFSET, JSIDX_RESERVED } from '../protocol/messages.js';
/** Lowest borrow slot; the stack grows downward from 127 to this. */
export const BORROW_MIN = 1;

/** Where a value came from, independent of the ID either side gave it. */
export interface Origin {
  /** Logical message number (1-based) that created it. */
  readonly no: number;
  /** R-Eval op whose result it is (1-based), when it is one. */
  readonly op?: number;
  /** Position among the heap references of that message or op result (1-based), in decode order. */
  readonly ref?: number;
  /** Argument position (1-based) for callback arguments. */
  readonly arg?: number;
}

/** Provenance of one value in one model. Immutable once created. */
export interface ValueInfo {
  /** Logical identity, equal in both models for the same value. */
  readonly key: string;
  readonly origin: Origin;
  /** `result of op 3 `level1` in msg 5`, `argument 2 of callback 0 in msg 7`. */
  readonly what: string;
  /** Function that created it (for leak grouping): `level1`, `callback 0`, `fn 7`. */
  readonly fn: string;
  readonly at: FindingLocation;
  /** Created while a J-Eval was open on that side: `inside the callback of msg 4`. */
  readonly inside?: string;
  /** The ID came off a free list (legacy-freelist). */
  readonly reused?: boolean;
}

/**
 * How a value came into being, for its wording (`ValueInfo.what`): the JsValue result of an op,
 * a heap ref inside a non-HeapRef result, a callback argument, a borrowed callback argument.
 */
export type Made = 'result' | 'result-ref' | 'callback-arg' | 'borrowed-arg';

/**
 * A value's provenance kept as numbers: its wording (`what`, `inside`, a callback's `fn`) is
 * built only when a finding or an ID event reads it. Every model value is one of these.
 */
export class MadeValue implements ValueInfo {
  readonly key: string;
  private worded?: string;

  /**
   * `name`: the function name of an op (fixed now: a helper's role may settle later), or the key
   * of the callback. `insideOf`: the message of the innermost open J-Eval, 0 if none.
   */
  constructor(
    readonly origin: Origin,
    private readonly made: Made,
    private readonly name: string | number,
    readonly at: FindingLocation,
    private readonly insideOf: number,
    readonly reused: boolean,
  ) {
    this.key = valueKey(origin);
  }

  get what(): string {
    if (this.worded !== undefined) return this.worded;
    const o = this.origin;
    let w: string;
    switch (this.made) {
      case 'result':
        w = `result of op ${o.op} \`${this.name}\` in msg ${o.no}`;
        break;
      case 'result-ref':
        w = `value ${o.ref} in the result of op ${o.op} \`${this.name}\` in msg ${o.no}`;
        break;
      case 'callback-arg':
        w = `argument ${o.arg} of callback ${formatCallbackKey(this.name as number)} in msg ${o.no}`;
        break;
      case 'borrowed-arg':
        w = `borrowed argument ${o.arg} of callback ${formatCallbackKey(this.name as number)} in msg ${o.no}`;
        break;
    }
    return (this.worded = w);
  }

  get fn(): string {
    return typeof this.name === 'number' ? `callback ${formatCallbackKey(this.name)}` : this.name;
  }

  get inside(): string | undefined {
    return this.insideOf !== 0 ? `inside the callback of msg ${this.insideOf}` : undefined;
  }

  /** The same value, its ID taken off a free list. */
  asReused(): MadeValue {
    return new MadeValue(this.origin, this.made, this.name, this.at, this.insideOf, true);
  }
}

export function valueKey(o: Origin): string {
  if (o.op !== undefined) return `${o.no}:op${o.op}${o.ref !== undefined ? `.${o.ref}` : ''}`;
  return `${o.no}:v${o.ref ?? 0}`;
}

export function describe(info: ValueInfo): string {
  return info.inside ? `${info.what}, ${info.inside}` : info.what;
}

/** What Rust means by an ID it writes, at the moment it writes it. */
export interface Belief {
  readonly id: number;
  readonly state: 'live' | 'freed' | 'unknown' | 'borrow' | 'const' | 'pending';
  readonly info?: ValueInfo;
  /** For `freed`: where Rust dropped it. */
  readonly freedAt?: FindingLocation;
  readonly freedOrigin?: Origin;
  /** explicit-ids: Rust released the ID but has not recycled it (its drop is not answered yet). */
  readonly releasedAt?: FindingLocation;
}

/** One ID written by Rust in an R-message, with what Rust meant by it. */
export interface RefIntent {
  readonly id: number;
  readonly belief: Belief;
  /** How the ID travels: HeapRef argument, drop/clone/dispose helper argument, R-Resp value. */
  readonly role: 'arg' | 'drop' | 'clone' | 'dispose' | 'return' | 'cached-string';
  /** 1-based parameter index for op arguments. */
  readonly param?: number;
}

export interface OpIntent {
  readonly refs: RefIntent[];
  /** The ID Rust gave this op's result before sending (placeholder), if any. */
  readonly resultId?: number;
  readonly resultKey?: string;
}

/** Everything the Rust model says about one logical message, for the JS model to check. */
export interface Intent {
  ops?: OpIntent[];
  /** explicit-ids: per reserved / installed ID, Rust's view of it. */
  reserved?: Belief[];
  install?: Belief[];
  /** explicit-ids: the value each installed ID went to on the Rust side. */
  installKeys?: string[];
  installInfo?: ValueInfo[];
  /** R-Resp: the returned IDs. */
  value?: RefIntent[];
  /** J-messages: the IDs Rust gave the values it decoded, by value key. */
  allocs?: Array<{ key: string; id: number; reused: boolean }>;
}

/**
 * A heap ID coming into being or being freed in one model (`AnalyzeOptions.onIdEvent`).
 * Models only buffer these when asked; the session hands on those of the preferred reading.
 */
export interface IdEvent {
  readonly ctx: string | undefined;
  readonly side: Side;
  readonly id: number;
  readonly event: 'created' | 'freed';
  /** Message of the event (creation or free). */
  readonly message: number;
  /** What made the value, with where (`result of op 3 \`level1\` in msg 5`). */
  readonly createdBy: string;
  /** Function that created it (leak grouping): `level1`, `callback 0`, `fn 7`. */
  readonly fn: string;
  /** Where the event happened: creation site for `created`, the drop for `freed`. */
  readonly location: FindingLocation;
  /** For `freed`: where the value was created. */
  readonly createdAt?: FindingLocation;
  readonly reused?: boolean;
}

export { BoundedMap } from '../protocol/bounded-map.js';

export function idEventOf(side: Side, id: number, event: IdEvent['event'], info: ValueInfo, at: FindingLocation): IdEvent {
  return {
    ctx: at.ctx,
    side,
    id,
    event,
    message: at.message ?? info.origin.no,
    createdBy: describe(info),
    fn: info.fn,
    location: at,
    ...(event === 'freed' && { createdAt: info.at }),
    ...(info.reused && { reused: true }),
  };
}

export function provenanceOf(id: number, side: Side, info: ValueInfo, freedAt?: FindingLocation): Provenance {
  return { id, side, createdBy: describe(info), createdAt: info.at, ...(freedAt && { freedAt }) };
}

/** How many freed IDs each model remembers for use-after-free and double-free reports. */
export const FREED_MEMORY = 16384;
