/**
 * Aligning two call streams with a bounded look-ahead window.
 *
 * While the heads of both streams are equal they are paired at once. At the first pair
 * that is not, the next `window` calls of each stream are aligned by a weighted longest
 * common subsequence (calls with the same kind, depth and function can pair; equal
 * content apart from IDs scores 3, equal types 2, same function only 1; unpaired calls
 * score 0), and the alignment is committed up to half the window on each side (everything,
 * at the end of a stream). Then the heads are compared again, and so on. Memory and time
 * per step are bounded by the window: a table of (window+1)² 32-bit cells.
 *
 * Beyond the window: if the two streams share no call within `window` calls of each
 * other, the first half of each window is reported as calls only in A and only in B,
 * and the aligner tries again from there (it resynchronises as soon as common calls
 * fall within one window).
 *
 * Pairing also establishes which value of A is which value of B: the values two paired
 * calls create are linked, so later references are compared by what they stand for, not
 * by name (an extra value in one run does not shift every later comparison).
 */
import type { Entry } from './stream.js';
import { renderRef, renderTpl, type Item, type RefSlot, type Release, type Tpl } from './items.js';
import type { Rec } from './model.js';

export const DEFAULT_WINDOW = 1000;
export const MIN_WINDOW = 8;
/** Unmatched releases kept per side; beyond, they are counted only. */
export const MAX_PENDING_RELEASES = 20_000;

export type Category = 'arguments' | 'return-type' | 'result' | 'ids';

export interface Detail {
  readonly category: Category;
  readonly text: string;
}

export type Step =
  | { readonly type: 'same'; readonly a: Item; readonly b: Item }
  | { readonly type: 'changed'; readonly a: Item; readonly b: Item; readonly categories: readonly Category[]; readonly details: readonly Detail[] }
  | { readonly type: 'only-a'; readonly a: Item }
  | { readonly type: 'only-b'; readonly b: Item };

/** A release one trace made and the other did not (or made fewer times). */
export interface UnmatchedRelease {
  readonly side: 'a' | 'b';
  readonly release: Release;
  /** The value or callback, as its own trace names it. */
  readonly what: string;
}

export interface AlignOptions {
  readonly window: number;
  readonly exactIds: boolean;
}

export interface AlignSink {
  step(s: Step): void;
}

export interface AlignStats {
  /** Alignment tables computed (each at most (window+1)² cells). */
  tables: number;
  /** Calls committed without a table (heads equal). */
  fastPairs: number;
  /** Releases that matched one of the other trace. */
  matchedReleases: number;
  /** Releases attributed to a call only one trace has (not reported separately). */
  orphanReleases: number;
  /** Unmatched releases counted but not kept (beyond MAX_PENDING_RELEASES). */
  droppedReleases: number;
  /** Windows with nothing in common, resynchronised by the look-ahead beyond the window. */
  resyncs: number;
  /** Windows with nothing in common even within RESYNC_FACTOR windows: half of each reported unaligned. */
  blindSkips: number;
}

// ---- comparing two paired calls ---------------------------------------------------------------

function sameText(a: Tpl, b: Tpl): boolean {
  if (a.text.length !== b.text.length) return false;
  for (let i = 0; i < a.text.length; i++) if (a.text[i] !== b.text[i]) return false;
  for (let i = 0; i < a.refs.length; i++) if (a.refs[i]!.rec.kind !== b.refs[i]!.rec.kind) return false;
  return true;
}

/** Called when a value of A and one of B are found to be the same value (releases waiting on them can match). */
type OnLink = (a: Rec, b: Rec) => void;

function link(x: Rec, y: Rec, onLink: OnLink | undefined): void {
  if (x.kind === 'heap' && y.kind === 'heap') {
    x.peer = y;
    y.peer = x;
  } else if (x.kind === 'cb' && y.kind === 'cb') {
    x.peer = y;
    y.peer = x;
  } else {
    return;
  }
  onLink?.(x, y);
}

