import { describe, expect, it } from 'vitest';
import type { TraceRecord } from '../../src/trace/record.js';
import { analyze } from '../../src/replay/index.js';
import { DEEP_NESTING } from '../fixtures/spec-examples.js';
import { Ops, T, V, jCallback, jResp, kinds, rEval, rResp, show, trace, type Msg } from './helpers.js';
import * as S from './scenarios.js';

describe('heap references (INV-4)', () => {
  it('example C: a callback returns the value it just dropped (use-after-free, derived trigger)', async () => {
    const r = await analyze(S.exampleC(true).records);
    expect(kinds(r), show(r)).toEqual(['use-after-free']);
    expect(r.findings[0]).toMatchObject({
      severity: 'error',
      rustId: 135,
      location: { message: 8, side: 'js' },
      detail: { role: 'return', reason: 'freed' },
    });
    expect(r.findings[0]!.message).toContain('dropped in msg 6 op 1');
    expect(r.findings[0]!.provenance?.[0]).toMatchObject({ id: 135, side: 'js', freedAt: { message: 6, op: 1 } });
  });

  it("example C as the spec's bytes (callback returns ()): clean, and the closure is #134 on both sides", async () => {
    const r = await analyze(S.exampleCFixture().records);
    expect(r.findings, show(r)).toEqual([]);
    expect(r.sessions[0]!.liveAtEnd).toEqual({ rust: 3, js: 3 });
  });

  it('unknown-heap-id: an ID above the JS counter', async () => {
    const r = await analyze(S.unknownHeapId(true).records);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ kind: 'unknown-heap-id', rustId: 150, location: { message: 3, op: 1, line: 4 }, detail: { reason: 'above-counter' } });
  });

  it('double-free: the second drop of #132', async () => {
    const r = await analyze(S.doubleFree(true).records);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ kind: 'double-free', rustId: 132, location: { message: 5, op: 1 } });
  });
});

describe('reservations (INV-5, reserved-count)', () => {
  it('underfilled (N > H): root, then the drift and the hole it leaves', async () => {
    const r = await analyze(S.underfilled(true).records);
    expect(kinds(r), show(r)).toEqual(['reservation-underfilled', 'counter-drift', 'placeholder-id-mismatch', 'unknown-heap-id']);
    expect(r.findings[0]).toMatchObject({ severity: 'error', consequences: 3, location: { message: 1 }, detail: { reserved: 2, heapResults: 1 } });
    expect(r.findings[1]).toMatchObject({ causedBy: 0, rustId: 133, jsId: 134, detail: { delta: 1 } });
    expect(r.findings[3]).toMatchObject({ causedBy: 0, detail: { reason: 'hole' } });
  });

  it('overfilled (H > N > 0): JS throws, so the R-Eval is never answered', async () => {
    const r = await analyze(S.overfilled(true).records);
    expect(kinds(r), show(r)).toEqual(['reservation-overfilled', 'unanswered-evaluate', 'borrow-frame-unbalanced']);
    expect(r.findings[0]).toMatchObject({ detail: { reserved: 1, heapResults: 2 }, consequences: 2 });
  });
});

describe('pairing (INV-7)', () => {
  it('respond-without-evaluate', async () => {
    const r = await analyze(S.respondWithoutEvaluate(true).records);
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ kind: 'respond-without-evaluate', location: { message: 3, line: 4 } });
  });

  it('misrouted-respond by evaluate id: set aside (warning) or not open at all (error)', async () => {
    const a = await analyze(S.misroutedById('set-aside').records);
    expect(a.findings).toHaveLength(1);
    expect(a.findings[0]).toMatchObject({ kind: 'misrouted-respond', severity: 'warning', location: { message: 6, side: 'rust' } });
    const b = await analyze(S.misroutedById('not-open').records);
    expect(b.findings[0]).toMatchObject({ kind: 'misrouted-respond', severity: 'error' });
    expect(b.findings.slice(1).every((f) => f.causedBy === 0)).toBe(true);
  });

  it('records-lost: a seq gap', async () => {
    const r = await analyze(S.recordsLost(true).records);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'records-lost', severity: 'warning', detail: { from: 3, to: 3 } })]);
  });
});

describe('legacy-freelist', () => {
  it("freelist-divergence: Rust reuses #133 at once, JS only after running the drop", async () => {
    const r = await analyze(S.freelist(true).records);
    expect(r.findings[0], show(r)).toMatchObject({ kind: 'freelist-divergence', rustId: 133, jsId: 134, location: { message: 6 } });
    expect(r.findings[0]!.detail).toMatchObject({ rustFreeList: [], jsFreeList: [] });
    expect(r.findings.slice(1).every((f) => f.causedBy === 0)).toBe(true);
  });
});

