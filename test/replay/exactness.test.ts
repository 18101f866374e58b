/**
 * Issue 10, replay exactness: for each class a hand-built trace written from the protocol
 * reference's rules (not from the simulator), the findings it must give, and its clean twin;
 * then the simulator reproducing the situation the way the real runtime does.
 */
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/replay/index.js';
import { runSimulation } from '../../src/sim/index.js';
import { Ops, T, V, jCallback, jResp, rEval, rResp, show, trace, type Msg } from './helpers.js';
import { CAST, CB0, GET, INVOKE, MAKE, USE, twoFiles } from './scenarios.js';
import type { Revision } from '../../src/protocol/revisions.js';
import type { AnalysisResult } from '../../src/replay/index.js';
import type { JEvalBody } from '../../src/protocol/messages.js';
import type { TraceRecord } from '../../src/trace/record.js';

const filled = { type: T.ref, value: V.ref(), filled: true };
const unit = { type: T.null, value: V.unit() };

// ---- class 1: explicit-ids, dispose is not drop (wire §9.1) ----------------------------------

/** Without fn.* keys: 14 is dispose_rust_function, 12 drop_heap_ref; both are `(u64) -> ()`. */
const DISPOSE = 14;
const DROP_FN = 12;
const nativeDrop = (key: number): JEvalBody => ({ kind: 'j-eval', call: { kind: 'drop-native', key } });

/**
 * A closure (cast of callback 1, Rust-owned) and a string object; Rust drops the Closure,
 * which disposes its slot and then drops it, and drops the object, all in one batch.
 * `doubleDrop`: the object is dropped twice (a real double-free).
 */
function disposeThenDropInOneBatch(doubleDrop: boolean): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 0)]), o.op(MAKE, [T.str], T.ref, [V.str('a')])], { installIds: [], reservedIds: [132, 133] })],
    ['j2r', jResp([filled, filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132), o.drop(DROP_FN, 132), o.drop(DROP_FN, 133), ...(doubleDrop ? [o.drop(DROP_FN, 133)] : [])], { installIds: [], reservedIds: [] })],
    ['j2r', jResp(doubleDrop ? [unit, unit, unit, unit] : [unit, unit, unit])],
  ];
  return trace('explicit-ids', msgs);
}

/**
 * Unbatched, a JS-owned closure (policy 1): the dispose goes out alone, JS answers it with a
 * native-ref drop nested inside that R-Eval (sessions §9), and the heap drop follows in its
 * own R-Eval. `dropAgain`: the drop helper frees the slot a second time.
 */
function disposeAloneThenDrop(dropAgain: boolean): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 1)])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', nativeDrop(1)],
    ['r2j', rResp(undefined, undefined, [])],
    ['j2r', jResp([unit])],
    ['r2j', rEval([o.drop(DROP_FN, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([unit])],
  ];
  if (dropAgain) msgs.push(['r2j', rEval([o.drop(DROP_FN, 132)], { installIds: [], reservedIds: [] })], ['j2r', jResp([unit])]);
  return trace('explicit-ids', msgs);
}

/**
 * A Rust-owned closure disposed (no native-ref drop follows) and then passed to JS again:
 * legal if fn 14 is the dispose (the slot still holds the disposed function), a
 * use-after-free if it is the drop. Nothing in the bytes decides.
 */
function disposedThenPassed(meta: Array<[string, string]> = []): TraceRecord[] {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0, 0)])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
    ['r2j', rEval([o.drop(DISPOSE, 132)], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([unit])],
    ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(132)])], { installIds: [], reservedIds: [] })],
    ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])],
  ];
  return trace('explicit-ids', msgs, { meta });
}

