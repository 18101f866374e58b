import type { Side } from '../trace/record.js';

/**
 * Finding kinds: the stable names of docs/findings.md (the failure-mode catalogue), plus
 * the analyzer's own bookkeeping kinds at the end. A kind never changes meaning.
 */
export const FINDING_KINDS = [
  'placeholder-id-mismatch',
  'freelist-divergence',
  'reservation-underfilled',
  'reservation-overfilled',
  'crossed-in-flight',
  'id-alias',
  'counter-drift',
  'misrouted-respond',
  'respond-shape-mismatch',
  'respond-without-evaluate',
  'unanswered-evaluate',
  'lost-respond',
  'borrow-frame-unbalanced',
  'borrow-ref-escaped',
  'borrow-stack-overflow',
  'use-after-free',
  'unknown-heap-id',
  'double-free',
  'nested-encode-order',
  'install-mismatch',
  'reserved-id-occupied',
  'id-reused-before-drop',
  'unknown-type-id',
  'type-redefined',
  'unknown-callback',
  'unknown-call-kind',
  'invalid-header',
  'decode-error',
  'trailing-bytes',
  'non-ascii-string',
  // The analyzer's own kinds:
  'bad-record',
  'records-lost',
  'side-missing-record',
  'side-bytes-differ',
  'js-heap-disagrees',
  'leak-summary',
] as const;

export type FindingKind = (typeof FINDING_KINDS)[number];
export type Severity = 'error' | 'warning' | 'info';

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

/** Where in the input a finding points. */
export interface FindingLocation {
  input: string;
  line?: number;
  offset?: number;
  side?: Side;
  seq?: number;
  /** 1-based op index inside an R-Eval (or the op a J-Resp result belongs to). */
  op?: number;
  ctx?: string;
  /** 1-based number of the message in its conversation ("msg 3"; both sides' copies share it). */
  message?: number;
  /**
   * Set when the recording side replayed this message after a later one (the copies crossed,
   * or it reached that side late): the message that side had replayed just before.
   */
  ranAfter?: number;
}

/** Where a heap ID came from, on one side. */
export interface Provenance {
  id: number;
  side: Side;
  /** What made it: `result of op 3 level1`, `argument 2 of callback 0`, ... */
  createdBy: string;
  createdAt: FindingLocation;
  freedAt?: FindingLocation;
}

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  /** One sentence for a person, complete without the rest of the report. */
  message: string;
  location: FindingLocation;
  /** The ID Rust believes in, where one applies. */
  rustId?: number;
  /** The ID JS used, where one applies. */
  jsId?: number;
  /** definite: holds for every possible op position; possible: for some (allocators §8). */
  certainty?: 'definite' | 'possible';
  /** Provenance of the IDs involved. */
  provenance?: Provenance[];
  /** Root-cause findings count the findings that followed from them. */
  consequences?: number;
  /** Set on findings that are probably consequences of an earlier one (its index). */
  causedBy?: number;
  /** Extra structured detail, kind-specific, JSON-serialisable. */
  detail?: Record<string, unknown>;
}

/** Where knowledge of a kind comes from (failure-modes.md "Provenance labels"). */
export type FindingProvenance = 'upstream-documented' | 'derived' | 'generic' | 'analyzer';

export interface FindingInfo {
  /** Severity the analyzer gives it by default (a possible finding is a warning). */
  readonly severity: Severity;
  /** Revisions it can occur in (failure-modes.md summary table). */
  readonly revisions: string;
  readonly provenance: FindingProvenance;
  /** One line: what it means. */
  readonly summary: string;
}