describe('explicit-ids', () => {
  it('install-mismatch: an install list with nothing deferred', async () => {
    const r = await analyze(S.explicitInstall(true).records);
    expect(r.findings[0], show(r)).toMatchObject({ kind: 'install-mismatch', location: { message: 3 }, detail: { ids: [133], pending: 0 } });
  });

  it('reserved-id-occupied: reserving a live ID', async () => {
    const r = await analyze(S.explicitOccupied(true).records);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'reserved-id-occupied', rustId: 132, location: expect.objectContaining({ message: 3 }) })]);
  });

  it('id-reused-before-drop: Rust reserves #132 again before the batch that dropped it is answered', async () => {
    const r = await analyze(S.explicitReuse(true).records);
    expect(r.findings).toEqual([expect.objectContaining({ kind: 'id-reused-before-drop', rustId: 132, location: expect.objectContaining({ message: 5, side: 'rust' }) })]);
  });
});

describe('telling L-R1 from L-R2 (allocators.md §4)', () => {
  const CB = S.CB_REF;
  /** A lone op that takes a stack closure and returns a JsValue; JS calls the closure with a JsValue. */
  function lone(inner: Msg[], after: Msg[]): TraceRecord[] {
    const o = new Ops();
    const msgs: Msg[] = [
      ['r2j', rEval([o.op(40, [CB], T.ref, [V.cb(1, CB)])])],
      ['j2r', jCallback(1, CB, [V.ref()])],
      ...inner,
      ['r2j', rResp()],
      ['j2r', jResp([{ type: T.ref, value: V.ref() }])],
    ];
    const o2 = new Ops();
    o2.op(40, [CB], T.ref, []);
    for (const [dir, m] of after) msgs.push([dir, m]);
    return trace('legacy', msgs);
  }

  it('both readings kept until the IDs decide; the consistent one (L-R2) wins silently', async () => {
    const o = new Ops();
    o.op(40, [CB], T.ref, []);
    const drop = rEval([o.drop(S.DROP, 132)]);
    const use = rEval([o.op(S.USE, [T.ref], T.bool, [V.ref(133)])]);
    const r = await analyze(lone([], [['r2j', drop], ['j2r', jResp([{ type: T.null, value: V.unit() }])], ['r2j', use], ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])]]));
    expect(r.findings, show(r)).toEqual([]);
    expect(r.sessions[0]!.readings.max).toBe(2);
  });

  it('Rust dropping #133 inside the callback refutes L-R2: under L-R1 the pair is a definite mismatch', async () => {
    const o = new Ops();
    o.op(40, [CB], T.ref, []);
    const dropInside = rEval([o.drop(S.DROP, 133)]);
    const r = await analyze(lone([['r2j', dropInside], ['j2r', jResp([{ type: T.null, value: V.unit() }])]], []));
    expect(r.findings[0], show(r)).toMatchObject({ kind: 'placeholder-id-mismatch', certainty: 'definite', rustId: 133, jsId: 132, location: { message: 3, op: 1 } });
    expect(r.findings[0]!.message).toContain('argument 1 of callback 1 in msg 2');
  });
});

describe('unknown-callback beyond the decoder', () => {
  const CB0 = S.CB0;
  it('a callback JS dropped (native-ref drop) and calls again', async () => {
    const o = new Ops();
    const msgs: Msg[] = [
      ['r2j', rEval([o.op(S.CAST, [CB0], T.ref, [V.cb(0, CB0)])], { reservedCount: 0 })],
      ['j2r', jResp([{ type: T.ref, value: V.ref() }])],
      ['j2r', { kind: 'j-eval', call: { kind: 'drop-native', key: 0 } }],
      ['r2j', rResp()],
      ['j2r', jCallback(0, CB0, [])],
    ];
    const r = await analyze(trace('reserved-count', msgs));
    expect(r.findings[0], show(r)).toMatchObject({ kind: 'unknown-callback', location: { message: 5 }, detail: { key: 0, goneSince: 3 } });
  });

  it('legacy: a stack closure passed to a queued batch op is still in Rust when JS calls it (encode.rs @09db67b keeps it until the native-ref drop)', async () => {
    const o = new Ops();
    const batch: Msg = ['r2j', rEval([o.op(S.INVOKE, [CB0], T.null, [V.cb(1, CB0)]), o.op(S.NOOP, [], T.null, [])])];
    const queued = await analyze(trace('legacy', [batch, ['j2r', jCallback(1, CB0, [])], ['r2j', rResp()], ['j2r', jResp([{ type: T.null, value: V.unit() }, { type: T.null, value: V.unit() }])]]));
    expect(queued.findings, show(queued)).toEqual([]);
    // Once JS dropped it (the wrapper was collected), a call does find it gone.
    const d = new Ops();
    const dropped = await analyze(trace('legacy', [
      ['r2j', rEval([d.op(S.INVOKE, [CB0], T.null, [V.cb(1, CB0)])])],
      ['j2r', jResp([{ type: T.null, value: V.unit() }])],
      ['j2r', { kind: 'j-eval', call: { kind: 'drop-native', key: 1 } }],
      ['r2j', rResp()],
      ['j2r', jCallback(1, CB0, [])],
    ]));
    expect(dropped.findings[0], show(dropped)).toMatchObject({ kind: 'unknown-callback', detail: { key: 1, goneSince: 3 } });
  });
});

