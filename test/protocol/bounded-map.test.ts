import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/protocol/bounded-map.js';

describe('BoundedMap', () => {
  it('reads, counts and lists only what was set, never its own entry', () => {
    const m = new BoundedMap<number, string>(4);
    expect(m.size).toBe(0);
    expect([...m]).toEqual([]);
    m.set(1, 'a');
    m.set(2, 'b');
    expect(m.size).toBe(2);
    expect(m.get(1)).toBe('a');
    expect(m.has(2)).toBe(true);
    expect(m.has(3)).toBe(false);
    m.delete(1);
    m.delete(2);
    // Emptied by deletes, as an intent map is after every message.
    expect(m.size).toBe(0);
    expect([...m.entries()]).toEqual([]);
    expect([...m.values()]).toEqual([]);
    m.set(3, 'c');
    expect([...m]).toEqual([[3, 'c']]);
  });

  it('keeps at least the last `limit` entries set, oldest first, and forgets a whole generation at once', () => {
    const m = new BoundedMap<number, number>(3);
    for (let k = 1; k <= 3; k++) m.set(k, k * 10);
    // The young generation filled up: it became the old one, still readable.
    expect([...m.values()]).toEqual([10, 20, 30]);
    for (let k = 4; k <= 5; k++) m.set(k, k * 10);
    expect(m.size).toBe(5);
    expect([...m.entries()].map(([k]) => k)).toEqual([1, 2, 3, 4, 5]);
    m.set(6, 60);
    // 4..6 filled the young generation: 1..3 are forgotten together.
    expect(m.has(1)).toBe(false);
    expect(m.get(3)).toBeUndefined();
    expect([...m].map(([k]) => k)).toEqual([4, 5, 6]);
  });

  it('moves a key set again to the young generation, and deletes from either', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1);
    m.set('b', 2);
    m.set('a', 3);
    expect([...m]).toEqual([
      ['b', 2],
      ['a', 3],
    ]);
    m.delete('b');
    expect(m.has('b')).toBe(false);
    expect(m.size).toBe(1);
    m.delete('a');
    expect(m.size).toBe(0);
  });

  it('keeps an undefined value apart from an absent key', () => {
    const m = new BoundedMap<number, string | undefined>(8);
    m.set(1, undefined);
    expect(m.has(1)).toBe(true);
    expect(m.get(1)).toBeUndefined();
    expect(m.size).toBe(1);
  });

  it('clones into an independent map with the same entries and generations', () => {
    const m = new BoundedMap<number, number>(2);
    m.set(1, 1);
    m.set(2, 2);
    m.set(3, 3);
    const c = m.clone();
    c.set(4, 4);
    c.delete(3);
    expect([...m]).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    // 3 and 4 filled the clone's young generation, so 1 and 2 went; 3 was deleted after.
    expect([...c]).toEqual([[4, 4]]);
    expect(c.size).toBe(1);
    expect(m.size).toBe(3);
  });
});