/** Do two references stand for the same value? `commit` links two values neither run has paired yet. */
function sameRef(ra: RefSlot, rb: RefSlot, exact: boolean, commit: OnLink | false): boolean {
  const x = ra.rec;
  const y = rb.rec;
  if (x.kind !== y.kind) return false;
  if (exact) return ra.raw === rb.raw;
  if (x.peer || y.peer) return x.peer === y;
  if (x.unknown || y.unknown) return x.unknown && y.unknown && ra.raw === rb.raw;
  // Two values created by calls that did not pair (or not yet seen): take them as the same.
  if (commit) link(x, y, commit);
  return true;
}

function describeRec(r: RefSlot, exact: boolean): string {
  const rec = r.rec;
  const name = renderRef(r, exact);
  if (rec.unknown) {
    return rec.kind === 'heap' ? `${name}: JS had stored nothing under #${rec.raw} at that point` : `${name}: no op had sent callback key ${rec.raw}`;
  }
  const raw = rec.kind === 'heap' ? (rec.raw !== undefined ? ` = #${rec.raw}` : '') : ` = key ${rec.raw}`;
  return exact ? `${name} (${rec.kind === 'heap' ? `#${rec.name}` : `callback ${rec.name}`}, ${rec.origin})` : `${name}${raw} (${rec.origin})`;
}

function refDetail(ra: RefSlot, rb: RefSlot, exact: boolean): string {
  let text = `${ra.at || 'reference'}: A ${describeRec(ra, exact)}; B ${describeRec(rb, exact)}`;
  const counterpart = ra.rec.peer;
  if (!exact && counterpart && counterpart !== rb.rec) {
    const shown = counterpart.kind === 'heap' ? `#${counterpart.name}${counterpart.raw !== undefined ? ` = #${counterpart.raw}` : ''}` : `callback ${counterpart.name} = key ${counterpart.raw}`;
    text += `; A's ${renderRef(ra, false)} is B's ${shown}`;
  }
  return text;
}

function compareRefs(a: Tpl, b: Tpl, exact: boolean, commit: OnLink | false, details: Detail[] | undefined): boolean {
  let same = true;
  for (let i = 0; i < a.refs.length; i++) {
    if (!sameRef(a.refs[i]!, b.refs[i]!, exact, commit)) {
      same = false;
      if (!details) return false;
      details.push({ category: 'ids', text: refDetail(a.refs[i]!, b.refs[i]!, exact) });
    }
  }
  return same;
}

const STATUS_WORD = { done: 'returned', open: 'nested calls follow', 'no-answer': 'no answer', 'not-run': 'never ran' } as const;

/**
 * Compares two calls of the same kind, depth and function. With `details` it lists every
 * difference; without, it stops at the first. `commit` (a link listener) links the values
 * they create and unpaired values they use.
 */
export function compareItems(a: Item, b: Item, exact: boolean, commit: OnLink | false, details?: Detail[]): boolean {
  if (commit) {
    const n = Math.min(a.creates.length, b.creates.length);
    for (let i = 0; i < n; i++) {
      const x = a.creates[i]!;
      const y = b.creates[i]!;
      if (!x.peer && !y.peer) link(x, y, commit);
    }
  }
  let same = true;
  const fail = (category: Category, text: string): boolean => {
    same = false;
    details?.push({ category, text });
    return details !== undefined;
  };
  if (a.params !== b.params && !fail('arguments', `parameter types: A ${a.params}, B ${b.params}`)) return false;
  if (a.ret !== b.ret && !fail('return-type', `return type: A ${a.ret}, B ${b.ret}`)) return false;
  if (!sameText(a.callee, b.callee) || !sameText(a.args, b.args)) {
    if (!fail('arguments', `arguments: A (${renderTpl(a.args, exact)}), B (${renderTpl(b.args, exact)})`)) return false;
  } else {
    if (!compareRefs(a.callee, b.callee, exact, commit, details)) {
      same = false;
      if (!details) return false;
    }
    if (!compareRefs(a.args, b.args, exact, commit, details)) {
      same = false;
      if (!details) return false;
    }
  }
  if (a.status !== b.status) {
    if (!fail('result', `status: A ${STATUS_WORD[a.status]}, B ${STATUS_WORD[b.status]}`)) return false;
  } else if (!sameText(a.result, b.result)) {
    if (!fail('result', `result: A ${renderTpl(a.result, exact) || '()'}, B ${renderTpl(b.result, exact) || '()'}`)) return false;
  } else if (!compareRefs(a.result, b.result, exact, commit, details)) {
    same = false;
    if (!details) return false;
  }
  if (exact && (a.prelude ?? '') !== (b.prelude ?? '')) {
    if (!fail('ids', `R-Eval prelude: A [${a.prelude ?? 'none'}], B [${b.prelude ?? 'none'}]`)) return false;
  }
  return same;
}

