import type { MessageRecord } from '../trace/record.js';
import { ConversationDecoder } from './decoder.js';
import type { Revision } from './revisions.js';

/**
 * Layout families in the order they are preferred when several decode a trace equally
 * well: the order of what users run. Revisions with byte-identical wire formats
 * (`legacy-freelist` vs `legacy`) cannot be told apart from bytes; the preferred one wins.
 */
const PREFERENCE: readonly Revision[] = [
  'reserved-count',
  'explicit-ids',
  'legacy',
  'evaluate-id',
  'reserved-count-slotmap',
  'seq-id',
  'evaluate-id-draft',
  'legacy-freelist',
];

export interface RevisionGuess {
  readonly rev: Revision;
  /** Revisions that decoded the sample equally well, best first. */
  readonly tied: readonly Revision[];
  /** Decode problems of the winner on the sample. */
  readonly problems: number;
  readonly sampled: number;
  readonly reason: string;
}

/** How many messages of a conversation detection looks at. */
export const DETECTION_SAMPLE = 200;

/**
 * Guesses the revision of an unlabelled conversation: decode the first messages under every
 * layout and keep the one that consumes them exactly (wire §5 heuristics). Later messages
 * (J-Evals' key width, J-Resp id words, R-Resp prelude) break ties between layouts whose
 * first R-Eval looks the same.
 */
export function detectRevision(sample: readonly MessageRecord[]): RevisionGuess | undefined {
  const messages = sample.slice(0, DETECTION_SAMPLE);
  if (!messages.some((m) => m.dir === 'r2j')) return undefined;
  const scores = PREFERENCE.map((rev) => {
    const d = new ConversationDecoder(rev);
    let problems = 0;
    for (const m of messages) {
      const decoded = d.decode(m);
      for (const issue of decoded.issues) {
        if (issue.kind === 'non-ascii-string' || issue.kind === 'unanswered-evaluate') continue;
        problems += issue.fatal || issue.kind === 'trailing-bytes' ? 10 : 1;
      }
    }
    return { rev, problems };
  });
  const best = Math.min(...scores.map((s) => s.problems));
  let tied = scores.filter((s) => s.problems === best).map((s) => s.rev);
  // From 5f18264 evaluate-id numbers R-Evals from 0; the draft and seq-id start at 1.
  const firstEval = messages.find((m) => m.dir === 'r2j');
  if (firstEval && tied.includes('evaluate-id') && firstEval.data.length >= 16) {
    const firstId = new DataView(firstEval.data.buffer, firstEval.data.byteOffset).getUint32(12, true);
    if (firstId !== 0) tied = [...tied.filter((r) => r !== 'evaluate-id'), 'evaluate-id'];
  }
  const rev = tied[0]!;
  return {
    rev,
    tied,
    problems: best,
    sampled: messages.length,
    reason:
      best === 0
        ? `the first ${messages.length} messages decode exactly under ${tied.join(', ')}`
        : `no layout decodes the first ${messages.length} messages exactly; ${rev} has the fewest problems (${best})`,
  };
}
