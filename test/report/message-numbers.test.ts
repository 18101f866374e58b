import { describe, expect, it } from 'vitest';
import { analyze, type AnalysisResult } from '../../src/replay/index.js';
import { collectTimeline } from '../../src/report/timeline/collect.js';
import { runSimulation, type GroundTruth, type SimulationOptions } from '../../src/sim/index.js';
import { openTrace } from '../../src/trace/source.js';
import { runCli } from '../helpers/cli.js';

/**
 * Message numbers of findings deep into long traces, checked against the simulator's ground
 * truth: the R-Eval JS recorded as its record #seq is the one Rust recorded as #rustSeq, and
 * Rust (which records every message, first) numbers its records like the conversation. So a
 * finding on an op of JS's record #seq must name msg rustSeq; and the first-divergence block
 * must be built around the root's own message, with both states taken after it.
 */

function evalBySeq(t: GroundTruth): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of t.evals) if (e.jsSeq !== undefined && e.rustSeq !== undefined) m.set(`${e.ctx ?? ''}|${e.jsSeq}`, e.rustSeq);
  return m;
}

async function run(o: SimulationOptions): Promise<{ sim: ReturnType<typeof runSimulation>; r: AnalysisResult }> {
  const sim = runSimulation(o);
  return { sim, r: await analyze(sim.records) };
}

function wrongNumbers(r: AnalysisResult, t: GroundTruth): { checked: number; wrong: string[] } {
  const bySeq = evalBySeq(t);
  const wrong: string[] = [];
  let checked = 0;
  for (const f of r.findings) {
    const l = f.location;
    if (l.side !== 'js' || l.seq === undefined || l.op === undefined || l.message === undefined) continue;
    const expected = bySeq.get(`${l.ctx ?? ''}|${l.seq}`);
    if (expected === undefined) continue;
    checked++;
    if (l.message !== expected) wrong.push(`${f.kind} at js#${l.seq} op ${l.op}: msg ${l.message}, truth msg ${expected}`);
  }
  return { checked, wrong };
}

describe('message numbers of findings deep into long traces', () => {
  it('848-message many-callbacks (legacy-freelist): the late double-free names its own message and where JS ran it', async () => {
    const { sim, r } = await run({ scenario: 'many-callbacks', revision: 'legacy-freelist', mode: 'batch', sides: 'both', size: 100 });
    expect(r.summary.messages).toBe(848);
    const { checked, wrong } = wrongNumbers(r, sim.truth);
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(3);
    const late = r.findings.find((f) => f.kind === 'double-free')!;
    const truthEvent = sim.truth.events.find((e) => e.kind === 'double-free')!;
    expect(late.location.seq).toBe(truthEvent.seq);
    // JS's record #607 is its copy of msg 7 (Rust's record #7): it reached JS after msg 600-odd.
    expect(late.location.message).toBe(sim.truth.evals.find((e) => e.jsSeq === late.location.seq)!.rustSeq);
    expect(late.location.ranAfter).toBeGreaterThan(600);
  });

  it('the timeline puts that marker where JS ran the message, not at the left edge', async () => {
    const sim = runSimulation({ scenario: 'many-callbacks', revision: 'legacy-freelist', mode: 'batch', sides: 'both', size: 100 });
    const data = await collectTimeline(sim.records, ['sim']);
    const i = data.result.findings.findIndex((f) => f.kind === 'double-free');
    expect(data.findingX[i]).toBeGreaterThan(600);
  });

  it('stress traces with faults: every R-Eval finding on the JS side names the message of its record', async () => {
    let total = 0;
    for (const [revision, faults] of [['reserved-count', ['callback-params-as-placeholders']], ['legacy', ['double-drop']], ['reserved-count', ['underfill']]] as const) {
      const { sim, r } = await run({ scenario: 'stress', revision, mode: 'batch', sides: 'both', size: 4000, seed: 5, faults: [...faults] });
      const { checked, wrong } = wrongNumbers(r, sim.truth);
      expect(wrong, `${revision} ${faults}`).toEqual([]);
      total += checked;
    }
    expect(total).toBeGreaterThan(20);
  });
});

describe('first divergence: the root\'s own message, its neighbours, both states after it', () => {
  const samples = [
    ['traces/many-callbacks.legacy-freelist.batch.log', 8],
    ['traces/fault.callback-params-as-placeholders.reserved-count.log', 71],
    ['traces/deep-nesting.legacy.batch.log', 3],
  ] as const;
  for (const [file, message] of samples) {
    it(`${file}: msg ${message}`, async () => {
      const r = await analyze(openTrace(file));
      const first = r.firstDivergence!;
      const root = r.findings[first.finding]!;
      expect(root.causedBy).toBeUndefined();
      expect(r.findings.findIndex((f) => f.causedBy === undefined && f.severity !== 'info')).toBe(first.finding);
      expect(root.location.message).toBe(message);
      expect(first.message).toBe(message);
      const nos = first.window.map((m) => m.message);
      expect(nos).toContain(message);
      expect(nos).toEqual([...nos].sort((a, b) => a - b));
      for (const n of nos) expect(Math.abs(n - message)).toBeLessThanOrEqual(3);
      expect(first.stateAfter).toEqual({ rust: message, js: message });
      // The Rust state is that after msg N: its innermost open exchange is at most N.
      for (const x of first.rustState.openExchanges) expect(x.message).toBeLessThanOrEqual(message);
      const text = (await runCli(['analyze', file])).stdout;
      expect(text).toContain(`first divergence: ${root.kind} at message ${message} (id `);
      expect(text).toMatch(new RegExp(`▶ msg ${message}\\s`));
      expect(text).toContain(`Rust model after msg ${message}:`);
    });
  }
});