function alignable(a: Item, b: Item): boolean {
  return a.alignKey === b.alignKey && a.kind === b.kind && a.depth === b.depth && a.label === b.label;
}

function score(a: Item, b: Item): number {
  if (!alignable(a, b)) return 0;
  if (a.maskKey === b.maskKey) return 3;
  return a.sigKey === b.sigKey ? 2 : 1;
}

/** Calls in a row that must be equal (apart from IDs) to resynchronise beyond the window. */
export const RESYNC_RUN = 3;
/** How far beyond the window (as a multiple of it) a resynchronisation point is searched. */
export const RESYNC_FACTOR = 8;

/**
 * The nearest point (fewest calls skipped on both sides together) where RESYNC_RUN calls in a
 * row are equal apart from IDs, within what the two streams have buffered.
 */
function findAnchor(A: Stream, B: Stream): { a: number; b: number } | undefined {
  const n = A.size;
  const m = B.size;
  const positions = new Map<number, number[]>();
  for (let j = 0; j < m; j++) {
    const key = B.at(j).maskKey;
    const list = positions.get(key);
    if (!list) positions.set(key, [j]);
    else if (list.length < 8) list.push(j);
  }
  const run = (k: number, j: number): boolean => {
    let t = 0;
    for (; t < RESYNC_RUN && k + t < n && j + t < m; t++) if (score(A.at(k + t), B.at(j + t)) !== 3) return false;
    // A shorter run only where both streams end.
    return t === RESYNC_RUN || (k + t === n && j + t === m && A.eof && B.eof);
  };
  let best: { a: number; b: number } | undefined;
  for (let k = 0; k < n; k++) {
    if (best && k >= best.a + best.b) break;
    for (const j of positions.get(A.at(k).maskKey) ?? []) {
      if (best && k + j >= best.a + best.b) break;
      if (run(k, j)) {
        best = { a: k, b: j };
        break;
      }
    }
  }
  return best;
}

// ---- the two streams --------------------------------------------------------------------------

class Stream {
  buf: Item[] = [];
  head = 0;
  eof = false;
  private tail: Item | undefined;
  private tailDone = true;
  constructor(
    private readonly it: AsyncIterator<Entry>,
    private readonly onRelease: (r: Release) => void,
  ) {}

