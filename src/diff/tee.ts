/**
 * Two readers of one async stream, read once: each branch sees every element in order.
 * A branch that runs more than `limit` elements ahead of the other waits for it, so the
 * memory held is at most `limit` elements. An error of the source reaches both branches.
 */
export class Tee<T> {
  private readonly buf: T[] = [];
  /** Stream position of buf[0]. */
  private base = 0;
  private readonly cursors: number[];
  private readonly active: boolean[];
  private done = false;
  private error: { e: unknown } | undefined;
  private pulling: Promise<void> | undefined;
  private waiters: Array<() => void> = [];
  private readonly it: AsyncIterator<T>;

  constructor(source: AsyncIterable<T> | Iterable<T>, private readonly limit: number, branches = 2) {
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source[Symbol.iterator]());
    this.cursors = new Array<number>(branches).fill(0);
    this.active = new Array<boolean>(branches).fill(true);
  }

  branch(i: number): AsyncIterable<T> {
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T> => ({
        next: () => this.next(i),
        return: async (): Promise<IteratorResult<T>> => {
          this.abandon(i);
          return { done: true, value: undefined };
        },
      }),
    };
  }

  /** A branch that will read no more: the other is never held back by it. */
  abandon(i: number): void {
    if (!this.active[i]) return;
    this.active[i] = false;
    this.trim();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private trim(): void {
    let min = Infinity;
    for (let k = 0; k < this.cursors.length; k++) if (this.active[k]) min = Math.min(min, this.cursors[k]!);
    if (min === Infinity) min = this.base + this.buf.length;
    const drop = min - this.base;
    if (drop > 0) {
      this.buf.splice(0, drop);
      this.base = min;
    }
    this.wake();
  }

  private async next(i: number): Promise<IteratorResult<T>> {
    for (;;) {
      if (!this.active[i]) return { done: true, value: undefined };
      const pos = this.cursors[i]!;
      if (pos < this.base + this.buf.length) {
        const value = this.buf[pos - this.base]!;
        this.cursors[i] = pos + 1;
        this.trim();
        return { done: false, value };
      }
      if (this.error) throw this.error.e;
      if (this.done) return { done: true, value: undefined };
      if (this.buf.length >= this.limit) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (!this.pulling) {
        this.pulling = (async () => {
          try {
            const r = await this.it.next();
            if (r.done) this.done = true;
            else this.buf.push(r.value);
          } catch (e) {
            this.error = { e };
          } finally {
            this.pulling = undefined;
            this.wake();
          }
        })();
      }
      await this.pulling;
    }
  }
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return { next: async () => it.next() };
}
