import type { FindingLocation } from '../replay/findings.js';

/** `input:line` or `input@offset`, then side, seq and op: `log.txt:12 rust#5 op 3`. */
export function formatFindingLocation(l: FindingLocation): string {
  const where = l.line !== undefined ? `${l.input}:${l.line}` : l.offset !== undefined ? `${l.input}@${l.offset}` : l.input;
  const parts = [where];
  if (l.ctx !== undefined) parts.push(`ctx=${l.ctx}`);
  if (l.side !== undefined || l.seq !== undefined) parts.push(`${l.side ?? '?'}${l.seq !== undefined ? `#${l.seq}` : ''}`);
  if (l.op !== undefined) parts.push(`op ${l.op}`);
  return parts.join(' ');
}
