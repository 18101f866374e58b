/**
 * The simulator's shared vocabulary: messages in flight (with the omniscient metadata
 * the ground truth needs), the effects the two peer threads yield to the scheduler, and
 * the values each peer holds.
 *
 * Both peers are generator functions ("threads"). A peer yields an Effect whenever it
 * hands a message to the protocol handler or has to wait for one; the scheduler
 * (bridge.ts) resumes it with the reply. Everything between two yields is synchronous,
 * exactly like the real Rust thread and the real (single-threaded) webview.
 */
import type { MessageKind } from '../protocol/messages.js';
import type { CallbackType, TypeDef } from '../protocol/types.js';

/** Per-op metadata of an R-Eval, known to the simulator only (never on the wire). */
export interface OpMeta {
  /** Allocation key of the op's result (ground truth). */
  readonly key: string;
  /** Function name, for reports. */
  readonly fn: string;
  /** Allocation keys of the values Rust means by the op's HeapRef arguments, in order. */
  readonly argKeys: readonly (string | undefined)[];
}

/**
 * One message in flight. `bytes` is exactly what crosses the bridge; the other fields
 * are simulator knowledge used for the records (seq) and the ground truth.
 */
export interface Wire {
  readonly serial: number;
  readonly kind: MessageKind;
  readonly bytes: Uint8Array;
  /** Per-side 1-based sequence numbers, set when each side records the message. */
  rustSeq?: number;
  jsSeq?: number;
  /** R-Eval: the evaluate/seq id in its prelude (by-id revisions). */
  readonly evalId?: number;
  /** R-Eval (explicit-ids): the runtime's top_level flag (sessions §3.4). */
  readonly topLevel?: boolean;
  /** R-Eval: per-op metadata. */
  readonly ops?: readonly OpMeta[];
  /** J-Eval / J-Resp: allocation keys of the HeapRef/BorrowedRef values, in encode order. */
  readonly heapKeys?: readonly string[];
  /** R-Resp: allocation key of the value Rust means by a HeapRef return value. */
  readonly valueKey?: string;
  /** Respond: the Evaluate the sender answers (ground truth for misrouting). */
  readonly answers?: Wire;
  /** R-Eval: whether Rust sent it while no exchange was open on its side. */
  readonly rustTopLevel?: boolean;
}

/** What a peer thread yields to the scheduler. */
export type Effect =
  /** Rust hands a message to the handler (does not block). */
  | { readonly kind: 'send'; readonly wire: Wire }
  /** Rust waits for the next J-message. `idle`: only J-Evals (the handle_callbacks task). Resumed with a Wire, or null when idle and nothing more can come. */
  | { readonly kind: 'recv'; readonly idle: boolean }
  /** JS sends a synchronous XHR and blocks for its reply (a Wire, or null for a blank/error reply). */
  | { readonly kind: 'xhr'; readonly wire: Wire }
  /** JS has nothing to do; resumed with the next task. */
  | { readonly kind: 'idle' };

/** A coroutine of a peer thread returning T. */
export type Co<T> = Generator<Effect, T, unknown>;

/** A Rust panic: the app thread dies. */
export class RustPanic extends Error {
  override readonly name = 'RustPanic';
}

/** A JavaScript exception thrown in the webview; it unwinds to the current task. */
export class JsException extends Error {
  override readonly name = 'JsException';
}

/** The protocol handler (UI thread) panicked: the whole app is gone. */
export class HandlerPanic extends Error {
  override readonly name = 'HandlerPanic';
}

// ---- JS-side values ---------------------------------------------------------------------

/** A plain JS object. */
export class JsObject {
  constructor(readonly props: Map<string, JsVal> = new Map()) {}

  static of(entries: Record<string, JsVal>): JsObject {
    return new JsObject(new Map(Object.entries(entries)));
  }
}

/** JS's wrapper for a Rust callback (ts/rust_function.ts). */
export class RustFunction {
  disposed = false;
  activeCalls = 0;
  /** Heap slots, borrow slots and script holds referencing it (the simulator's GC). */
  refs = 0;
  /** The FinalizationRegistry callback (or dispose) already sent the native-ref drop. */
  nativeDropped = false;
  finalizeQueued = false;
  dropNativeWhenIdle = false;

  constructor(
    readonly key: number,
    readonly type: CallbackType,
    /** explicit-ids ownership policy: 0 Rust-owned, 1 JS-owned, 2 JS-owned once; undefined before. */
    readonly policy: number | undefined,
    /** Registered with the FinalizationRegistry (a Closure, not a stack closure); unregistered when it is disposed or a once-closure ran. */
    public finalizable: boolean,
  ) {}
}

export type JsVal = undefined | null | boolean | number | bigint | string | JsObject | RustFunction | JsVal[];

// ---- Rust-side values -------------------------------------------------------------------

/** Rust's handle for a JS value: an integer id (and what the simulator knows about it). */
export class JsValue {
  dropped = false;
  /** A callback body keeps this owned argument (it is not dropped when the body ends). */
  kept = false;
  /** explicit-ids: the closure's ownership (an owned Closure disposes its RustFunction on drop). */
  closureOwnership: 'owned' | 'detached' | undefined;

  constructor(
    readonly id: number,
    /** Allocation key: ties Rust's id to the JS-side store of the same value. */
    readonly key: string,
    /** A borrow-slot reference received as a callback's first argument. */
    readonly borrowed: boolean,
    readonly label: string,
    closure: boolean = false,
  ) {
    this.closureOwnership = closure ? 'owned' : undefined;
  }

  toString(): string {
    return `JsValue(${this.id}${this.label ? ` ${this.label}` : ''})`;
  }
}

/** Marks an argument passed by value: Rust drops it right after encoding it. */
export class Moved {
  constructor(readonly value: JsValue) {}
}

export function moved(v: JsValue): Moved {
  return new Moved(v);
}

/** `Some(x)` for an Option argument (null is None). */
export class Some {
  constructor(readonly value: RustArg) {}
}

/** A Rust value returned to a scenario program or passed to a callback body. */
export type RVal =
  | undefined
  | null
  | boolean
  | number
  | bigint
  | string
  | JsValue
  | RVal[]
  | { readonly ok: boolean; readonly value: RVal }
  | { readonly some: RVal };

/** A callback body: receives the decoded arguments, returns the callback's result. */
export type CallbackBody = (args: RVal[]) => Co<RVal>;

/** A stack closure argument (`&dyn Fn`), valid only during the call it is passed to. */
export class StackClosure {
  constructor(
    readonly type: CallbackType,
    readonly body: CallbackBody,
    readonly name: string,
  ) {}
}

/** Internal: the Callback value of a `Closure::new` cast. */
export class CallbackArg {
  constructor(
    readonly key: number,
    readonly type: CallbackType,
    readonly policy: number,
  ) {}
}

export type RustArg =
  | JsValue
  | Moved
  | Some
  | StackClosure
  | CallbackArg
  | number
  | bigint
  | string
  | boolean
  | null
  | undefined
  | RustArg[];

/** A JS function Rust imports: name, registry position, signature. */
export interface ImportDef {
  readonly name: string;
  readonly fnId: number;
  readonly params: readonly TypeDef[];
  readonly ret: TypeDef;
}