  get size(): number {
    return this.buf.length - this.head;
  }
  at(i: number): Item {
    return this.buf[this.head + i]!;
  }
  async fill(n: number): Promise<void> {
    while (!this.eof && this.size < n) {
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        break;
      }
      const e = r.value;
      if (e.type === 'item') {
        this.buf.push(e.item);
        this.tail = e.item;
        this.tailDone = false;
      } else if (this.tail && !this.tailDone) {
        this.tail.releases.push(e.release);
      } else {
        this.onRelease(e.release);
      }
    }
  }
  /** Removes the head call; its releases are handed on. */
  take(): Item {
    const item = this.buf[this.head++]!;
    if (item === this.tail) this.tailDone = true;
    if (this.head > 4096 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** Unmatched releases of both sides, matched up as the other side catches up. */
class Releases {
  readonly pending = { a: new Map<Rec | string, Release[]>(), b: new Map<Rec | string, Release[]>() };
  private kept = { a: 0, b: 0 };
  constructor(
    private readonly stats: AlignStats,
    private readonly exact: boolean,
  ) {}

  add(side: 'a' | 'b', r: Release): void {
    const rec = r.rec;
    if (rec.orphan) {
      this.stats.orphanReleases++;
      return;
    }
    const other = side === 'a' ? 'b' : 'a';
    // By what the ID stands for; raw IDs when asked to (--exact-ids) or when it stands for nothing.
    const byRaw = this.exact || rec.unknown;
    const key: Rec | string = byRaw ? `${rec.kind}:${r.what}:${r.raw}` : rec;
    const otherKey: Rec | string | undefined = byRaw ? key : rec.peer;
    const waiting = otherKey !== undefined ? this.pending[other].get(otherKey) : undefined;
    if (waiting && waiting.length > 0) {
      const i = waiting.findIndex((w) => w.what === r.what);
      if (i >= 0) {
        waiting.splice(i, 1);
        this.kept[other]--;
        if (waiting.length === 0) this.pending[other].delete(otherKey!);
        this.stats.matchedReleases++;
        return;
      }
    }
    if (this.kept[side] >= MAX_PENDING_RELEASES) {
      this.stats.droppedReleases++;
      return;
    }
    const list = this.pending[side].get(key);
    if (list) list.push(r);
    else this.pending[side].set(key, [r]);
    this.kept[side]++;
  }

  /**
   * Two values were just paired: a release of either that was made before the pairing (a
   * native-ref drop JS sent while the op creating the callback was still running) can match now.
   */
  linked(x: Rec, y: Rec): void {
    if (this.exact) return;
    const la = this.pending.a.get(x);
    const lb = this.pending.b.get(y);
    if (!la || !lb) return;
    for (let i = la.length - 1; i >= 0; i--) {
      const j = lb.findIndex((r) => r.what === la[i]!.what);
      if (j < 0) continue;
      la.splice(i, 1);
      lb.splice(j, 1);
      this.kept.a--;
      this.kept.b--;
      this.stats.matchedReleases++;
    }
    if (la.length === 0) this.pending.a.delete(x);
    if (lb.length === 0) this.pending.b.delete(y);
  }

  unmatched(): UnmatchedRelease[] {
    const out: UnmatchedRelease[] = [];
    for (const side of ['a', 'b'] as const) {
      for (const list of this.pending[side].values()) {
        for (const release of list) {
          const rec = release.rec;
          if (rec.orphan) continue;
          const what = rec.kind === 'heap' ? (rec.unknown ? rec.name : `#${rec.name}`) : `callback ${rec.name}`;
          out.push({ side, release, what });
        }
      }
    }
    return out.sort((x, y) => (x.release.loc.line ?? x.release.loc.offset ?? 0) - (y.release.loc.line ?? y.release.loc.offset ?? 0));
  }
}

export interface AlignResult {
  readonly stats: AlignStats;
  readonly unmatchedReleases: UnmatchedRelease[];
}

/** Aligns the two call streams, handing every step to `sink` in order. */
export async function alignStreams(itA: AsyncIterator<Entry>, itB: AsyncIterator<Entry>, options: AlignOptions, sink: AlignSink): Promise<AlignResult> {
  const W = Math.max(MIN_WINDOW, options.window);
  const exact = options.exactIds;
  const stats: AlignStats = { tables: 0, fastPairs: 0, matchedReleases: 0, orphanReleases: 0, droppedReleases: 0, resyncs: 0, blindSkips: 0 };
  const releases = new Releases(stats, exact);
  const A = new Stream(itA, (r) => releases.add('a', r));
  const B = new Stream(itB, (r) => releases.add('b', r));
  let table = new Int32Array(0);

  const onLink: OnLink = (x, y) => releases.linked(x, y);
  const commitPair = (a: Item, b: Item): void => {
    const details: Detail[] = [];
    const same = compareItems(a, b, exact, onLink, details);
    if (same) sink.step({ type: 'same', a, b });
    else sink.step({ type: 'changed', a, b, categories: [...new Set(details.map((d) => d.category))], details });
    for (const r of a.releases) releases.add('a', r);
    for (const r of b.releases) releases.add('b', r);
  };
  const commitOnly = (side: 'a' | 'b', it: Item): void => {
    for (const rec of it.creates) if (!rec.peer) rec.orphan = true;
    sink.step(side === 'a' ? { type: 'only-a', a: it } : { type: 'only-b', b: it });
    for (const r of it.releases) releases.add(side, r);
  };

  for (;;) {
    if (A.size < W / 2) await A.fill(W);
    if (B.size < W / 2) await B.fill(W);
    if (A.size === 0 && B.size === 0) break;
    if (A.size === 0) {
      commitOnly('b', B.take());
      continue;
    }
    if (B.size === 0) {
      commitOnly('a', A.take());
      continue;
    }
    const a0 = A.at(0);
    const b0 = B.at(0);
    if (a0.maskKey === b0.maskKey && alignable(a0, b0) && compareItems(a0, b0, exact, false)) {
      stats.fastPairs++;
      commitPair(A.take(), B.take());
      continue;
    }
    // Align the windows.
    await A.fill(W);
    await B.fill(W);
    const n = A.size;
    const m = B.size;
    const cols = m + 1;
    if (table.length < (n + 1) * cols) table = new Int32Array((n + 1) * cols);
    const S = table;
    for (let j = 0; j <= m; j++) S[n * cols + j] = 0;
    for (let i = n - 1; i >= 0; i--) {
      const ai = A.at(i);
      const row = i * cols;
      const next = row + cols;
      S[row + m] = 0;
      for (let j = m - 1; j >= 0; j--) {
        let best = S[next + j]! > S[row + j + 1]! ? S[next + j]! : S[row + j + 1]!;
        const sc = score(ai, B.at(j));
        if (sc > 0 && sc + S[next + j + 1]! > best) best = sc + S[next + j + 1]!;
        S[row + j] = best;
      }
    }
    stats.tables++;
    // The optimal alignment, walked from the start up to half of each window (all of it at the
    // end of a stream): 0 = pair, 1 = only in A, 2 = only in B.
    const limA = A.eof ? n : Math.max(1, n >> 1);
    const limB = B.eof ? m : Math.max(1, m >> 1);
    const path: number[] = [];
    let strong = false;
    for (let i = 0, j = 0; (i < n || j < m) && i < limA && j < limB; ) {
      const here = S[i * cols + j]!;
      const sc = i < n && j < m ? score(A.at(i), B.at(j)) : 0;
      if (sc > 0 && here === sc + S[(i + 1) * cols + j + 1]!) {
        path.push(0);
        if (sc === 3) strong = true;
        i++;
        j++;
      } else if (i < n && (j >= m || here === S[(i + 1) * cols + j]!)) {
        path.push(1);
        i++;
      } else {
        path.push(2);
        j++;
      }
    }
    if (!strong && !(A.eof && B.eof)) {
      // Nothing really in common within the window: look further ahead for a run of equal
      // calls to resynchronise on.
      await A.fill(W * RESYNC_FACTOR);
      await B.fill(W * RESYNC_FACTOR);
      const anchor = findAnchor(A, B);
      if (anchor) {
        stats.resyncs++;
        for (let k = 0; k < anchor.a; k++) commitOnly('a', A.take());
        for (let k = 0; k < anchor.b; k++) commitOnly('b', B.take());
        continue;
      }
      if (S[0] === 0) {
        // No call of the window can pair: give up on the first half of each window.
        stats.blindSkips++;
        for (let k = 0; k < limA; k++) commitOnly('a', A.take());
        for (let k = 0; k < limB; k++) commitOnly('b', B.take());
        continue;
      }
    }
    for (const step of path) {
      if (step === 0) commitPair(A.take(), B.take());
      else if (step === 1) commitOnly('a', A.take());
      else commitOnly('b', B.take());
    }
    if (path.length === 0) commitOnly('a', A.take());
  }
  return { stats, unmatchedReleases: releases.unmatched() };
}
