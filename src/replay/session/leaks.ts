/**
 * What is still alive at the end of a session: heap IDs grouped by the function that created
 * them, on each side, and whether the two sides disagree about it.
 */
import type { World } from '../replay.js';
import type { LeakGroup } from './summary.js';

/** Groups shown per side, and IDs shown per group. */
const MAX_GROUPS = 20;
const MAX_IDS = 8;

/** Live heap IDs by creating function, the largest groups first. */
export function leakGroups(w: World): { rust: LeakGroup[]; js: LeakGroup[] } {
  const js = function* (): Generator<[number, { fn: string }]> {
    for (const [id, v] of w.js.liveEntries()) yield [id, v.info];
  };
  return { rust: group(w.rust.liveEntries()), js: group(js()) };
}

function group(entries: Iterable<[number, { fn: string }]>): LeakGroup[] {
  const by = new Map<string, { count: number; ids: number[] }>();
  for (const [id, info] of entries) {
    const g = by.get(info.fn) ?? { count: 0, ids: [] };
    g.count++;
    if (g.ids.length < MAX_IDS) g.ids.push(id);
    by.set(info.fn, g);
  }
  return [...by].map(([fn, g]) => ({ fn, count: g.count, ids: g.ids })).sort((a, b) => b.count - a.count).slice(0, MAX_GROUPS);
}

/**
 * The leak-summary finding's text and detail: when some value is alive on one side only (or,
 * with `always`, whenever anything is alive at the end).
 */
export function leakSummary(w: World, always: boolean): { message: string; detail: Record<string, unknown> } | undefined {
  const rustKeys = new Set<string>();
  for (const [, info] of w.rust.liveEntries()) rustKeys.add(info.key);
  let onlyJs = 0;
  let both = 0;
  for (const [, v] of w.js.liveEntries()) {
    if (rustKeys.has(v.key)) both++;
    else onlyJs++;
  }
  const onlyRust = rustKeys.size - both;
  if (onlyJs === 0 && onlyRust === 0 && !(always && both > 0)) return undefined;
  const leaks = leakGroups(w);
  return {
    message: `at the end of the trace Rust holds ${w.rust.liveCount()} heap IDs and JS ${w.js.liveCount()}${onlyJs || onlyRust ? ` (${onlyJs} alive only in JS, ${onlyRust} only in Rust)` : ''}; created most by ${topCreators(leaks) || 'nothing'}`,
    detail: { rust: leaks.rust, js: leaks.js, onlyJs, onlyRust },
  };
}

function topCreators(leaks: { rust: LeakGroup[]; js: LeakGroup[] }): string {
  const by = new Map<string, { rust: number; js: number }>();
  for (const g of leaks.rust) by.set(g.fn, { rust: g.count, js: by.get(g.fn)?.js ?? 0 });
  for (const g of leaks.js) by.set(g.fn, { rust: by.get(g.fn)?.rust ?? 0, js: g.count });
  return [...by]
    .sort((a, b) => Math.max(b[1].rust, b[1].js) - Math.max(a[1].rust, a[1].js))
    .slice(0, 3)
    .map(([fn, n]) => `${fn} (Rust ${n.rust}, JS ${n.js})`)
    .join(', ');
}
