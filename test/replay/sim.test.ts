/**
 * The simulator (src/sim) runs both peers and knows the truth: which ID each side really
 * gave every value. Here its traces go through `analyze` and the findings are compared
 * with that truth.
 *
 * Not compared, because a replay of the wire cannot see them:
 * - fault `underfill` (JS leaves a reserved slot empty and inserts instead: JS-internal, the
 *   bytes are those of a correct run; this is what the `jsHeap` option is for);
 * - fault `double-drop` in explicit-ids (Rust's slab panics before anything is sent);
 * - JS-only recordings of legacy-freelist drift (Rust's free-list order is not recorded: the
 *   replay reports the double frees JS sees instead of the first mismatched ID);
 * - one-sided `lost-record` runs are compared separately: everything after the gap is reported
 *   as a consequence of `records-lost`.
 */
import { describe, expect, it } from 'vitest';
import { REVISIONS, type Revision } from '../../src/protocol/revisions.js';
import { analyze, type AnalysisResult } from '../../src/replay/index.js';
import { FAULTS, MODES, SCENARIOS, runSimulation, type GroundTruth, type SimulationOptions } from '../../src/sim/index.js';

function truthBad(t: GroundTruth): boolean {
  const events = Object.keys(t.eventCounts).filter((k) => k !== 'fault' && k !== 'lost-record');
  return t.mismatchCount > 0 || t.underfilledEvals > 0 || t.overfilledEvals > 0 || events.length > 0;
}

/** Findings that say the two sides disagree (a set-aside Respond alone is only a hazard). */
function detected(r: AnalysisResult): boolean {
  return r.findings.some(
    (f) =>
      f.severity !== 'info' &&
      f.kind !== 'records-lost' &&
      f.kind !== 'bad-record' &&
      !(f.kind === 'side-missing-record' && f.detail?.restored) &&
      !(f.kind === 'misrouted-respond' && f.severity === 'warning' && !f.consequences),
  );
}

async function compare(o: SimulationOptions): Promise<{ t: GroundTruth; r: AnalysisResult; label: string }> {
  const sim = runSimulation(o);
  const r = await analyze(sim.records);
  return { t: sim.truth, r, label: `${o.scenario} ${o.revision} ${o.mode} ${o.sides}${o.faults?.length ? ` [${o.faults}]` : ''}${o.seed ? ` seed ${o.seed}` : ''}` };
}

const SIDES = ['both', 'rust', 'js'] as const;

describe('simulator scenarios against their ground truth', () => {
  it('every scenario, revision, mode and recorded side: findings exactly when the truth has a problem', async () => {
    const wrong: string[] = [];
    for (const s of SCENARIOS) {
      if (s.name === 'stress' || s.name === 'timer-race') continue;
      for (const revision of REVISIONS) {
        for (const mode of MODES) {
          for (const sides of SIDES) {
            const { t, r, label } = await compare({ scenario: s.name, revision, mode, sides });
            if (truthBad(t) !== detected(r)) wrong.push(`${label}: truth ${truthBad(t) ? 'has a problem' : 'is clean'}, analyzer ${r.findings.map((f) => f.kind).join(',') || 'nothing'}`);
            if (!truthBad(t) && r.findings.length > 0) wrong.push(`${label}: clean run with findings ${r.findings.map((f) => f.kind)}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the first mismatched value: same Rust ID and JS ID as the truth (Rust order recorded)', async () => {
    const wrong: string[] = [];
    let compared = 0;
    for (const s of SCENARIOS) {
      if (s.name === 'stress' || s.name === 'timer-race') continue;
      for (const revision of REVISIONS) {
        for (const mode of MODES) {
          for (const sides of ['both', 'rust'] as const) {
            for (const faults of [[], ['double-drop']]) {
              if (revision === 'explicit-ids' && faults[0] === 'double-drop') continue;
              const { t, r, label } = await compare({ scenario: s.name, revision, mode, sides, faults });
              const m = t.mismatches[0];
              if (!m) continue;
              compared++;
              const f = r.findings.find((x) => x.rustId !== undefined && x.jsId !== undefined);
              if (f?.rustId !== m.rustId || f?.jsId !== m.jsId) wrong.push(`${label}: truth ${m.key} Rust #${m.rustId} JS #${m.jsId}, analyzer ${f ? `${f.kind} Rust #${f.rustId} JS #${f.jsId}` : 'none'}`);
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThanOrEqual(16);
    expect(wrong).toEqual([]);
  });

  it('each fault is seen where it changes the wire', async () => {
    const wrong: string[] = [];
    const revisions: Revision[] = ['legacy', 'reserved-count', 'evaluate-id', 'seq-id', 'explicit-ids'];
    for (const fault of FAULTS.map((f) => f.name)) {
      if (fault === 'underfill' || fault === 'lost-record') continue;
      for (const revision of revisions) {
        if (fault === 'double-drop' && revision === 'explicit-ids') continue;
        for (const scenario of ['deep-nesting', 'many-callbacks', 'drops']) {
          const { t, r, label } = await compare({ scenario, revision, mode: 'batch', sides: 'both', faults: [fault] });
          if (truthBad(t) !== detected(r)) wrong.push(`${label}: truth ${truthBad(t)}, analyzer ${r.findings.map((f) => f.kind).join(',') || 'nothing'}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('a lost record: restored from the other side when both recorded, else the root of what follows', async () => {
    for (const revision of ['legacy', 'reserved-count', 'explicit-ids'] as const) {
      const both = await compare({ scenario: 'deep-nesting', revision, mode: 'batch', sides: 'both', faults: ['lost-record'] });
      // The lost record is the last one of Rust's (no later seq shows a gap): JS received it,
      // so Rust sent it, and the replay takes JS's copy for Rust's side too.
      const kinds = both.r.findings.map((f) => f.kind);
      expect(['records-lost', 'side-missing-record'], both.label).toContain(kinds[0]);
      expect(kinds.slice(1), both.label).toEqual(revision === 'legacy' ? ['placeholder-id-mismatch', 'unknown-heap-id', 'unanswered-evaluate', 'unanswered-evaluate', 'unanswered-evaluate', 'borrow-frame-unbalanced'] : []);
      const one = await compare({ scenario: 'deep-nesting', revision, mode: 'batch', sides: 'rust', faults: ['lost-record'], lostRecord: { side: 'rust', seq: 2 } });
      expect(one.r.findings[0]!.kind, one.label).toBe('records-lost');
      expect(one.r.findings.slice(1).every((f) => f.causedBy !== undefined || f.kind === 'placeholder-id-mismatch'), one.label).toBe(true);
    }
  });

  it('randomised stress sessions agree with the truth', async () => {
    const wrong: string[] = [];
    for (const revision of ['legacy-freelist', 'legacy', 'reserved-count-slotmap', 'reserved-count', 'evaluate-id', 'seq-id', 'explicit-ids'] as const) {
      for (const racy of [false, true]) {
        for (const seed of [1, 3]) {
          const { t, r, label } = await compare({ scenario: 'stress', revision, mode: 'batch', sides: 'both', racy, seed, size: 250 });
          if (truthBad(t) !== detected(r)) wrong.push(`${label} racy=${racy}: truth ${truthBad(t)}, analyzer ${r.findings.map((f) => f.kind).slice(0, 5)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
