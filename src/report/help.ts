import type { FindingKind } from '../replay/findings.js';

/**
 * The `help:` line of a diagnostic: what usually causes a kind, in one sentence, and where
 * docs/findings.md explains it. The long form lives there; this is only the pointer.
 */
export const FINDING_HELP: Readonly<Record<FindingKind, string>> = {
  'placeholder-id-mismatch': 'usually batching across a nested callback: Rust numbered a placeholder before the callback allocated, JS after (legacy* in batch mode), or an earlier failure shifted one counter',
  'freelist-divergence': 'the two free lists are reused in a different order: Rust frees when it queues the drop, JS when it runs it (legacy-freelist)',
  'reservation-underfilled': 'a forced flush left a stale reserved count (more IDs reserved than JsValue-returning ops): JS leaves the extra IDs empty and its counter stays ahead of Rust\'s',
  'reservation-overfilled': 'more JsValue results than reserved IDs: a reserved count written too low, often around a stack callback that flushed the batch; JS throws and never answers',
  'crossed-in-flight': 'Rust and JS sent to each other at the same time (an evaluate_script while JS was in a synchronous XHR), so each side ran the two messages in its own order',
  'id-alias': 'JS picked an ID (seq-id) or the counters drifted after a crossing, so two Rust values now own one heap ID',
  'counter-drift': 'an earlier failure (an unfilled reservation, a lost or extra allocation) left the two next-ID counters apart; look for the first finding before it',
  'misrouted-respond': 'with no evaluate id, a J-Resp is routed to the innermost open R-Eval; a reply that crossed an inner exchange lands on the wrong one',
  'respond-shape-mismatch': 'the Respond answers a different exchange than the one it closes: a misrouted or reordered reply',
  'respond-without-evaluate': 'a Respond after its Evaluate was already answered, or a record of the Evaluate was lost',
  'unanswered-evaluate': 'the trace ends (or the session stops) inside an exchange: a hang, a panic or a JS exception on the other side, or a cut log',
  'lost-respond': 'the handler drops an R-Resp that arrives when no XHR is parked to carry it, so the callback\'s chain ends with a blank reply',
  'borrow-frame-unbalanced': 'an exception skipped popBorrowFrame, a panic skipped Rust\'s pop, or an exchange never completed',
  'borrow-ref-escaped': 'a &JsValue argument was kept (cloned or stored) beyond the callback that received it',
  'borrow-stack-overflow': 'deep recursion of callbacks with borrowed arguments, or frames never popped after exceptions',
  'use-after-free': 'a value dropped on the Rust side (drop_heap_ref) and still used: a JsValue returned or passed after its owner was dropped, or a shifted ID',
  'unknown-heap-id': 'an ID JS never filled: a reservation JS skipped, a counter that drifted, or a placeholder used before the op that fills it',
  'double-free': 'the same heap ID dropped twice: two owners of one ID after a divergence, or a drop that crossed a reuse of the slot',
  'nested-encode-order': 'encoding an argument called JS itself (an exported struct passed by value creates its wrapper first), so the outer op reads a placeholder its inner op fills later',
  'install-mismatch': 'the install list does not match what JS deferred: an op whose result Rust did not expect, or a lost message (explicit-ids)',
  'reserved-id-occupied': 'Rust reserved an ID whose previous value JS has not dropped yet: a release not flushed in order (explicit-ids)',
  'id-reused-before-drop': 'Rust handed out a released ID before the drop reached JS: the release and the reuse were not flushed in order (explicit-ids)',
  'unknown-type-id': 'a cached type used before JS parsed its TYPE_FULL: a nested exchange ran ahead of the op that defines it, or a new session reused the type cache',
  'type-redefined': 'two type definitions share one type ID: the type caches of two sessions or revisions were mixed',
  'unknown-callback': 'JS calls a callback Rust does not have: never sent, or released by a native-ref drop',
  'unknown-call-kind': 'a damaged record or a revision mismatch: check --rev',
  'invalid-header': 'a damaged record, a truncated log line, or a trace of another revision: check --rev',
  'decode-error': 'a damaged record, or the wrong revision for this trace: check --rev and the meta record',
  'trailing-bytes': 'the revision decodes fewer bytes than were sent: usually the wrong --rev, or a damaged record',
  'non-ascii-string': 'a string with non-ASCII bytes sent where the JS side slices by byte length',
  'bad-record': 'a damaged log line (cut, interleaved with other output, or bad base64), or a damaged binary frame',
  'records-lost': 'log lines dropped: a full buffer, an interleaved writer, or a log cut short',
  'side-missing-record': 'one side\'s log lost a line, or the two logs are of different runs',
  'side-bytes-differ': 'a damaged copy on one side, or the two logs are of different runs',
  'js-heap-disagrees': 'your heap implementation and the protocol\'s model differ on this call: check that method against docs/protocol.md',
  'leak-summary': 'values still alive at the end: expected for long-lived objects, a leak if it grows run after run',
};

/** The docs link of a kind (GitHub's anchor for the `### \`kind\`` heading). */
export function findingDocsLink(kind: FindingKind): string {
  return `docs/findings.md#${kind}`;
}
