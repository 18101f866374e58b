/**
 * What every model of one session needs to know and nothing it may change: the revision's
 * features, the helper table, the options, and how to name places in the trace.
 */
import type { DecodedMessage, Op } from '../protocol/messages.js';
import type { HelperRole, HelperTable } from '../protocol/helpers.js';
import type { RevisionFeatures } from '../protocol/revisions.js';
import type { Direction, MessageRecord, Side } from '../trace/record.js';
import type { FindingKind, FindingLocation, Provenance, Severity } from './findings.js';
import type { Intent } from './ids.js';

/** One message of the conversation, as both sides saw it. */
export interface LMsg {
  /** 1-based number of the message in its conversation ("msg 3"). */
  readonly no: number;
  readonly dir: Direction;
  /** The message as the Rust side decoded it (the same object as `js` with one recorded side). */
  rust?: DecodedMessage;
  js?: DecodedMessage;
  /** The session has taken in what the message says about helpers and depth (once, from the first copy). */
  observed?: true;
}

export interface ModelContext {
  readonly features: RevisionFeatures;
  readonly helpers: HelperTable;
  readonly strict: boolean;
  readonly ctx: string | undefined;
  /** The function name of an op for messages: symbol, helper role, or `fn N`. */
  fnName(op: Op): string;
  role(op: Op): HelperRole | undefined;
  /** Set when the op's role is a guess the bytes have not settled (explicit-ids drop vs dispose). */
  roleGuess(op: Op): string | undefined;
  /** Changes whenever evidence settles a role that may have been guessed before. */
  settledVersion(): number;
}

/** A finding as a model proposes it, before it is compared across readings. */
export interface Draft {
  kind: FindingKind;
  severity: Severity;
  message: string;
  /** Identity of the check (kind, message, op, ID as written): equal across readings. */
  key: string;
  location: FindingLocation;
  rustId?: number;
  jsId?: number;
  provenance?: Provenance[];
  detail?: Record<string, unknown>;
  certainty?: 'definite' | 'possible';
  /** An ID disagreement: readings that show it while others do not are dropped. */
  mismatch?: boolean;
  /** Key of the draft this one follows from (same check, or a JS exception it caused). */
  causedByKey?: string;
}

/** What one model step produced in one reading. */
export class StepOut {
  readonly drafts: Draft[] = [];
  /** The trace contradicts this reading (Rust wrote an ID it never had, a window became empty). */
  inconsistent = false;
  intent?: Intent;
  /** J-messages sent by JS: the IDs JS gave the values it encoded, by value key. */
  jsAllocs?: Array<{ key: string; id: number; reused: boolean }>;
  /** This side's exchange stack became empty after the message. */
  quiescent?: { maxId?: number; pointer: number; frames: number };
  add(d: Draft): void {
    this.drafts.push(d);
  }
}

export function recordOf(lm: LMsg, side: Side): MessageRecord | undefined {
  return (side === 'rust' ? lm.rust ?? lm.js : lm.js ?? lm.rust)?.record;
}

export function locationOf(ctx: ModelContext, lm: LMsg, side: Side, op?: number): FindingLocation {
  const rec = recordOf(lm, side);
  // Built field by field (same key order as the JSON schema) rather than with conditional spreads:
  // this runs for every value a model creates.
  const loc: FindingLocation = { input: rec?.loc.input ?? '' };
  if (rec?.loc.line !== undefined) loc.line = rec.loc.line;
  if (rec?.loc.offset !== undefined) loc.offset = rec.loc.offset;
  loc.side = side;
  if (rec?.seq !== undefined) loc.seq = rec.seq;
  if (op !== undefined) loc.op = op;
  if (ctx.ctx !== undefined) loc.ctx = ctx.ctx;
  loc.message = lm.no;
  return loc;
}

/**
 * explicit-ids: the ops a model ran on a guess of which helper is drop and which dispose, once
 * the evidence has moved (wire §9.1): `apply` re-applies each with the role it has now; returns
 * those still resting on a guess.
 */
export function resettleGuesses<G extends { readonly op: Op }>(ctx: ModelContext, guessed: readonly G[], apply: (g: G, drop: boolean) => void): G[] {
  const still: G[] = [];
  for (const g of guessed) {
    apply(g, ctx.role(g.op) === 'drop_heap_ref');
    if (ctx.roleGuess(g.op) !== undefined) still.push(g);
  }
  return still;
}

/** The U64 heap-ID argument of a drop/clone/dispose helper op. */
export function helperIdArg(op: Op): number | undefined {
  const a = op.args[0];
  if (!a || a.kind !== 'int') return undefined;
  const n = Number(a.value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The closure-creating cast: the helper when its fn id is known, else an op shaped
 * `(Callback) -> JsValue`. A Callback parameter of any other op is a stack closure
 * (`&dyn Fn`), alive only while that op's call lasts.
 */
export function isCastLike(op: Op, ctx: ModelContext): boolean {
  const p = op.signature.params;
  return ctx.role(op) === 'cast' || (p.length === 1 && p[0]!.kind === 'callback' && op.signature.ret.kind === 'heapref');
}