describe('class 1: explicit-ids dispose vs drop without fn.* keys', () => {
  it('dispose then drop of one closure in one batch is clean; a real double drop is a definite double-free', async () => {
    const clean = await analyze(disposeThenDropInOneBatch(false));
    expect(clean.findings, show(clean)).toEqual([]);
    expect(clean.sessions[0]!.helperSource).toBe('heuristic');
    const bad = await analyze(disposeThenDropInOneBatch(true));
    expect(bad.findings.map((f) => [f.kind, f.certainty, f.rustId]), show(bad)).toEqual([['double-free', 'definite', 133]]);
  });

  it('a dispose flushed alone, answered by a nested native-ref drop, then the drop: clean; dropping again is definite', async () => {
    const clean = await analyze(disposeAloneThenDrop(false));
    expect(clean.findings, show(clean)).toEqual([]);
    const bad = await analyze(disposeAloneThenDrop(true));
    expect(bad.findings.map((f) => [f.kind, f.certainty, f.rustId]), show(bad)).toEqual([['double-free', 'definite', 132]]);
  });

  it('where the bytes do not decide, the finding is possible and names the guess', async () => {
    const r = await analyze(disposedThenPassed());
    expect(r.findings.map((f) => [f.kind, f.certainty, f.severity]), show(r)).toEqual([['use-after-free', 'possible', 'warning']]);
    expect(r.findings[0]!.message).toContain('relies on a guess of the signature heuristic');
    expect(r.findings[0]!.message).toContain('fn 14');
    // Declared roles decide it both ways.
    const asDispose = await analyze(disposedThenPassed([['fn.dispose_rust_function', '14'], ['fn.drop_heap_ref', '12']]));
    expect(asDispose.findings, show(asDispose)).toEqual([]);
    const asDrop = await analyze(disposedThenPassed([['fn.drop_heap_ref', '14']]));
    expect(asDrop.findings.map((f) => [f.kind, f.certainty]), show(asDrop)).toEqual([['use-after-free', 'definite']]);
  });

  it('simulator: closures disposed then dropped, with and without fn.* keys, batched or not, on each recorded side', async () => {
    const wrong: string[] = [];
    for (const scenario of ['drops', 'stress', 'many-callbacks'] as const) {
      for (const mode of ['batch', 'non-batch'] as const) {
        for (const sides of ['both', 'rust', 'js'] as const) {
          for (const helperMeta of [true, false]) {
            const sim = runSimulation({ scenario, revision: 'explicit-ids', mode, sides, helperMeta, size: scenario === 'stress' ? 600 : 10 });
            expect(sim.truth.mismatchCount).toBe(0);
            const r = await analyze(sim.records);
            if (r.findings.length > 0) wrong.push(`${scenario} ${mode} ${sides} meta=${helperMeta}: ${show(r)}`);
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---- class 2: set-aside Responds (sessions §5, allocators §5) -------------------------------

/**
 * A page timer's callback (key 1, `fn(u32)`) reaches the handler just before the app's
 * unbatched `create(1)` (E, msg 5): the handler hands E to the callback's parked XHR,
 * so JS runs E inside the callback and answers it first. Rust, waiting for E, takes the
 * callback and runs its body, whose own `create("span")` (EC) is answered after E's J-Resp:
 * Rust sets E's J-Resp aside and takes it once the callback has returned. Then the app
 * uses E's value (`append(#…)`). `crossed`: false gives the twin where JS runs E only after
 * the callback's chain (nothing is set aside).
 */
const CB_U32 = T.callback([T.u32], T.null);
const CREATE = 40;
const SCHEDULE = 41;
const APPEND = 42;
function timerRace(rev: Revision, crossed: boolean): { rust: Msg[]; js: Msg[] } {
  const o = new Ops();
  const explicit = rev === 'seq-id';
  // seq-id: JS writes the ID it stored the value at (S-J1); evaluate-id*: no bytes.
  const ref = (id: number) => ({ type: T.ref, value: explicit ? V.ref(id) : V.ref() });
  const ev = (id: number) => ({ evaluateId: id, reservedCount: 0 });
  const A: Msg = ['r2j', rEval([o.op(CAST, [CB_U32], T.ref, [V.cb(1, CB_U32)])], ev(1))];
  const JA: Msg = ['j2r', jResp([ref(132)], 1)];
  const S: Msg = ['r2j', rEval([o.op(SCHEDULE, [T.ref], T.null, [V.ref(132)])], ev(2))];
  const JS: Msg = ['j2r', jResp([unit], 2)];
  // E and EC have different type definitions, each sent in full: JS may run them in either order.
  const E: Msg = ['r2j', rEval([o.op(CREATE, [T.u32], T.ref, [V.u32(1)])], ev(3))];
  const C: Msg = ['j2r', jCallback(1, CB_U32, [V.u32(7)])];
  const EC: Msg = ['r2j', rEval([o.op(CREATE, [T.str], T.ref, [V.str('span')])], ev(4))];
  // JS stores E's value first when it runs E first (inside the callback).
  const JE: Msg = ['j2r', jResp([ref(crossed ? 133 : 134)], 3)];
  const JEC: Msg = ['j2r', jResp([ref(crossed ? 134 : 133)], 4)];
  const RC: Msg = ['r2j', rResp()];
  // Rust's ID for E's value: the next counter value when it takes E's J-Resp, after EC's
  // (evaluate-id*); the ID JS wrote (seq-id).
  const eId = explicit ? (crossed ? 133 : 134) : 134;
  const U: Msg = ['r2j', rEval([o.op(APPEND, [T.ref], T.null, [V.ref(eId)])], ev(5))];
  const JU: Msg = ['j2r', jResp([unit], 5)];
  const rust = [A, JA, S, JS, E, C, EC, ...(crossed ? [JE, JEC] : [JEC]), RC, ...(crossed ? [] : [JE]), U, JU];
  const js = crossed ? [A, JA, S, JS, C, E, JE, EC, JEC, RC, U, JU] : [A, JA, S, JS, C, EC, JEC, RC, E, JE, U, JU];
  return { rust, js };
}

async function threeWays(rev: Revision, crossed: boolean): Promise<Record<'rust' | 'js' | 'both', AnalysisResult>> {
  const { rust, js } = timerRace(rev, crossed);
  return {
    rust: await analyze(trace(rev, rust, { side: 'rust' })),
    js: await analyze(trace(rev, js, { side: 'js' })),
    both: await analyze(twoFiles(rust, js, rev)),
  };
}

const summary = (r: AnalysisResult) => r.findings.map((f) => [f.kind, f.severity, f.rustId ?? null, f.jsId ?? null]);

describe('class 2: a set-aside J-Resp is taken where Rust takes it', () => {
  it('seq-id: set aside, taken after the callback, and replayed on: only the hazard warning', async () => {
    const r = await threeWays('seq-id', true);
    const aside = [['misrouted-respond', 'warning', null, null]];
    expect(summary(r.rust), show(r.rust)).toEqual(aside);
    expect(summary(r.both), show(r.both)).toEqual(aside);
    // JS answered in its own order: nothing to set aside on its side.
    expect(r.js.findings, show(r.js)).toEqual([]);
    for (const x of [r.rust, r.js, r.both]) expect(x.sessions[0]!.liveAtEnd).toEqual({ rust: 3, js: 3 });
  });

  it('evaluate-id*: the set-aside value gets its Rust ID only when taken, after the callback body: both IDs are named', async () => {
    for (const rev of ['evaluate-id', 'evaluate-id-draft'] as const) {
      const r = await threeWays(rev, true);
      for (const x of [r.rust, r.both]) {
        const m = x.findings.find((f) => f.kind === 'placeholder-id-mismatch');
        expect(m, show(x)).toBeDefined();
        // Rust #134 = E's value (taken after EC's); JS stored E's value at #133.
        expect([m!.rustId, m!.jsId, m!.certainty], show(x)).toEqual([134, 133, 'definite']);
        expect(x.findings.some((f) => f.kind === 'unanswered-evaluate' || f.kind === 'lost-respond' || f.kind === 'borrow-frame-unbalanced'), show(x)).toBe(false);
      }
    }
  });

  it('the clean twin (JS runs the app call after the callback chain) gives nothing, recorded any way', async () => {
    for (const rev of ['seq-id', 'evaluate-id', 'evaluate-id-draft'] as const) {
      const r = await threeWays(rev, false);
      for (const [side, x] of Object.entries(r)) expect(x.findings, `${rev} ${side}\n${show(x)}`).toEqual([]);
    }
  });

  it('simulator: page timers racing bursts of top-level calls (timer-race)', async () => {
    const wrong: string[] = [];
    for (const revision of ['evaluate-id-draft', 'evaluate-id', 'seq-id', 'explicit-ids'] as const) {
      for (const mode of ['batch', 'non-batch'] as const) {
        for (const sides of ['both', 'rust', 'js'] as const) {
          const sim = runSimulation({ scenario: 'timer-race', revision, mode, sides, size: 6 });
          const r = await analyze(sim.records);
          const t = sim.truth;
          const label = `${revision} ${mode} ${sides}`;
          const errors = r.findings.filter((f) => f.severity === 'error');
          // Set-asides happened in every by-id revision, and every one was taken again.
          if (revision !== 'explicit-ids' && sides !== 'js' && !r.findings.some((f) => f.kind === 'misrouted-respond')) wrong.push(`${label}: no set-aside seen`);
          // Every exchange ended (a dropped R-Resp leaves one JS J-Eval without an answer, which is the lost-respond itself).
          if (t.sessions.every((x) => x.outcome === 'completed') && r.findings.some((f) => f.kind === 'unanswered-evaluate' || f.kind === 'borrow-frame-unbalanced')) wrong.push(`${label}: exchanges reported open ${show(r)}`);
          if (t.mismatchCount === 0 && !t.eventCounts['lost-respond'] && errors.length > 0) wrong.push(`${label}: clean run with errors ${show(r)}`);
          // The crossing swaps IDs in evaluate-id*: the first mismatched value, with both IDs.
          const m = t.mismatches[0];
          if (m && sides !== 'js') {
            const f = r.findings.find((x) => x.rustId !== undefined && x.jsId !== undefined);
            if (f?.rustId !== m.rustId || f?.jsId !== m.jsId) wrong.push(`${label}: truth Rust #${m.rustId} JS #${m.jsId}, analyzer ${f ? `${f.kind} Rust #${f.rustId} JS #${f.jsId}` : 'none'}`);
          }
          if (t.eventCounts['lost-respond'] && sides !== 'rust' && !r.findings.some((f) => f.kind === 'lost-respond')) wrong.push(`${label}: lost R-Resp not reported`);
          // Two bursts only race the event handler (no callback inside the racing call): no
          // R-Resp is lost, every exchange ends, seq-id and explicit-ids are clean.
          const short = runSimulation({ scenario: 'timer-race', revision, mode, sides, size: 2 });
          const s = await analyze(short.records);
          const bad = s.findings.filter((f) => f.kind !== 'placeholder-id-mismatch' && !(f.kind === 'misrouted-respond' && f.severity === 'warning'));
          if (bad.length > 0 || (short.truth.mismatchCount === 0 && s.findings.some((f) => f.severity === 'error'))) wrong.push(`${label} size 2: ${show(s)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---- class 3: a value in crossed messages is matched by the op that created it ----------------

/**
 * reserved-count, both sides recorded (sessions §3.1, failure-modes `misrouted-respond`): a
 * page timer calls callback 1 just as the app sends `make(10)` (E_a, unbatched, N = 0), so
 * the handler hands E_a to the callback's parked XHR and JS stores make(10) at #133. Rust,
 * waiting for E_a, runs the callback: its `make(1)` (E_b) goes out by evaluate_script (no XHR
 * parked), and Rust takes E_a's J-Resp as E_b's answer (both are empty), so Rust's #133 is
 * make(1) (L-R2). The callback's `append(#133)` reaches make(10) in JS; JS stores make(1) only
 * later, at #134, when it runs E_b. `crossed` false: JS ran E_a before the timer fired.
 */
function crossedValues(crossed: boolean): { rust: Msg[]; js: Msg[] } {
  const o = new Ops();
  const CB = T.callback([], T.null);
  const n0 = { reservedCount: 0 };
  const refR = { type: T.ref, value: V.ref() };
  const A: Msg = ['r2j', rEval([o.op(CAST, [CB], T.ref, [V.cb(1, CB)])], n0)];
  const JA: Msg = ['j2r', jResp([refR])];
  const REG: Msg = ['r2j', rEval([o.op(SCHEDULE, [T.ref], T.null, [V.ref(132)])], n0)];
  const JREG: Msg = ['j2r', jResp([unit])];
  const Ea: Msg = ['r2j', rEval([o.op(MAKE, [T.u32], T.ref, [V.u32(10)])], n0)];
  const C: Msg = ['j2r', jCallback(1, CB, [])];
  const Eb: Msg = ['r2j', rEval([o.op(MAKE, [T.u32], T.ref, [V.u32(1)])], n0)];
  const J: Msg = ['j2r', jResp([refR])];
  // What Rust calls make(1) and make(10): #133 and #134 after the crossing, #134 and #133 without.
  const Ec: Msg = ['r2j', rEval([o.op(APPEND, [T.ref], T.null, [V.ref(crossed ? 133 : 134)])], n0)];
  const JU: Msg = ['j2r', jResp([unit])];
  const RC: Msg = ['r2j', rResp()];
  const Ed: Msg = ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(crossed ? 134 : 133)])], n0)];
  const JD: Msg = ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])];
  if (!crossed) {
    const order = [A, JA, REG, JREG, Ea, J, C, Eb, J, Ec, JU, RC, Ed, JD];
    return { rust: order, js: order };
  }
  return {
    rust: [A, JA, REG, JREG, Ea, C, Eb, J, Ec, JU, RC, J, Ed, JD],
    js: [A, JA, REG, JREG, C, Ea, J, Ec, JU, RC, Eb, J, Ed, JD],
  };
}

describe('class 3: ID findings name both IDs of the same value', () => {
  it('a value JS stores only after Rust used its ID is named with the ID JS stored it at', async () => {
    const { rust, js } = crossedValues(true);
    const r = await analyze(twoFiles(rust, js, 'reserved-count'));
    const ids = r.findings.filter((f) => f.kind === 'placeholder-id-mismatch' || f.kind === 'unknown-heap-id' || f.kind === 'use-after-free');
    expect(ids.length, show(r)).toBeGreaterThan(0);
    for (const f of ids) expect(typeof f.jsId, show(r)).toBe('number');
    // append(#133): Rust means make(1) (msg 7), which JS stored at #134 once it ran msg 7.
    expect([ids[0]!.rustId, ids[0]!.jsId], show(r)).toEqual([133, 134]);
    expect(ids[0]!.message).not.toContain('has not stored it anywhere');
    // get(#134): Rust means make(10) (msg 5), which JS stored at #133.
    expect(ids.some((f) => f.rustId === 134 && f.jsId === 133), show(r)).toBe(true);
    expect(r.findings.some((f) => f.kind === 'crossed-in-flight')).toBe(true);
  });

  it('the clean twin gives nothing', async () => {
    const { rust, js } = crossedValues(false);
    const r = await analyze(twoFiles(rust, js, 'reserved-count'));
    expect(r.findings, show(r)).toEqual([]);
  });
});

describe('class 3: simulator, crossed values named as the truth names them', () => {
  it('timer-race, both sides recorded: the first mismatched value has the Rust and JS IDs of the ground truth', async () => {
    const wrong: string[] = [];
    // legacy* are left out: there a lone unbatched call is byte-identical to a batch of one
    // (L-R1 / L-R2), and the replay keeps the reading that explains the bytes longest.
    for (const revision of ['reserved-count-slotmap', 'reserved-count', 'evaluate-id-draft', 'evaluate-id'] as const) {
      for (const mode of ['batch', 'non-batch'] as const) {
        const sim = runSimulation({ scenario: 'timer-race', revision, mode, sides: 'both', size: 2 });
        const m = sim.truth.mismatches[0];
        if (!m) {
          wrong.push(`${revision} ${mode}: the race made no mismatch`);
          continue;
        }
        const r = await analyze(sim.records);
        const f = r.findings.find((x) => x.rustId !== undefined && x.jsId !== undefined);
        if (f?.rustId !== m.rustId || f?.jsId !== m.jsId) wrong.push(`${revision} ${mode}: truth ${m.key} Rust #${m.rustId} JS #${m.jsId}, analyzer ${f ? `${f.kind} Rust #${f.rustId} JS #${f.jsId}` : 'none'}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---- class 4: latent drift is reported where it arises --------------------------------------

const CB_OBJ = T.callback([T.ref], T.null);
const INVOKE_FN = 30;

/**
 * legacy, batch (allocators §4): `[make(1), invoke(#132), make(2)]` takes placeholders #133 and
 * #134 before sending; `invoke` calls callback 1 with a fresh object, which JS stores at its
 * counter (#134, after make(1) completed) while Rust gives it #135, after its placeholders;
 * make(2) then lands on #135 in JS. Nothing uses those IDs before the trace ends.
 * `withArg` false: the callback takes no argument, nothing is allocated in between.
 */
function latentLegacy(withArg: boolean): TraceRecord[] {
  const o = new Ops();
  const cb = withArg ? CB_OBJ : CB0;
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [cb], T.ref, [V.cb(1, cb)])])],
    ['j2r', jResp([{ type: T.ref, value: V.ref() }])],
    ['r2j', rEval([o.op(MAKE, [T.u32], T.ref, [V.u32(1)]), o.op(INVOKE_FN, [T.ref], T.null, [V.ref(132)]), o.op(MAKE, [T.u32], T.ref, [V.u32(2)])])],
    ['j2r', jCallback(1, cb, withArg ? [V.ref()] : [])],
    ['r2j', rResp()],
    ['j2r', jResp([{ type: T.ref, value: V.ref() }, unit, { type: T.ref, value: V.ref() }])],
  ];
  return trace('legacy', msgs);
}

/**
 * legacy, batch: JS throws mid-batch ("Unknown cached type ID", failure-modes
 * `unknown-type-id`): the nested R-Eval uses TYPE_CACHED for get's type, whose TYPE_FULL is in
 * the later op 2 of the enclosing batch. Rust counted a placeholder (#133) for that op, which
 * JS never stores; the session deadlocks before anything uses an ID.
 */
function threwMidBatch(): TraceRecord[] {
  const o = new Ops();
  const trigger = o.op(INVOKE, [T.ref], T.null, [V.ref(132)]);
  const get = o.op(GET, [T.u32], T.ref, [V.u32(1)]);
  const inner = o.op(GET, [T.u32], T.ref, [V.u32(2)]);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0)])])],
    ['j2r', jResp([{ type: T.ref, value: V.ref() }])],
    ['r2j', rEval([trigger, get])],
    ['j2r', jCallback(1, CB0, [])],
    ['r2j', rEval([{ ...inner, marker: 'cached' }])],
  ];
  return trace('legacy', msgs);
}

describe('class 4: latent drift', () => {
  it('legacy: a callback argument stored while placeholders are outstanding parts the IDs; reported at creation with both IDs', async () => {
    const r = await analyze(latentLegacy(true));
    const m = r.findings.filter((f) => f.kind === 'placeholder-id-mismatch');
    expect(m.map((f) => [f.rustId, f.jsId, f.certainty, f.location.message]), show(r)).toEqual([
      [135, 134, 'definite', 4],
      [134, 135, 'definite', 3],
    ]);
    const clean = await analyze(latentLegacy(false));
    expect(clean.findings, show(clean)).toEqual([]);
  });

  it('JS threw mid-batch: the exception finding, and beside it the drift of the counters', async () => {
    const r = await analyze(threwMidBatch());
    expect(r.findings.some((f) => f.kind === 'unknown-type-id'), show(r)).toBe(true);
    const d = r.findings.find((f) => f.kind === 'counter-drift');
    expect(d, show(r)).toBeDefined();
    expect([d!.rustId, d!.jsId, d!.location.message], show(r)).toEqual([134, 133, 5]);
  });
});

describe('class 4: simulator, every session whose IDs parted gets an ID finding', () => {
  it('legacy stress with racing timers: a session with mismatched values in the truth is never left without an ID finding', async () => {
    const idKinds = new Set(['placeholder-id-mismatch', 'freelist-divergence', 'counter-drift', 'id-alias', 'unknown-heap-id', 'use-after-free', 'double-free', 'crossed-in-flight', 'reservation-underfilled', 'reservation-overfilled', 'nested-encode-order']);
    const wrong: string[] = [];
    for (const seed of [1, 2]) {
      const sim = runSimulation({ scenario: 'stress', revision: 'legacy', mode: 'batch', racy: true, seed, size: 3000 });
      const r = await analyze(sim.records);
      const parted = new Set(sim.truth.mismatches.map((m) => (m as { ctx?: string }).ctx));
      for (const ctx of parted) {
        if (!r.findings.some((f) => f.location.ctx === ctx && idKinds.has(f.kind))) wrong.push(`seed ${seed} ${ctx}: ${r.findings.filter((f) => f.location.ctx === ctx).map((f) => f.kind).join(',') || 'nothing'}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---- class 5: the same findings however the two sides' records are interleaved ----------------

/** One log in which `side`'s records come `lag` records late (a logger that lags behind). */
function lagged(records: TraceRecord[], side: 'rust' | 'js', lag: number): TraceRecord[] {
  const metas = records.filter((r) => r.kind === 'meta');
  const late = records.filter((r) => r.kind !== 'meta' && r.side === side);
  const early = records.filter((r) => r.kind !== 'meta' && r.side !== side);
  const out: TraceRecord[] = [...metas];
  let i = 0;
  let j = 0;
  while (i < early.length || j < late.length) {
    if (i < early.length && (i < j + lag || j >= late.length)) out.push(early[i++]!);
    else out.push(late[j++]!);
  }
  return out;
}

describe('class 5: two recorded sides give the same finding kinds as one log, two files, or a lagging side', () => {
  it('racy stress sessions (several ctx): split files, the combined log and a side lagging 200 records agree', async () => {
    const kinds = (r: AnalysisResult): string => [...new Set(r.findings.map((f) => `${f.location.ctx ?? ''}:${f.kind}`))].sort().join(' ');
    const wrong: string[] = [];
    for (const revision of ['legacy', 'reserved-count', 'seq-id'] as const) {
      const { records } = runSimulation({ scenario: 'stress', revision, mode: 'batch', racy: true, seed: 1, size: 800 });
      const bySide = (side: 'rust' | 'js') => records.filter((r) => r.kind === 'meta' ? r.side === side : (r as { side?: string }).side === side);
      const split = await analyze({ inputs: [{ records: bySide('rust') }, { records: bySide('js') }] });
      const combined = await analyze(records);
      for (const side of ['rust', 'js'] as const) {
        const lag = await analyze(lagged(records, side, 200));
        if (kinds(lag) !== kinds(split)) wrong.push(`${revision} ${side} lagging: ${kinds(lag)} vs ${kinds(split)}`);
      }
      if (kinds(combined) !== kinds(split)) wrong.push(`${revision} combined: ${kinds(combined)} vs ${kinds(split)}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('class 5: a hand-built two-sided session whose JS records all come after 70 Rust records', () => {
  it('is replayed as two recorded sides (their meta records say so), with the findings of the interleaved log', async () => {
    const o = new Ops();
    const msgs: Msg[] = [];
    for (let i = 0; i < 35; i++) {
      msgs.push(['r2j', rEval([o.op(MAKE, [T.u32], T.ref, [V.u32(i)])], { reservedCount: 0 })], ['j2r', jResp([{ type: T.ref, value: V.ref() }])]);
    }
    // Rust then uses an ID it never got: one definite finding in the interleaved log.
    msgs.push(['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(400)])], { reservedCount: 0 })], ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])]);
    const rust = trace('reserved-count', msgs, { side: 'rust', input: 'both.log' });
    const js = trace('reserved-count', msgs, { side: 'js', input: 'both.log' });
    const interleaved: TraceRecord[] = [rust[0]!, js[0]!];
    for (let i = 1; i < rust.length; i++) interleaved.push(rust[i]!, js[i]!);
    const late: TraceRecord[] = [rust[0]!, js[0]!, ...rust.slice(1), ...js.slice(1)];
    const a = await analyze(interleaved);
    const b = await analyze(late);
    expect(a.findings.map((f) => f.kind), show(a)).toEqual(['unknown-heap-id']);
    expect(b.findings.map((f) => f.kind), `${show(b)}\n${JSON.stringify(b.findings.map((f) => f.location))}`).toEqual(["unknown-heap-id"]);
    expect(b.sessions[0]!.sides.sort()).toEqual(['js', 'rust']);
  });
});
