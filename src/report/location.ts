import type { FindingLocation } from '../replay/findings.js';

/**
 * `input:line` or `input@offset`, then side, seq and op: `log.txt:12 rust#5 op 3`; and, for a
 * copy that its side ran after a later message, which message it is and when it ran.
 */
export function formatFindingLocation(l: FindingLocation): string {
  const where = l.line !== undefined ? `${l.input}:${l.line}` : l.offset !== undefined ? `${l.input}@${l.offset}` : l.input;
  const parts = [where];
  if (l.ctx !== undefined) parts.push(`ctx=${l.ctx}`);
  if (l.side !== undefined || l.seq !== undefined) parts.push(`${l.side ?? '?'}${l.seq !== undefined ? `#${l.seq}` : ''}`);
  if (l.op !== undefined) parts.push(`op ${l.op}`);
  if (l.ranAfter !== undefined && l.message !== undefined) parts.push(`(msg ${l.message}, which ${l.side ?? 'this side'} ran after msg ${l.ranAfter})`);
  return parts.join(' ');
}
