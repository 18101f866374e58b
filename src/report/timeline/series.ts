/**
 * The timeline's series: per-message counters of the replay (`onStep`), downsampled into
 * a bounded number of buckets so a report of any trace stays the same size.
 *
 * The x axis is the message ordinal: messages numbered in the order the replay first met
 * them, over all sessions (1, 2, 3, ...). Buckets cover `width` consecutive ordinals; the
 * width starts at 1 and doubles (neighbouring buckets merged pairwise) whenever the trace
 * would need more than `maxBuckets` of them. Each bucket keeps, per series, the minimum,
 * the maximum and the last value of the steps it covers, and the range of `t=` it saw.
 */
import { JSIDX_OFFSET } from '../../protocol/messages.js';
import type { ReplayStep } from '../../replay/index.js';

/** The series of a timeline, in CSV column order. */
export const SERIES = [
  { key: 'rust_live', label: 'Rust live heap IDs' },
  { key: 'js_live', label: 'JS live heap objects' },
  { key: 'scopes_open', label: 'reservation scopes open (JS)' },
  { key: 'scope_reserved', label: 'IDs reserved in open scopes' },
  { key: 'scope_filled', label: 'reserved IDs filled' },
  { key: 'rust_borrow', label: 'Rust borrow stack depth' },
  { key: 'js_borrow', label: 'JS borrow stack depth' },
  { key: 'depth', label: 'conversation nesting depth' },
] as const;

export type SeriesKey = (typeof SERIES)[number]['key'];
export const SERIES_COUNT = SERIES.length;
const IDX = Object.fromEntries(SERIES.map((s, i) => [s.key, i])) as Record<SeriesKey, number>;

/** The borrow pointer starts at JSIDX_OFFSET and moves down one slot per borrowed reference. */
const BORROW_TOP = JSIDX_OFFSET;

export interface Bucket {
  /** First and last message ordinal covered (inclusive). */
  from: number;
  to: number;
  /** Replay steps that fell in it (one per side per message). */
  steps: number;
  tMin?: number;
  tMax?: number;
  min: number[];
  max: number[];
  last: number[];
}

export interface SeriesData {
  /** Messages per bucket (1: not downsampled). */
  width: number;
  maxBuckets: number;
  /** Message ordinals seen. */
  messages: number;
  steps: number;
  hasTime: boolean;
  buckets: Bucket[];
}

/**
 * Maps (session, message number) to the message ordinal. Sessions' messages mostly come
 * in runs, so it stores runs, not messages.
 */
export class OrdinalIndex {
  private runs = new Map<string, number[]>(); // flat triples: message, ordinal, length
  private maxSeen = new Map<string, number>();
  count = 0;

  /** The ordinal of a message, numbering it if it is new. */
  touch(ctx: string | undefined, message: number): number {
    const key = ctx ?? '\u0000';
    const seen = this.maxSeen.get(key) ?? 0;
    if (message <= seen) return this.lookup(ctx, message) ?? this.count;
    this.maxSeen.set(key, message);
    const ord = ++this.count;
    let r = this.runs.get(key);
    if (!r) this.runs.set(key, (r = []));
    const n = r.length;
    if (n >= 3 && r[n - 3]! + r[n - 1]! === message && r[n - 2]! + r[n - 1]! === ord) r[n - 1]!++;
    else r.push(message, ord, 1);
    return ord;
  }

  lookup(ctx: string | undefined, message: number): number | undefined {
    const r = this.runs.get(ctx ?? '\u0000');
    if (!r) return undefined;
    let lo = 0;
    let hi = r.length / 3 - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (r[mid * 3]! <= message) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const [m, o, len] = [r[best * 3]!, r[best * 3 + 1]!, r[best * 3 + 2]!];
    return message < m + len ? o + (message - m) : o + len - 1;
  }
}

export class SeriesCollector {
  private width = 1;
  private buckets: Bucket[] = [];
  private steps = 0;
  private hasTime = false;
  private readonly values = new Array<number>(SERIES_COUNT).fill(0);
  /** Each session side's latest message replayed (two entries per session). */
  private readonly lastBySide = new Map<string, number>();

