import { describe, expect, it } from 'vitest';
import { jsonChunks, jsonDocument } from '../../src/report/json-chunks.js';

/** A small deterministic generator, so a failing case can be re-run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomValue(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.3) {
    const leaves = [0, -1.5, 1e21, 'a\nb "q" \u2028', '', true, false, null, undefined];
    return leaves[Math.floor(r() * leaves.length)];
  }
  if (pick < 0.65) {
    const big = r() >= 0.5;
    const n = big ? 60 + Math.floor(r() * 20) : Math.floor(r() * 4);
    // Elements of a big array nest little, so that the value stays small.
    return Array.from({ length: n }, () => randomValue(r, big ? Math.max(depth + 1, 3) : depth + 1));
  }
  const o: Record<string, unknown> = {};
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) o[`k${i}${r() < 0.2 ? '"\n' : ''}`] = randomValue(r, depth + 1);
  if (r() < 0.4) o.big = Array.from({ length: 70 }, (_, i) => (i % 7 === 0 ? { i, nested: [i, { x: undefined }] } : i));
  return o;
}

describe('jsonChunks', () => {
  it('gives the bytes of JSON.stringify(value, null, 2), whatever the value', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const v = randomValue(rng(seed), 0);
      if (v === undefined) continue; // not a document: JSON.stringify gives no text at all
      expect([...jsonChunks(v)].join(''), `seed ${seed}`).toBe(JSON.stringify(v, null, 2));
    }
  });

  it('writes a big array piecewise and ends a document with a newline', () => {
    const doc = { findings: Array.from({ length: 500 }, (_, i) => ({ id: i, message: `m${i}` })), empty: [], none: {} };
    const pieces = [...jsonDocument(doc)];
    expect(pieces.length).toBeGreaterThan(500);
    expect(pieces.join('')).toBe(JSON.stringify(doc, null, 2) + '\n');
  });
});
