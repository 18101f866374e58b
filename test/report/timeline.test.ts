import { describe, expect, it } from 'vitest';
import { analyze, type IdEvent, type ReplayStep } from '../../src/replay/index.js';
import { collectTimeline, OrdinalIndex, renderCsv, SeriesCollector, SERIES } from '../../src/report/timeline/index.js';
import { openTrace } from '../../src/trace/source.js';
import { runCli } from '../helpers/cli.js';

const SEED = 'traces/deep-nesting.legacy.batch.log';

function step(message: number, live: number, ctx?: string): ReplayStep {
  return {
    ctx,
    message,
    side: 'rust',
    kind: 'r-eval',
    depth: 1,
    rust: { live, nextId: 140, borrowPointer: 128, borrowFrames: 0 },
    js: { live, borrowPointer: 127, borrowFrames: 1, scopes: [{ reserved: 3, filled: 1 }] },
    readings: 1,
    t: message * 10,
  };
}

describe('timeline series', () => {
  it('downsamples by doubling the bucket width, keeping min, max and last', () => {
    const c = new SeriesCollector(new OrdinalIndex(), 100);
    for (let m = 1; m <= 1000; m++) c.step(step(m, m === 517 ? 999 : m % 7));
    const s = c.finish();
    expect(s.messages).toBe(1000);
    expect(s.width).toBe(16);
    expect(s.buckets.length).toBeLessThanOrEqual(100);
    expect(s.buckets.length).toBeGreaterThanOrEqual(50);
    const live = SERIES.findIndex((x) => x.key === 'rust_live');
    const spike = s.buckets.find((b) => b.from <= 517 && 517 <= b.to)!;
    expect(spike.max[live]).toBe(999);
    expect(spike.min[live]).toBe(0);
    expect(s.buckets.at(-1)!.last[live]).toBe(1000 % 7);
    expect(s.buckets[0]!.tMin).toBe(10);
    const borrow = SERIES.findIndex((x) => x.key === 'js_borrow');
    expect(s.buckets[0]!.max[borrow]).toBe(1);
    const csv = renderCsv(s).trimEnd().split('\n');
    expect(csv).toHaveLength(s.buckets.length + 1);
    // Buckets tile the axis.
    s.buckets.forEach((b, i) => expect(b.from).toBe(i * s.width + 1));
  });

  it('numbers the messages of interleaved sessions in trace order', () => {
    const o = new OrdinalIndex();
    expect(o.touch('a', 1)).toBe(1);
    expect(o.touch('a', 2)).toBe(2);
    expect(o.touch('b', 1)).toBe(3);
    expect(o.touch('a', 3)).toBe(4);
    expect(o.touch('a', 2)).toBe(2);
    expect(o.lookup('b', 1)).toBe(3);
    expect(o.lookup('a', 3)).toBe(4);
    expect(o.lookup('c', 1)).toBeUndefined();
  });
});

describe('collectTimeline and the onIdEvent hook', () => {
  it('the hooks change nothing in the analysis', async () => {
    const plain = await analyze(openTrace(SEED));
    const events: IdEvent[] = [];
    const hooked = await analyze(openTrace(SEED), { onIdEvent: (e) => events.push(e), onStep: () => undefined });
    expect(hooked.findings).toEqual(plain.findings);
    expect(hooked.sessions).toEqual(plain.sessions);
    const created = events.filter((e) => e.event === 'created');
    expect(created.filter((e) => e.side === 'rust')).toHaveLength(plain.sessions[0]!.heapIdsCreated.rust);
    expect(created.filter((e) => e.side === 'js')).toHaveLength(plain.sessions[0]!.heapIdsCreated.js);
    expect(events.filter((e) => e.event === 'freed')).toHaveLength(plain.sessions[0]!.heapIdsFreed.rust + plain.sessions[0]!.heapIdsFreed.js);
  });

  it('places the seed trace findings and lifetimes on the message axis', async () => {
    const data = await collectTimeline(openTrace(SEED), [SEED]);
    expect(data.series.messages).toBe(3);
    expect(data.series.width).toBe(1);
    expect(data.series.hasTime).toBe(true);
    const i = data.result.findings.findIndex((f) => f.kind === 'placeholder-id-mismatch');
    expect(data.findingX[i]).toBe(3);
    const lanes = data.lifetimes.groups.flatMap((g) => [...g.lanes.rust, ...g.lanes.js]);
    const r136 = lanes.find((l) => l.side === 'rust' && l.id === 136)!;
    expect(r136.createdBy).toContain('cast');
    expect(r136.endKind).toBe('alive');
    expect(lanes.find((l) => l.side === 'js' && l.id === 134)).toBeDefined();
  });
});

describe('bridge-trace timeline (CLI)', () => {
  it('writes CSV to stdout, and fails with exit 2 on usage errors and unreadable input', async () => {
    const csv = await runCli(['timeline', SEED, '-o', '-', '--format', 'csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout.split('\n')[0]).toMatch(/^bucket,msg_from,/);
    expect(csv.stdout.trimEnd().split('\n')).toHaveLength(4);
    expect((await runCli(['timeline', SEED])).code).toBe(2);
    const odd = await runCli(['timeline', SEED, '-o', '-', '--buckets', '7']);
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('--buckets');
    const missing = await runCli(['timeline', 'no-such-trace.log', '-o', '-']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no-such-trace.log');
  });
});
