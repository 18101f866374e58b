/**
 * Deterministic pseudo-random numbers for the simulator (mulberry32). The same seed
 * always gives the same sequence; nothing in the simulator uses Math.random or the
 * real clock.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Mix the seed so that small seeds (0, 1, 2, ...) give unrelated streams.
    this.state = (Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0;
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 0x1_0000_0000;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor(this.next() * n);
  }

  /** A uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    let total = 0;
    for (const k in weights) total += Math.max(0, weights[k]);
    let x = this.next() * total;
    let last: K | undefined;
    for (const k in weights) {
      const w = Math.max(0, weights[k]);
      if (w <= 0) continue;
      last = k;
      if (x < w) return k;
      x -= w;
    }
    if (last === undefined) throw new RangeError('no positive weight');
    return last;
  }

  /** A derived generator whose stream does not overlap this one's use. */
  fork(salt: number): Rng {
    return new Rng((this.nextU32() ^ Math.imul(salt, 0x27d4eb2f)) >>> 0);
  }
}
