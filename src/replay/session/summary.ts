/**
 * What a session tells the analysis about itself: its summary at the end, and a step of the
 * replay as it goes (for timelines and progress).
 */
import type { RevisionSource } from '../../protocol/stream.js';
import type { DecodedMessage } from '../../protocol/messages.js';
import type { Revision } from '../../protocol/revisions.js';
import type { MessageRecord, Side } from '../../trace/record.js';

/** Where the helper fn ids came from; `none`: no helper was needed or found. */
export type SessionHelperSource = 'meta' | 'symbols' | 'heuristic' | 'none';

/** One step of the replay, for timelines. Cheap: counters only. */
export interface ReplayStep {
  readonly ctx: string | undefined;
  /** Logical message number (1-based). */
  readonly message: number;
  /** Which model took the step. */
  readonly side: Side;
  readonly kind: DecodedMessage['kind'];
  /** Exchanges open around the message on that side. */
  readonly depth: number;
  readonly rust: { readonly live: number; readonly nextId: number; readonly borrowPointer: number; readonly borrowFrames: number };
  readonly js: {
    readonly live: number;
    readonly nextId?: number;
    readonly borrowPointer: number;
    readonly borrowFrames: number;
    readonly scopes: ReadonlyArray<{ readonly reserved: number; readonly filled: number }>;
  };
  /** Readings of the trace being followed at this point (allocators.md §4, §8). */
  readonly readings: number;
  /** The record's `t=` (microseconds), when it has one. */
  readonly t?: number;
  /** The record replayed (the side's own copy), so that a caller can number records by message. */
  readonly record?: MessageRecord;
}

export interface LeakGroup {
  readonly fn: string;
  readonly count: number;
  readonly ids: number[];
}

export interface SessionSummary {
  ctx: string | undefined;
  revision: Revision;
  /** `default`: no meta record, no --rev, and nothing in the bytes to guess from. */
  revisionSource: RevisionSource | 'default';
  helperSource: SessionHelperSource;
  allocator: 'model' | 'js-heap file';
  /** Which sides recorded this session. */
  sides: Array<Side | 'unknown'>;
  records: number;
  messages: number;
  ops: number;
  heapIdsCreated: { rust: number; js: number };
  heapIdsFreed: { rust: number; js: number };
  maxDepth: number;
  findingsByKind: Record<string, number>;
  liveAtEnd: { rust: number; js: number };
  leaks: { rust: LeakGroup[]; js: LeakGroup[] };
  /** Most readings followed at once, and whether some were not followed. */
  readings: { max: number; truncated: boolean };
  /** Messages the two sides saw in a different order without consequence (two-sided traces). */
  benignCrossings: number;
  /** Roots beyond the per-kind limit, by kind. */
  suppressed: Record<string, number>;
  /** The analyzer's own notes: revision guessed, heuristic helpers, ignored records. */
  notes: string[];
}
