import type { MessageRecord } from '../trace/record.js';
import type { CallbackType, Signature, TypeDef } from './types.js';
import type { Value } from './values.js';

/** The four message kinds (wire §4): type byte and direction together. */
export type MessageKind = 'r-eval' | 'j-resp' | 'j-eval' | 'r-resp';

export const MESSAGE_TYPE_EVALUATE = 0;
export const MESSAGE_TYPE_RESPOND = 1;

/** J-Eval function ids with a fixed meaning (wire §9). */
export const CALL_RUST_CALLBACK = 0x00000000;
export const DROP_NATIVE_REF = 0xffffffff;
export const CALL_EXPORT = 0xfffffffe;

export const TYPE_FULL = 0xfe;
export const TYPE_CACHED = 0xff;

/** Reserved heap indices (wire §9.2). */
export const JSIDX_OFFSET = 128;
export const JSIDX_UNDEFINED = 128;
export const JSIDX_NULL = 129;
export const JSIDX_TRUE = 130;
export const JSIDX_FALSE = 131;
export const JSIDX_RESERVED = 132;

/** One JS function call inside a Rust→JS Evaluate. */
export interface Op {
  /** 1-based position in its R-Eval. */
  readonly index: number;
  readonly fnId: number;
  readonly marker: 'full' | 'cached';
  readonly typeId: number;
  readonly signature: Signature;
  readonly args: readonly Value[];
}

export interface REvalBody {
  readonly kind: 'r-eval';
  /** `evaluate-id*`, `seq-id`: the id a J-Resp echoes. */
  readonly evaluateId?: number;
  /** `reserved-count*`, `evaluate-id*`, `seq-id`: placeholders reserved for this R-Eval. */
  readonly reservedCount?: number;
  /** `explicit-ids`: IDs for values JS sent without IDs. */
  readonly installIds?: readonly number[];
  /** `explicit-ids`: exact placeholder IDs for this R-Eval's HeapRef results. */
  readonly reservedIds?: readonly number[];
  readonly ops: readonly Op[];
}

/** One op's result as JS wrote it into the J-Resp. */
export interface OpResult {
  readonly op: number;
  readonly type: TypeDef;
  readonly value: Value;
  /** The result went into a reserved slot: it occupies no bytes in any revision. */
  readonly filledReservation: boolean;
}

export interface JRespBody {
  readonly kind: 'j-resp';
  readonly evaluateId?: number;
  /** Results of every op of the answered R-Eval, in op order; empty when it is unknown. */
  readonly results: readonly OpResult[];
}

export type JsCall =
  | { readonly kind: 'callback'; readonly key: number; readonly type?: CallbackType; readonly args: readonly Value[] }
  | { readonly kind: 'drop-native'; readonly key: number }
  | { readonly kind: 'export'; readonly name: string; readonly args: readonly number[] }
  | { readonly kind: 'unknown'; readonly fnId: number };

export interface JEvalBody {
  readonly kind: 'j-eval';
  readonly call: JsCall;
}

export interface RRespBody {
  readonly kind: 'r-resp';
  /** `evaluate-id-draft`, `seq-id`: the word before the body (always 0 from genuine Rust). */
  readonly preludeWord?: number;
  /** `explicit-ids`: IDs for values JS sent without IDs. */
  readonly installIds?: readonly number[];
  /** The callback's return value (absent for native-ref drops and unknown exchanges). */
  readonly value?: Value;
  /** explicit-ids export results are typed off the wire: their bytes are kept undecoded. */
  readonly opaqueBytes?: number;
  readonly type?: TypeDef;
}

export type MessageBody = REvalBody | JRespBody | JEvalBody | RRespBody;

/**
 * Problem kinds the decoder itself detects. They use the finding names of
 * docs/findings.md so that the analyzer reports them unchanged.
 */
export type DecodeIssueKind =
  | 'invalid-header'
  | 'decode-error'
  | 'trailing-bytes'
  | 'unknown-type-id'
  | 'type-redefined'
  | 'unknown-callback'
  | 'unknown-call-kind'
  | 'non-ascii-string'
  | 'respond-without-evaluate'
  | 'respond-shape-mismatch'
  | 'misrouted-respond'
  | 'unanswered-evaluate';

export interface DecodeIssue {
  readonly kind: DecodeIssueKind;
  readonly message: string;
  /** Fatal issues stopped decoding the message; what was read before is kept. */
  readonly fatal: boolean;
  readonly severity: 'error' | 'warning' | 'info';
  /** Byte offset inside the message, when one place is at fault. */
  readonly byteOffset?: number;
  /** 1-based op index, for R-Eval and J-Resp issues. */
  readonly op?: number;
  /** An earlier record was damaged or lost: this is probably its consequence. */
  readonly consequence?: boolean;
  /** For exchange issues: the serial of the exchange concerned. */
  readonly exchange?: number;
}

/** An open Evaluate: what its Respond must be decoded against. */
export interface Exchange {
  /** Serial number, in order of opening, unique per conversation. */
  readonly serial: number;
  readonly kind: 'r-eval' | 'j-eval';
  readonly record: MessageRecord;
  /** Position of the opening message in this conversation (0-based). */
  readonly messageIndex: number;
  readonly evaluateId?: number;
  /** R-Eval: the ops (possibly incomplete when the R-Eval did not decode). */
  readonly ops?: readonly Op[];
  /** R-Eval: whether HeapRef results fill reserved slots. */
  readonly reserving?: boolean;
  /** J-Eval: the call. */
  readonly call?: JsCall;
  /** The opening message did not decode completely: its Respond cannot be checked exactly. */
  readonly incomplete: boolean;
  readonly depth: number;
}

export interface DecodedMessage {
  readonly record: MessageRecord;
  /** Position in this conversation (0-based). */
  readonly messageIndex: number;
  readonly kind: MessageKind | undefined;
  /** Undefined when not even the prelude could be read. */
  readonly body: MessageBody | undefined;
  /** Number of exchanges open around this message (0 = top level). */
  readonly depth: number;
  /** The exchange this message opens (Evaluate) or closes (Respond). */
  readonly exchange?: Exchange;
  /** Exchanges left open above the one a Respond closed; they will never be answered. */
  readonly abandoned: readonly Exchange[];
  readonly issues: readonly DecodeIssue[];
}

export function isFatal(m: DecodedMessage): boolean {
  return m.issues.some((i) => i.fatal);
}
