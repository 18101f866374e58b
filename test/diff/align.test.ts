import { describe, expect, it } from 'vitest';
import { alignStreams, RESYNC_FACTOR, type Step } from '../../src/diff/align.js';
import { EMPTY_TPL, makeItem, TplBuilder, type Item } from '../../src/diff/items.js';
import { Namer, ValueModel } from '../../src/diff/model.js';
import type { Entry } from '../../src/diff/stream.js';
import { featuresOf } from '../../src/protocol/revisions.js';

/** A synthetic call: `label(args) -> ret`. */
function call(label: string, args = '', options: { ret?: string; depth?: number } = {}): Item {
  return makeItem({
    kind: 'op',
    depth: options.depth ?? 0,
    label,
    title: `op 1: ${label}`,
    params: '(u32)',
    ret: options.ret ?? '()',
    args: { text: [args], refs: [] },
    callee: EMPTY_TPL,
    result: EMPTY_TPL,
    status: 'done',
    creates: [],
    loc: { input: 'synthetic', message: 1 },
  });
}

function stream(items: Item[]): AsyncIterator<Entry> {
  async function* gen(): AsyncGenerator<Entry> {
    for (const [i, item] of items.entries()) {
      item.index = i;
      yield { type: 'item', item };
    }
  }
  return gen();
}

async function align(a: Item[], b: Item[], window = 1000): Promise<{ steps: Step[]; stats: Awaited<ReturnType<typeof alignStreams>>['stats'] }> {
  const steps: Step[] = [];
  const { stats } = await alignStreams(stream(a), stream(b), { window, exactIds: false }, { step: (s) => steps.push(s) });
  return { steps, stats };
}

const seq = (prefix: string, n: number, from = 0): Item[] => Array.from({ length: n }, (_, i) => call(`${prefix}${from + i}`, String(from + i)));
const types = (steps: Step[]): string => steps.map((s) => (s.type === 'same' ? '=' : s.type === 'changed' ? '~' : s.type === 'only-a' ? '-' : '+')).join('');

describe('diff aligner', () => {
  it('pairs equal heads without an alignment table', async () => {
    const { steps, stats } = await align(seq('f', 50), seq('f', 50));
    expect(types(steps)).toBe('='.repeat(50));
    expect(stats.tables).toBe(0);
  });

  it('a call with other arguments is changed; another function is removed and added', async () => {
    const a = [call('f', '1'), call('g', '2'), call('h', '3'), call('k', '4')];
    const b = [call('f', '1'), call('g', '9'), call('x', '3'), call('k', '4')];
    const { steps } = await align(a, b);
    expect(types(steps)).toBe('=~-+=');
    const changed = steps[1] as Extract<Step, { type: 'changed' }>;
    expect(changed.categories).toEqual(['arguments']);
  });

  it('classifies a changed return type', async () => {
    const { steps } = await align([call('f', '1', { ret: 'JsValue' })], [call('f', '1', { ret: '()' })]);
    expect(steps[0]).toMatchObject({ type: 'changed', categories: ['return-type'] });
  });

  it('nesting depth is part of what must match', async () => {
    const { steps } = await align([call('f', '1', { depth: 1 })], [call('f', '1', { depth: 2 })]);
    expect(types(steps)).toBe('-+');
  });

  it('an insertion longer than the window is resynchronised by the look-ahead', async () => {
    const W = 16;
    const a = seq('f', 200);
    const extra = seq('extra', 5 * W);
    const b = [...a.slice(0, 40).map((x) => call(x.label, renderArgs(x))), ...extra, ...a.slice(40).map((x) => call(x.label, renderArgs(x)))];
    const { steps, stats } = await align(a, b, W);
    expect(types(steps)).toBe('='.repeat(40) + '+'.repeat(5 * W) + '='.repeat(160));
    expect(stats.resyncs).toBeGreaterThan(0);
    expect(stats.blindSkips).toBe(0);
  });

  it('beyond the look-ahead it reports half windows as unaligned and still ends', async () => {
    const W = 8;
    const a = seq('f', 100);
    const b = seq('g', 300);
    const { steps, stats } = await align(a, b, W);
    expect(steps.filter((s) => s.type === 'only-a')).toHaveLength(100);
    expect(steps.filter((s) => s.type === 'only-b')).toHaveLength(300);
    expect(stats.blindSkips).toBeGreaterThan(0);
    expect(RESYNC_FACTOR * W).toBeLessThan(300);
  });

  it('the table stays within the window: a long run with scattered changes', async () => {
    const W = 32;
    const a = seq('f', 3000);
    const b = a.map((x, i) => (i % 100 === 50 ? call(x.label, 'changed') : call(x.label, renderArgs(x))));
    const { steps, stats } = await align(a, b, W);
    expect(steps.filter((s) => s.type === 'changed')).toHaveLength(30);
    expect(steps.filter((s) => s.type === 'same')).toHaveLength(2970);
    expect(stats.tables).toBeLessThanOrEqual(30);
  });

  it('references are compared by what they stand for, and values are paired by their creating calls', async () => {
    const features = featuresOf('reserved-count');
    const ma = new ValueModel(features, new Namer());
    const mb = new ValueModel(features, new Namer());
    const make = (m: ValueModel, label: string): Item => {
      const v = m.insert(`result of ${label}`);
      const r = new TplBuilder();
      r.at = 'result';
      r.ref(v, v.raw);
      return makeItem({ ...base(label), result: r.build(), ret: 'JsValue', creates: [v] });
    };
    const use = (m: ValueModel, raw: number): Item => {
      const b = new TplBuilder();
      b.at = 'argument 1';
      b.heapId(raw, (x) => m.resolve(x));
      return makeItem({ ...base('use'), args: b.build() });
    };
    // A: make x (#132), use #132. B: make extra (#132), make x (#133), use #133, then use #132 (the extra).
    const a = [make(ma, 'make'), use(ma, 132), use(ma, 132)];
    const b = [make(mb, 'other'), make(mb, 'make'), use(mb, 133), use(mb, 132)];
    const { steps } = await align(a, b);
    expect(types(steps)).toBe('+==~');
    const changed = steps[3] as Extract<Step, { type: 'changed' }>;
    expect(changed.categories).toEqual(['ids']);
    expect(changed.details[0]!.text).toBe("argument 1: A #v1 = #132 (result of make); B #v1 = #132 (result of other); A's #v1 is B's #v2 = #133");
  });
});

function renderArgs(it: Item): string {
  return it.args.text.join('');
}

function base(label: string): Parameters<typeof makeItem>[0] {
  return {
    kind: 'op',
    depth: 0,
    label,
    title: `op 1: ${label}`,
    params: '()',
    ret: '()',
    args: EMPTY_TPL,
    callee: EMPTY_TPL,
    result: EMPTY_TPL,
    status: 'done',
    creates: [],
    loc: { input: 'synthetic', message: 1 },
  };
}
