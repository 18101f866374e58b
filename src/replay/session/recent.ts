/**
 * The last `capacity` items pushed, oldest first, in a fixed ring: pushing one more forgets
 * the oldest without moving the others (an array's shift would, on every step).
 */
export class RecentRing<T> {
  private readonly items: Array<T | undefined>;
  /** Index of the oldest item. */
  private start = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count < this.capacity) {
      this.items[(this.start + this.count) % this.capacity] = item;
      this.count++;
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.count = 0;
  }

  /** The oldest item that satisfies `test`. */
  find(test: (item: T) => boolean): T | undefined {
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.start + i) % this.capacity]!;
      if (test(item)) return item;
    }
    return undefined;
  }

  /** The newest item that satisfies `test`. */
  findLast(test: (item: T) => boolean): T | undefined {
    for (let i = this.count - 1; i >= 0; i--) {
      const item = this.items[(this.start + i) % this.capacity]!;
      if (test(item)) return item;
    }
    return undefined;
  }

  /** The items that satisfy `test`, oldest first. */
  filter(test: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.start + i) % this.capacity]!;
      if (test(item)) out.push(item);
    }
    return out;
  }
}
