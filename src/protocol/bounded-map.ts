/**
 * A bounded map that forgets its oldest entries. It keeps two generations: entries go into the young one, and
 * when that holds `limit` entries the old generation is dropped whole and the young one takes its place. So it
 * always remembers at least the last `limit` entries set (at most twice that), and no operation walks the map:
 * evicting the first key of one Map on every insert costs time proportional to the deleted entries V8 keeps
 * until it rehashes.
 */
export class BoundedMap<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
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
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
  }
  delete(k: K): void {
    // A key is in one generation at most (set takes it out of the old one).
    if (!this.young.delete(k)) this.old.delete(k);
  }
  get size(): number {
    return this.young.size + this.old.size;
  }
  /** Oldest first, as one Map would give them. */
  *entries(): IterableIterator<[K, V]> {
    yield* this.old.entries();
    yield* this.young.entries();
  }
  *values(): IterableIterator<V> {
    yield* this.old.values();
    yield* this.young.values();
  }
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
  clone(): BoundedMap<K, V> {
    const c = new BoundedMap<K, V>(this.limit);
    c.young = new Map(this.young);
    c.old = new Map(this.old);
    return c;
  }
}
