/**
 * A bounded map that forgets its oldest entries. It keeps two generations: entries go into the young one, and
 * when that holds `limit` entries the old generation is dropped whole and the young one takes its place. So it
 * always remembers at least the last `limit` entries set (at most twice that), and no operation walks the map:
 * evicting the first key of one Map on every insert costs time proportional to the deleted entries V8 keeps
 * until it rehashes.
 *
 * Each generation also holds one entry of its own, under a key no caller can pass (`KEEP`). V8 shrinks a Map's
 * table, a runtime call and a new table, whenever a delete leaves it with fewer entries than half its buckets:
 * a map that goes from one entry to none and back on every message (an intent set by Rust's step and taken by
 * JS's) would do that on every delete. The extra entry keeps such a map at its smallest table.
 */
const KEEP: unique symbol = Symbol('bounded-map.keep');

type Generation<K, V> = Map<K | typeof KEEP, V | undefined>;

/** Entries of a generation that are not callers': its `KEEP`. */
const OWN = 1;

function freshGeneration<K, V>(): Generation<K, V> {
  return new Map<K | typeof KEEP, V | undefined>([[KEEP, undefined]]);
}

export class BoundedMap<K, V> {
  private young: Generation<K, V> = freshGeneration();
  private old: Generation<K, V> = freshGeneration();
  constructor(private readonly limit: number) {}
  get(k: K): V | undefined {
    const v = this.young.get(k);
    return v !== undefined || this.young.has(k) ? v : this.old.get(k);
  }
  has(k: K): boolean {
    return this.young.has(k) || this.old.has(k);
  }
  set(k: K, v: V): void {
    this.old.delete(k);
    this.young.set(k, v);
    if (this.young.size - OWN >= this.limit) {
      this.old = this.young;
      this.young = freshGeneration();
    }
  }
  delete(k: K): void {
    // A key is in one generation at most (set takes it out of the old one).
    if (!this.young.delete(k)) this.old.delete(k);
  }
  get size(): number {
    return this.young.size + this.old.size - 2 * OWN;
  }
  /** Oldest first, as one Map would give them. */
  *entries(): IterableIterator<[K, V]> {
    for (const e of this.old) if (e[0] !== KEEP) yield e as [K, V];
    for (const e of this.young) if (e[0] !== KEEP) yield e as [K, V];
  }
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
  clone(): BoundedMap<K, V> {
    const c = new BoundedMap<K, V>(this.limit);
    // A copy keeps the generation's own entry with the rest.
    c.young = new Map(this.young);
    c.old = new Map(this.old);
    return c;
  }
}
