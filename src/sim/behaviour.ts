/**
 * Runtime behaviour per revision that is not a wire-format feature (those live in
 * protocol/revisions.ts): how callbacks are keyed, which handler delivers messages, how
 * IDs are allocated, and the flush rules of run_js_sync. Sources: docs in
 * /work/shared/protocol (README §2, sessions §3/§8/§9, allocators §2-§7).
 */
import { featuresOf, type Revision, type RevisionFeatures } from '../protocol/revisions.js';

export type HandleScheme = 'slotmap' | 'counter' | 'slab';
export type HandlerKind = 'legacy' | 'evaluate-id' | 'seq-id' | 'explicit';

export interface SimBehaviour {
  readonly rev: Revision;
  readonly features: RevisionFeatures;
  /** Object handles for callbacks (allocators §2 "object handles"). */
  readonly handles: HandleScheme;
  /** Which UI-thread handler delivers messages (sessions §3). */
  readonly handler: HandlerKind;
  /** Rust's heap ids: LIFO free list read by allocation (legacy-freelist). */
  readonly freelist: boolean;
  /** Rust counts batched placeholders into the R-Eval prelude; JS keeps reservation scopes. */
  readonly reservationCount: boolean;
  /** JS writes the heap ids it chooses; Rust adopts them (seq-id). */
  readonly seqIds: boolean;
  /** Rust allocates every id; install and reserved lists (explicit-ids). */
  readonly explicit: boolean;
  /** First evaluate/seq id and whether 0 is skipped; undefined when the prelude has none. */
  readonly evalIdStart: number | undefined;
  readonly evalIdSkipsZero: boolean;
  /** evaluate-id-draft: a J-Resp whose id no waiting flush has is a panic (sessions §5). */
  readonly unknownIdPanics: boolean;
  /** An op with a stack-closure argument forces a flush while batching (from 19d5e63). */
  readonly stackClosureForcesFlush: boolean;
  /** explicit-ids: any Closure argument forces a flush (fork encode/callbacks.rs, mark_needs_flush). */
  readonly closureArgForcesFlush: boolean;
  /** explicit-ids: dropping an owned Closure emits dispose_rust_function before the heap drop. */
  readonly disposeOnClosureDrop: boolean;
  /** JS pops borrow frames and reservation scopes in `finally` blocks (fork try/finally fixes). */
  readonly jsFinally: boolean;
  /** JS throws on a HeapRef whose slot is empty (explicit-ids E-J7); earlier revisions read undefined. */
  readonly jsThrowsOnEmptySlot: boolean;
  /** Rust asserts that a J-Resp is fully consumed even for placeholder-typed results (fork run_js_sync). */
  readonly rustChecksPlaceholderResponds: boolean;
}

export function behaviourOf(rev: Revision): SimBehaviour {
  const features = featuresOf(rev);
  const explicit = rev === 'explicit-ids';
  const legacy = rev === 'legacy' || rev === 'legacy-freelist';
  return {
    rev,
    features,
    handles: legacy || rev === 'reserved-count-slotmap' ? 'slotmap' : explicit ? 'slab' : 'counter',
    handler: explicit ? 'explicit' : rev === 'seq-id' ? 'seq-id' : rev.startsWith('evaluate-id') ? 'evaluate-id' : 'legacy',
    freelist: rev === 'legacy-freelist',
    reservationCount: features.allocator === 'reservation-count',
    seqIds: features.jsWritesHeapIds,
    explicit,
    evalIdStart: features.evalPrelude === 'id-and-count' ? (rev === 'evaluate-id' ? 0 : 1) : undefined,
    evalIdSkipsZero: rev === 'evaluate-id-draft' || rev === 'seq-id',
    unknownIdPanics: rev === 'evaluate-id-draft',
    stackClosureForcesFlush: !legacy && rev !== 'reserved-count-slotmap',
    closureArgForcesFlush: explicit,
    disposeOnClosureDrop: explicit,
    jsFinally: explicit,
    jsThrowsOnEmptySlot: explicit,
    rustChecksPlaceholderResponds: explicit,
  };
}
