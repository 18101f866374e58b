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
