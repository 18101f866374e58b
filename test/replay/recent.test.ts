import { describe, expect, it } from 'vitest';
import { RecentRing } from '../../src/replay/session/recent.js';

describe('RecentRing', () => {
  it('keeps the last items pushed, oldest first, and searches from either end', () => {
    const r = new RecentRing<number>(3);
    expect(r.find(() => true)).toBeUndefined();
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.size).toBe(3);
    expect(r.filter(() => true)).toEqual([3, 4, 5]);
    expect(r.find((x) => x > 3)).toBe(4);
    expect(r.findLast((x) => x < 5)).toBe(4);
    expect(r.findLast((x) => x < 3)).toBeUndefined();
    r.clear();
    expect(r.size).toBe(0);
    r.push(9);
    expect(r.filter(() => true)).toEqual([9]);
  });
});