  constructor(
    readonly ordinals: OrdinalIndex,
    private readonly maxBuckets = 600,
  ) {
    if (maxBuckets < 2 || maxBuckets % 2 !== 0) throw new RangeError('maxBuckets must be an even number >= 2');
  }

  step(s: ReplayStep): void {
    let ord = this.ordinals.touch(s.ctx, s.message);
    // A side that replays a message after a later one (crossed, or delivered late) does so
    // where that side is now: draw it there, not back at the message's first ordinal.
    const key = `${s.ctx ?? ''}\u0000${s.side}`;
    const last = this.lastBySide.get(key);
    if (last !== undefined && last > s.message) ord = Math.max(ord, this.ordinals.lookup(s.ctx, last) ?? ord);
    else this.lastBySide.set(key, s.message);
    this.steps++;
    const v = this.values;
    // Both models report at every step; the counters are those after it.
    v[IDX.rust_live] = s.rust.live;
    v[IDX.js_live] = s.js.live;
    let reserved = 0;
    let filled = 0;
    for (const sc of s.js.scopes) {
      reserved += sc.reserved;
      filled += sc.filled;
    }
    v[IDX.scopes_open] = s.js.scopes.length;
    v[IDX.scope_reserved] = reserved;
    v[IDX.scope_filled] = filled;
    v[IDX.rust_borrow] = Math.max(0, BORROW_TOP - s.rust.borrowPointer);
    v[IDX.js_borrow] = Math.max(0, BORROW_TOP - s.js.borrowPointer);
    v[IDX.depth] = s.depth;
    let i = Math.floor((ord - 1) / this.width);
    while (i >= this.maxBuckets) {
      this.halve();
      i = Math.floor((ord - 1) / this.width);
    }
    let b = this.buckets[i];
    if (!b) {
      // A bucket opens with the values carried over, so a quiet stretch draws flat.
      const start = i * this.width + 1;
      b = { from: start, to: ord, steps: 0, min: [...v], max: [...v], last: [...v] };
      while (this.buckets.length < i) this.buckets.push(this.carry(this.buckets.length));
      this.buckets[i] = b;
    }
    b.to = Math.max(b.to, ord);
    b.steps++;
    for (let k = 0; k < SERIES_COUNT; k++) {
      const x = v[k]!;
      if (x < b.min[k]!) b.min[k] = x;
      if (x > b.max[k]!) b.max[k] = x;
      b.last[k] = x;
    }
    if (s.t !== undefined) {
      this.hasTime = true;
      if (b.tMin === undefined || s.t < b.tMin) b.tMin = s.t;
      if (b.tMax === undefined || s.t > b.tMax) b.tMax = s.t;
    }
  }

  private carry(i: number): Bucket {
    const prev = this.buckets[i - 1];
    const v = prev ? prev.last : this.values;
    return { from: i * this.width + 1, to: (i + 1) * this.width, steps: 0, min: [...v], max: [...v], last: [...v] };
  }

  private halve(): void {
    const out: Bucket[] = [];
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i]!;
      const b = this.buckets[i + 1];
      if (!b) {
        out.push(a);
        continue;
      }
      const m: Bucket = {
        from: a.from,
        to: b.to,
        steps: a.steps + b.steps,
        min: a.min.map((x, k) => Math.min(x, b.min[k]!)),
        max: a.max.map((x, k) => Math.max(x, b.max[k]!)),
        last: b.steps > 0 ? b.last : a.last,
      };
      const tMin = minDef(a.tMin, b.tMin);
      const tMax = maxDef(a.tMax, b.tMax);
      if (tMin !== undefined) m.tMin = tMin;
      if (tMax !== undefined) m.tMax = tMax;
      out.push(m);
    }
    this.buckets = out;
    this.width *= 2;
  }

  finish(): SeriesData {
    return { width: this.width, maxBuckets: this.maxBuckets, messages: this.ordinals.count, steps: this.steps, hasTime: this.hasTime, buckets: this.buckets };
  }
}

function minDef(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}
function maxDef(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

export function seriesIndex(key: SeriesKey): number {
  return IDX[key];
}
