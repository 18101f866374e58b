/**
 * Small containers used by the Rust peer: the callback registry under each revision's
 * object-handle scheme (allocators §2), and a min-heap for "lowest free id first".
 */
import type { HandleScheme } from './behaviour.js';
import type { CallbackBody } from './model.js';
import type { CallbackType } from '../protocol/types.js';

export interface RegisteredCallback {
  readonly type: CallbackType;
  readonly body: CallbackBody;
  readonly name: string;
  /** A stack closure (`&dyn Fn`), removed when the op that passed it finishes. */
  readonly stack: boolean;
}

/** Ascending priority queue of integers. */
export class MinHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  push(x: number): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= x) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = x;
  }

  pop(): number | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const r = l + 1;
        const c = r < a.length && a[r]! < a[l]! ? r : l;
        if (a[c]! >= last) break;
        a[i] = a[c]!;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

const VERSION_UNIT = 0x1_0000_0000;

/**
 * Callback keys: slotmap keys (index from 1, version in the high word, odd while occupied,
 * freed indices reused LIFO with a new version), a u32 counter from 0 never reused, or a
 * slab from 1 reusing the lowest freed handle.
 */
export class CallbackRegistry {
  private readonly byKey = new Map<number, RegisteredCallback>();
  // slotmap
  private readonly versions: number[] = [0];
  private readonly freeIndices: number[] = [];
  // counter
  private counter = 0;
  // slab
  private slabNext = 1;
  private readonly slabFree = new MinHeap();

  constructor(readonly scheme: HandleScheme) {}

  get size(): number {
    return this.byKey.size;
  }

  insert(cb: RegisteredCallback): number {
    let key: number;
    switch (this.scheme) {
      case 'slotmap': {
        let index = this.freeIndices.pop();
        if (index === undefined) {
          index = this.versions.length;
          this.versions.push(1);
        } else {
          this.versions[index] = this.versions[index]! + 1;
        }
        key = this.versions[index]! * VERSION_UNIT + index;
        break;
      }
      case 'counter':
        key = this.counter;
        this.counter = (this.counter + 1) >>> 0;
        break;
      case 'slab':
        key = this.slabFree.pop() ?? this.slabNext++;
        break;
    }
    this.byKey.set(key, cb);
    return key;
  }

  get(key: number): RegisteredCallback | undefined {
    return this.byKey.get(key);
  }

  remove(key: number): RegisteredCallback | undefined {
    const cb = this.byKey.get(key);
    if (!cb) return undefined;
    this.byKey.delete(key);
    switch (this.scheme) {
      case 'slotmap': {
        const index = key % VERSION_UNIT;
        this.versions[index] = this.versions[index]! + 1;
        this.freeIndices.push(index);
        break;
      }
      case 'counter':
        break;
      case 'slab':
        this.slabFree.push(key);
        break;
    }
    return cb;
  }
}
