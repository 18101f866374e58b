import { describe, expect, it } from 'vitest';
import { PackedTexts } from '../../src/replay/packed-text.js';

describe('PackedTexts', () => {
  it('gives back each text by its number, whatever its characters', () => {
    const p = new PackedTexts();
    const texts = ['', 'ascii', 'ctx=naïve', '日本語 🎉', '{"kind":"id-alias"}'];
    const numbers = texts.map((t) => p.add(t));
    expect(numbers).toEqual([0, 1, 2, 3, 4]);
    expect(p.size).toBe(texts.length);
    expect(numbers.map((n) => p.get(n))).toEqual(texts);
  });

  it('spans blocks: texts that do not fit start a new block, a text longer than a block gets its own', () => {
    const p = new PackedTexts();
    const texts: string[] = [];
    for (let i = 0; i < 300; i++) texts.push(`${i}:` + 'é'.repeat(2000 + (i % 7)) + 'x'.repeat(i));
    texts.splice(150, 0, 'y'.repeat(3 << 20));
    const numbers = texts.map((t) => p.add(t));
    for (const [i, n] of numbers.entries()) expect(p.get(n)).toBe(texts[i]);
  });

  it('starts over when cleared', () => {
    const p = new PackedTexts();
    p.add('first');
    p.clear();
    expect(p.size).toBe(0);
    expect(p.get(p.add('second'))).toBe('second');
  });
});

describe('PackedTexts past its memory limit', () => {
  it('moves full blocks to a temporary file and reads them back from it', () => {
    const p = new PackedTexts(0);
    const texts: string[] = [];
    for (let i = 0; i < 2000; i++) texts.push(`{"n":${i},"text":"${'ü'.repeat(i % 900)}${'z'.repeat(700)}"}`);
    const numbers = texts.map((t) => p.add(t));
    expect(p.spilled).toBe(true);
    // Out of order, as the collector reads them.
    for (let i = numbers.length - 1; i >= 0; i -= 3) expect(p.get(numbers[i]!)).toBe(texts[i]);
    for (let i = 0; i < numbers.length; i += 7) expect(p.get(numbers[i]!)).toBe(texts[i]);
    p.clear();
    expect(p.spilled).toBe(false);
  });

  it('keeps everything in memory when no temporary file can be made', () => {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = '/nonexistent/bridge-trace-test';
    try {
      const p = new PackedTexts(0);
      const texts = Array.from({ length: 1500 }, (_, i) => `${i}:${'q'.repeat(1000)}`);
      const numbers = texts.map((t) => p.add(t));
      expect(p.spilled).toBe(false);
      for (const [i, n] of numbers.entries()) expect(p.get(n)).toBe(texts[i]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });

  it('keeps everything in memory below the limit', () => {
    const p = new PackedTexts();
    for (let i = 0; i < 100; i++) p.add('x'.repeat(10_000));
    expect(p.spilled).toBe(false);
  });
});
