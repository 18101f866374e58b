import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze, compileJsHeap, JsHeapLoadError } from '../../src/replay/index.js';
import { DEEP_NESTING } from '../fixtures/spec-examples.js';
import { kinds, show, trace, type Msg } from './helpers.js';

const here = (f: string): string => fileURLToPath(new URL(`./fixtures/${f}`, import.meta.url));
const R = DEEP_NESTING.reservedCount;
const deep: Msg[] = [
  ['r2j', R.M1], ['j2r', R.C1], ['r2j', R.M2], ['j2r', R.C2], ['r2j', R.M3], ['j2r', R.C3], ['r2j', R.M4],
  ['j2r', R.R4], ['r2j', R.RC3], ['j2r', R.R3], ['r2j', R.RC2], ['j2r', R.R2], ['r2j', R.RC1], ['j2r', R.R1],
];

describe('driving the user\'s own JS heap (jsHeap option)', () => {
  it('a correct heap.ts agrees with the model on every call: no findings, allocator "js-heap file"', async () => {
    const r = await analyze(trace('reserved-count', deep), { jsHeap: here('heap-ok.ts') });
    expect(r.findings, show(r)).toEqual([]);
    expect(r.sessions[0]!.allocator).toBe('js-heap file');
    expect(r.sessions[0]!.liveAtEnd.js).toBe(8);
  });

  it('a heap that does not skip reserved IDs: js-heap-disagrees first, then what it breaks', async () => {
    const r = await analyze(trace('reserved-count', deep), { jsHeap: here('heap-buggy.ts') });
    const root = r.findings[0]!;
    expect(root, show(r)).toMatchObject({ kind: 'js-heap-disagrees', severity: 'error', detail: { call: 'fillNextReserved' } });
    // M2's scope starts where M1's did (132), so cb2 is not at #136 in the file's heap.
    expect(root.message).toContain('the model fills #136');
    expect(root.consequences).toBeGreaterThan(3);
    expect(r.findings.slice(1).every((f) => f.causedBy === 0)).toBe(true);
    expect(kinds(r)).toContain('unknown-heap-id');
    expect(r.sessions[0]!.allocator).toBe('js-heap file');
  });

  it('the model is used when no heap is given', async () => {
    const r = await analyze(trace('reserved-count', deep));
    expect(r.sessions[0]!.allocator).toBe('model');
  });

  it('loads plain JavaScript with a createHeap factory and reports a heap without the needed methods', async () => {
    const js = await compileJsHeap(
      `export function createHeap() { const m = new Map(); let n = 132; return { insert(v) { m.set(n, v); return n++; }, get: (i) => m.get(i), remove(i) { const v = m.get(i); m.delete(i); return v; }, addBorrowedRef() { return 127; }, pushBorrowFrame() {}, popBorrowFrame() {} }; }`,
      'factory.js',
    );
    expect(typeof js().insert).toBe('function');
    await expect(compileJsHeap('export const x = 1;', 'empty.ts')).rejects.toBeInstanceOf(JsHeapLoadError);
    await expect(compileJsHeap('export class JSHeap { get() {} }', 'partial.ts')).rejects.toThrow(/lacks remove\(\)/);
  });
});
