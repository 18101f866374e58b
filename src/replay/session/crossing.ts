/**
 * Messages that crossed in flight (two-sided traces): each side saw two messages in a
 * different order. Checked in JS's order, when both copies of both messages are decoded. A
 * crossing matters when it inverts the nesting (JS ran one inside the other's exchange while
 * Rust had it the other way round: the routing hazard) or when both messages allocate heap
 * IDs (each side then hands them out in its own order); other crossings are only counted.
 */
import type { DecodedMessage } from '../../protocol/messages.js';
import { BoundedMap } from '../../protocol/bounded-map.js';
import { forEachRef, type Value } from '../../protocol/values.js';
import type { LMsg, ModelContext } from '../context.js';
import type { Finding } from '../findings.js';
import { RecentRing } from './recent.js';

/** Messages JS replayed lately, looked back on for one Rust had later. */
const LOOK_BACK = 64;

/** A crossing to report: the finding (without its location, which the session knows) and how it links. */
export interface CrossingVerdict {
  readonly finding: Omit<Finding, 'location'>;
  readonly options: { key: string; causedById?: number; forceRoot?: true };
  /** The root an earlier crossing of one of these exchanges was reported as. */
  readonly linked?: number;
  readonly serials: readonly number[];
}

export class CrossingWatch {
  /** Crossings without consequence. */
  benign = 0;
  private readonly seen = new RecentRing<CrossingFacts>(LOOK_BACK);
  /** The highest Rust position in `seen`, or above it (entries leave `seen`, the bound stays). */
  private seenMaxPos = -1;
  /** Exchange serials of reported crossings, with the root they were reported under. */
  private crossed = new BoundedMap<number, number>(4096);

  /** JS replayed `lm`, whose Rust copy is at `rustPos` in Rust's record. */
  check(rustPos: number, lm: LMsg, ctx: ModelContext): CrossingVerdict | undefined {
    const seen = this.seen;
    const a = crossingFacts(lm, ctx, rustPos);
    // In step (the usual case) no message JS saw before is later in Rust's order: skip the search.
    const later = this.seenMaxPos > rustPos ? seen.find((x) => x.rustPos > rustPos) : undefined;
    seen.push(a);
    if (a.rustPos > this.seenMaxPos) this.seenMaxPos = a.rustPos;
    if (!later) return undefined;
    const b = later; // Rust order: a before b; JS order: b before a
    const nestedInRust = b.rustDepth > a.rustDepth && a.evaluate && b.evaluate;
    const nestedInJs = a.jsDepth > b.jsDepth && a.evaluate && b.evaluate;
    // Evaluate ids route every Respond right even then (evaluate-id*, seq-id).
    const inverted = nestedInRust && nestedInJs && ctx.features.routing === 'innermost';
    const allocating = ctx.features.allocator !== 'explicit' && ((a.placeholders && b.allocatesJ) || (b.placeholders && a.allocatesJ) || (a.allocatesJ && b.allocatesJ && !a.evaluateR && !b.evaluateR));
    const serials = [a.serial, b.serial].filter((x): x is number => x !== undefined);
    const linked = serials.map((x) => this.crossed.get(x)).find((x) => x !== undefined);
    if (!inverted && !allocating && linked === undefined) {
      this.benign++;
      return undefined;
    }
    const why = inverted
      ? `JS ran msg ${a.no} inside the exchange of msg ${b.no} while Rust had them the other way round, so Responds and IDs follow different stacks on the two sides`
      : allocating
        ? 'both allocate heap IDs, and each side handed them out in its own order'
        : 'part of the crossing above';
    return {
      finding: {
        kind: 'crossed-in-flight',
        severity: 'error',
        message: `msg ${a.no} and msg ${b.no} crossed in flight: Rust has msg ${a.no} first, JS has msg ${b.no} first; ${why}`,
        detail: { rustOrder: [a.no, b.no], jsOrder: [b.no, a.no], inverted, allocating },
      },
      options: { key: `crossed-in-flight|${Math.min(a.no, b.no)}|${Math.max(a.no, b.no)}`, ...(linked !== undefined ? { causedById: linked } : { forceRoot: true as const }) },
      ...(linked !== undefined && { linked }),
      serials,
    };
  }

  /** The crossing of these exchanges was reported under `root`: a later crossing of one of them follows from it. */
  link(serials: readonly number[], root: number): void {
    for (const x of serials) this.crossed.set(x, root);
  }
}

function isEvaluate(d: DecodedMessage | undefined): boolean {
  return d?.kind === 'r-eval' || d?.kind === 'j-eval';
}

/** What the crossing check needs of a message, kept instead of the message itself. */
interface CrossingFacts {
  /** Where Rust's copy of the message is in Rust's record. */
  readonly rustPos: number;
  readonly no: number;
  readonly serial?: number;
  readonly rustDepth: number;
  readonly jsDepth: number;
  readonly evaluate: boolean;
  readonly evaluateR: boolean;
  /** An R-Eval whose placeholders Rust took before sending. */
  readonly placeholders: boolean;
  /** A J-message carrying values both sides give IDs to. */
  readonly allocatesJ: boolean;
}

function crossingFacts(lm: LMsg, ctx: ModelContext, rustPos: number): CrossingFacts {
  const kind = (lm.rust ?? lm.js)?.kind;
  const serial = lm.rust?.exchange?.serial;
  return {
    rustPos,
    no: lm.no,
    serial,
    rustDepth: lm.rust?.depth ?? 0,
    jsDepth: lm.js?.depth ?? 0,
    evaluate: isEvaluate(lm.rust) && isEvaluate(lm.js),
    evaluateR: kind === 'r-eval',
    placeholders: placeholdersAtEncode(lm, ctx),
    allocatesJ: (kind === 'j-eval' || kind === 'j-resp') && allocates(lm),
  };
}

function placeholdersAtEncode(lm: LMsg, ctx: ModelContext): boolean {
  const b = (lm.rust ?? lm.js)?.body;
  if (b?.kind !== 'r-eval') return false;
  if (ctx.features.evalPrelude === 'none') return b.ops.length >= 2 && b.ops.some((o) => o.signature.ret.kind === 'heapref');
  return (b.reservedCount ?? 0) > 0;
}

/** Whether a message makes either side hand out heap IDs. */
export function allocates(lm: LMsg): boolean {
  const b = (lm.rust ?? lm.js)?.body;
  if (!b) return false;
  let n = 0;
  const count = (v: Value): void => forEachRef(v, (r) => (r.kind === 'heapref' ? n++ : undefined));
  switch (b.kind) {
    case 'r-eval':
      return b.ops.some((o) => o.signature.ret.kind === 'heapref');
    case 'j-eval':
      if (b.call.kind === 'callback') b.call.args.forEach(count);
      return n > 0;
    case 'j-resp':
      b.results.forEach((r) => (r.filledReservation ? undefined : count(r.value)));
      return n > 0;
    default:
      return false;
  }
}
