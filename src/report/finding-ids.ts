import type { Finding } from '../replay/findings.js';

/**
 * Stable finding IDs: six hex digits hashed from what the finding is and where (kind, ctx,
 * side, seq, line or offset, op, message, IDs), not from its position in the list or the
 * input's path, so the same trace gives the same IDs whatever the filters or the directory
 * it is read from. Two findings with the same key get `.2`, `.3` in list order.
 */
export function findingIds(findings: Iterable<Finding>): string[] {
  const ids = new FindingIds();
  const out: string[] = [];
  for (const f of findings) out.push(ids.next(f));
  return out;
}

/** The IDs of findings given one at a time in list order (as `findingIds` gives them all). */
export class FindingIds {
  private readonly seen = new Map<string, number>();

  next(f: Finding): string {
    const l = f.location;
    const key = [f.kind, l.ctx ?? '', l.side ?? '', l.seq ?? '', l.line ?? '', l.offset ?? '', l.op ?? '', l.message ?? '', f.rustId ?? '', f.jsId ?? ''].join('|');
    const base = fnv1a(key).toString(16).padStart(8, '0').slice(0, 6);
    const n = (this.seen.get(base) ?? 0) + 1;
    this.seen.set(base, n);
    return n === 1 ? base : `${base}.${n}`;
  }
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