/** The catalogue, one entry per kind (docs/findings.md has the long form). */
export const FINDING_INFO: Readonly<Record<FindingKind, FindingInfo>> = {
  'placeholder-id-mismatch': { severity: 'error', revisions: 'legacy* (batch mode); any revision after a crossing', provenance: 'upstream-documented', summary: 'Rust means one value by an ID, JS stored that value elsewhere' },
  'freelist-divergence': { severity: 'error', revisions: 'legacy-freelist', provenance: 'upstream-documented', summary: 'the two free lists hand out different IDs for the same value' },
  'reservation-underfilled': { severity: 'error', revisions: 'reserved-count (from 19d5e63) .. seq-id; explicit-ids as a check', provenance: 'derived', summary: 'an R-Eval reserves more IDs than it has JsValue results' },
  'reservation-overfilled': { severity: 'error', revisions: 'reserved-count* .. seq-id; explicit-ids as a check', provenance: 'upstream-documented', summary: 'an R-Eval has more JsValue results than reserved IDs (JS throws)' },
  'crossed-in-flight': { severity: 'error', revisions: 'legacy* .. seq-id', provenance: 'derived', summary: 'the two sides saw two messages in a different order, and it matters' },
  'id-alias': { severity: 'error', revisions: 'seq-id; legacy* .. evaluate-id via crossings', provenance: 'upstream-documented', summary: 'two Rust values own the same heap ID' },
  'counter-drift': { severity: 'error', revisions: 'legacy* .. seq-id', provenance: 'generic', summary: 'with no exchange open, the two next-ID counters differ' },
  'misrouted-respond': { severity: 'error', revisions: 'id-less revisions up to reserved-count; by id in evaluate-id*, seq-id', provenance: 'upstream-documented', summary: 'a Respond answers an Evaluate other than the innermost open one' },
  'respond-shape-mismatch': { severity: 'error', revisions: 'all', provenance: 'upstream-documented', summary: 'a Respond decodes as the answer to another open exchange, not its own' },
  'respond-without-evaluate': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'a Respond with no open Evaluate to answer' },
  'unanswered-evaluate': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'an Evaluate that never got its Respond' },
  'lost-respond': { severity: 'error', revisions: 'legacy* .. reserved-count, seq-id', provenance: 'derived', summary: 'an R-Resp Rust sent never reached JS (the handler dropped it)' },
  'borrow-frame-unbalanced': { severity: 'error', revisions: 'all before the fork\'s try/finally fixes', provenance: 'derived', summary: 'a borrow frame pushed and never popped; the borrow stacks are out of step' },
  'borrow-ref-escaped': { severity: 'error', revisions: 'all before fork: 31799d7', provenance: 'upstream-documented', summary: 'a borrowed reference used after its callback returned' },
  'borrow-stack-overflow': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'more than 127 borrowed references alive' },
  'use-after-free': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'an ID used after JS freed it (one derived trigger)' },
  'unknown-heap-id': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'an ID JS never stored anything at' },
  'double-free': { severity: 'error', revisions: 'all', provenance: 'upstream-documented', summary: 'an ID dropped twice with no allocation in between' },
  'nested-encode-order': { severity: 'error', revisions: 'all with batching', provenance: 'derived', summary: 'an argument is a placeholder that a later op of the same R-Eval fills' },
  'install-mismatch': { severity: 'error', revisions: 'explicit-ids', provenance: 'derived', summary: 'an install list does not fit the deferred values JS is waiting with' },
  'reserved-id-occupied': { severity: 'error', revisions: 'explicit-ids', provenance: 'generic', summary: 'a reserved ID is still live in JS (JS throws)' },
  'id-reused-before-drop': { severity: 'error', revisions: 'explicit-ids', provenance: 'generic', summary: 'Rust hands out again an ID whose drop JS has not run yet' },
  'unknown-type-id': { severity: 'error', revisions: 'all; mostly before explicit-ids', provenance: 'upstream-documented', summary: 'TYPE_CACHED for a type JS has not parsed' },
  'type-redefined': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'a TYPE_FULL redefines a type ID with other bytes' },
  'unknown-callback': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'a callback key Rust does not have (never sent, or dropped)' },
  'unknown-call-kind': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'a J-Eval whose call kind is none of the three' },
  'invalid-header': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'the 12-byte header does not describe a frame' },
  'decode-error': { severity: 'error', revisions: 'all', provenance: 'generic', summary: 'a read past the end of a buffer' },
  'trailing-bytes': { severity: 'error', revisions: 'all (warning on R-Eval)', provenance: 'generic', summary: 'bytes left over after the message was read' },
  'non-ascii-string': { severity: 'info', revisions: 'all', provenance: 'derived', summary: 'a Rust→JS string JS will slice wrongly' },
  'bad-record': { severity: 'warning', revisions: 'all', provenance: 'analyzer', summary: 'a record that could not be read' },
  'records-lost': { severity: 'warning', revisions: 'all', provenance: 'analyzer', summary: 'a gap in a side\'s seq numbers' },
  'side-missing-record': { severity: 'warning', revisions: 'all (both sides recorded)', provenance: 'analyzer', summary: 'a message one side recorded and the other did not' },
  'side-bytes-differ': { severity: 'error', revisions: 'all (both sides recorded)', provenance: 'analyzer', summary: 'the two sides recorded different bytes for one message' },
  'js-heap-disagrees': { severity: 'error', revisions: 'all (with --js-heap)', provenance: 'analyzer', summary: 'the user\'s JS heap and the built-in model answer a call differently' },
  'leak-summary': { severity: 'info', revisions: 'all', provenance: 'analyzer', summary: 'objects alive at the end, grouped by the function that created them' },
};

/**
 * The findings of an analysis as a report reads them: what it counts and groups over every
 * finding (kind, severity, certainty, links, session), and any one finding in full. An
 * analysis of many sessions keeps its findings packed (replay/collector.ts); a table reads
 * one back only when it is asked for in full.
 */
export interface FindingTable {
  readonly length: number;
  /** Finding `i` in full. */
  at(i: number): Finding;
  kind(i: number): FindingKind;
  severity(i: number): Severity;
  certainty(i: number): Finding['certainty'];
  causedBy(i: number): number | undefined;
  consequences(i: number): number | undefined;
  /** The ctx of its location. */
  ctx(i: number): string | undefined;
}

/** A table over findings held in an array. */
export function findingTableOf(findings: readonly Finding[]): FindingTable {
  return {
    length: findings.length,
    at: (i) => findings[i]!,
    kind: (i) => findings[i]!.kind,
    severity: (i) => findings[i]!.severity,
    certainty: (i) => findings[i]!.certainty,
    causedBy: (i) => findings[i]!.causedBy,
    consequences: (i) => findings[i]!.consequences,
    ctx: (i) => findings[i]!.location.ctx,
  };
}