describe('a lone JsValue op with N = 1 (docs/protocol.md §8.4)', () => {
  it('batched (R-R1) or unbatched with a stale count (L-R2): kept apart until an ID decides', async () => {
    const o = new Ops();
    const CB = S.CB_REF;
    const msgs: Msg[] = [
      ['r2j', rEval([o.op(S.CAST, [CB], T.ref, [V.cb(1, CB)])], { reservedCount: 0 })],
      ['j2r', jResp([{ type: T.ref, value: V.ref() }])],
      ['r2j', rEval([o.op(S.INVOKE, [T.ref], T.ref, [V.ref(132)])], { reservedCount: 1 })],
      ['j2r', jCallback(1, CB, [V.ref()])],
      ['r2j', rResp()],
      ['j2r', jResp([{ type: T.ref, value: V.ref(), filled: true }])],
    ];
    // Rust then uses #134 as the callback's argument: only the batched reading explains it.
    const use = (id: number): Msg[] => [['r2j', rEval([o.op(S.USE, [T.ref], T.bool, [V.ref(id)])], { reservedCount: 0 })], ['j2r', jResp([{ type: T.bool, value: V.bool(true) }])]];
    const r = await analyze(trace('reserved-count', [...msgs, ...use(134), ...use(133)]));
    expect(r.findings, show(r)).toEqual([]);
    expect(r.sessions[0]!.readings.max).toBe(2);
  });
});

describe('sessions', () => {
  it('interleaved ctx labels are separate sessions, each replayed on its own', async () => {
    const legacy = trace('legacy', S.deepNestingLegacy, { ctx: 'a', input: 'mixed' });
    const R = DEEP_NESTING.reservedCount;
    const rc = trace('reserved-count', [['r2j', R.M1], ['j2r', R.C1], ['r2j', R.M2], ['j2r', R.C2], ['r2j', R.M3], ['j2r', R.C3], ['r2j', R.M4], ['j2r', R.R4], ['r2j', R.RC3], ['j2r', R.R3], ['r2j', R.RC2], ['j2r', R.R2], ['r2j', R.RC1], ['j2r', R.R1]], { ctx: 'b', input: 'mixed' });
    const mixed: TraceRecord[] = [];
    for (let i = 0; i < rc.length; i++) {
      if (legacy[i]) mixed.push(legacy[i]!);
      mixed.push(rc[i]!);
    }
    const r = await analyze(mixed);
    expect(r.sessions.map((s) => [s.ctx, s.revision, s.messages])).toEqual([['a', 'legacy', 3], ['b', 'reserved-count', 14]]);
    expect(r.findings.every((f) => f.location.ctx === 'a')).toBe(true);
    expect(r.findings[0]).toMatchObject({ kind: 'placeholder-id-mismatch', rustId: 136, jsId: 134 });
    expect(r.summary).toMatchObject({ sessions: 2, messages: 17, roots: 1, consequences: 5 });
  });

  it('no meta record: the revision is guessed and said to be', async () => {
    const R = DEEP_NESTING.reservedCount;
    const r = await analyze(trace('reserved-count', [['r2j', R.M1], ['j2r', R.C1], ['r2j', R.M2]], { noMeta: true }));
    expect(r.sessions[0]).toMatchObject({ revision: 'reserved-count', revisionSource: 'guess' });
    expect(r.sessions[0]!.notes.join(' ')).toMatch(/guessed/);
    const forced = await analyze(trace('reserved-count', [['r2j', R.M1]], { noMeta: true }), { rev: 'reserved-count' });
    expect(forced.sessions[0]!.revisionSource).toBe('option');
  });

  it('streams from an async iterable and reports replay steps', async () => {
    const records = trace('legacy', S.deepNestingLegacy);
    async function* slow(): AsyncGenerator<TraceRecord> {
      for (const r of records) {
        await Promise.resolve();
        yield r;
      }
    }
    const steps: string[] = [];
    const r = await analyze(slow(), { onStep: (s) => steps.push(`${s.message}${s.side[0]} d${s.depth} live ${s.rust.live}/${s.js.live}`) });
    expect(r.findings[0]!.kind).toBe('placeholder-id-mismatch');
    expect(steps).toEqual(['1r d1 live 3/0', '1j d1 live 3/0', '2r d2 live 3/0', '2j d2 live 3/2', '3r d3 live 5/2', '3j d3 live 5/2']);
  });

  it('the consequence cap keeps the first ones and counts the rest', async () => {
    const r = await analyze(trace('legacy', S.deepNestingLegacy), { maxConsequences: 2 });
    expect(r.findings).toHaveLength(3);
    expect(r.findings[0]).toMatchObject({ consequences: 5, detail: expect.objectContaining({ suppressedConsequences: 3 }) });
  });
});

describe('rResp helper sanity', () => {
  it('encodes an empty R-Resp', () => {
    expect(rResp()).toEqual({ kind: 'r-resp' });
  });
});
