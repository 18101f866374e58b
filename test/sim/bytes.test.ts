import { describe, expect, it } from 'vitest';
import { REVISIONS } from '../../src/protocol/revisions.js';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import type { REvalBody } from '../../src/protocol/messages.js';
import { callback, F, JsObject, runSimulation, T, type ScenarioProgram } from '../../src/sim/index.js';
import { DEEP_NESTING, EXAMPLE_A, EXAMPLE_B, EXAMPLE_C, b64 } from '../fixtures/spec-examples.js';
import { base64, messages } from './helpers.js';

const DEEP_ORDER = ['M1', 'C1', 'M2', 'C2', 'M3', 'C3', 'M4', 'R4', 'RC3', 'R3', 'RC2', 'R2', 'RC1', 'R1'] as const;

describe('deep-nesting against examples.md §5.3', () => {
  it('reserved-count, batch mode: M1..R1 are byte-identical on both sides, in order', () => {
    const { records } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' });
    for (const side of ['rust', 'js'] as const) {
      const got = messages(records, side).slice(0, 14).map(base64);
      expect(got).toEqual(DEEP_ORDER.map((k) => DEEP_NESTING.reservedCount[k]));
      expect(messages(records, side).slice(0, 14).map((r) => r.dir)).toEqual(
        DEEP_ORDER.map((k) => (k.startsWith('M') || k.startsWith('RC') ? 'r2j' : 'j2r')),
      );
    }
  });

  it('reserved-count: the R-Eval after R1 drops 136..140, then 135 (the extract temporary), then the locals', () => {
    const { records } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count', mode: 'batch' });
    const d = new ConversationDecoder('reserved-count');
    const decoded = messages(records, 'rust').map((r) => d.decode(r));
    const drops = decoded[14]!.body as REvalBody;
    expect(drops.reservedCount).toBe(0);
    expect(drops.ops.every((op) => op.fnId === 12)).toBe(true);
    expect(drops.ops.map((op) => Number((op.args[0] as { value: bigint }).value))).toEqual([136, 137, 138, 139, 140, 135, 134, 132]);
  });

  it('legacy, batch mode: M1 and M2 match, the J-Eval carries the u64 slotmap key, and the trace ends there', () => {
    const { records } = runSimulation({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' });
    for (const side of ['rust', 'js'] as const) {
      const got = messages(records, side).map(base64);
      expect(got).toEqual([DEEP_NESTING.legacy.M1, EXAMPLE_C.legacyCallbackJEval, DEEP_NESTING.legacy.M2]);
    }
  });

  it('reserved-count-slotmap differs from reserved-count only in the callback key width', () => {
    const { records } = runSimulation({ scenario: 'deep-nesting', revision: 'reserved-count-slotmap', mode: 'batch' });
    const d = new ConversationDecoder('reserved-count-slotmap');
    const [m1, c1] = messages(records, 'rust').map((r) => d.decode(r));
    expect(m1!.issues).toEqual([]);
    expect((m1!.body as REvalBody).reservedCount).toBe(4);
    expect(m1!.record.data.length).toBe(148); // reserved-count's 144 + one more key word
    expect(base64(c1!.record)).toBe(EXAMPLE_C.legacyCallbackJEval); // slotmap key index 1, version 1
  });

  it('evaluate-id starts its ids at 0, the draft and seq-id at 1; explicit-ids lists the reserved ids', () => {
    const first = (rev: (typeof REVISIONS)[number]): REvalBody => {
      const { records } = runSimulation({ scenario: 'deep-nesting', revision: rev, mode: 'batch' });
      const d = new ConversationDecoder(rev);
      return d.decode(messages(records, 'rust')[0]!).body as REvalBody;
    };
    expect(first('evaluate-id')).toMatchObject({ evaluateId: 0, reservedCount: 4 });
    expect(first('evaluate-id-draft')).toMatchObject({ evaluateId: 1, reservedCount: 4 });
    expect(first('seq-id')).toMatchObject({ evaluateId: 1, reservedCount: 4 });
    // explicit-ids: a Closure argument forces a flush, so level1 closes the first R-Eval.
    const explicit = first('explicit-ids');
    expect(explicit.installIds).toEqual([]);
    expect(explicit.reservedIds).toEqual([132, 133, 134]);
    expect(explicit.ops.map((op) => op.fnId)).toEqual([20, 3, 21]);
    expect(explicit.ops[1]!.args[0]).toMatchObject({ kind: 'callback', key: 1, policy: 1 });
  });
});

const exampleA: ScenarioProgram = function* ({ rt }) {
  yield* rt.call(F.make_node, ['div']);
};

const exampleB: ScenarioProgram = function* ({ rt }) {
  yield* rt.batch(function* () {
    const a = yield* rt.callValue(F.make_node, ['div']);
    const b = yield* rt.callValue(F.make_node, ['span']);
    yield* rt.call(F.same_node, [a, b]);
  });
};

describe('examples A, B, C (examples.md §1-§3, §6)', () => {
  const cases = [
    ['reserved-count', EXAMPLE_A.reservedCountREval, EXAMPLE_A.emptyJResp],
    ['legacy', EXAMPLE_A.legacyREval, EXAMPLE_A.emptyJResp],
    ['evaluate-id', EXAMPLE_A.evaluateIdREval, EXAMPLE_A.evaluateIdJResp],
    ['seq-id', EXAMPLE_A.seqIdREval, EXAMPLE_A.seqIdJResp],
    ['explicit-ids', EXAMPLE_A.explicitIdsREval, EXAMPLE_A.emptyJResp],
  ] as const;
  for (const [rev, rEval, jResp] of cases) {
    it(`example A (make_node("div"), not batching) in ${rev}`, () => {
      const { records, truth } = runSimulation({ scenario: 'example-a', program: exampleA, revision: rev, mode: 'non-batch' });
      expect(messages(records, 'rust').map(base64)).toEqual([rEval, jResp]);
      expect(truth.values).toMatchObject([{ fn: 'make_node', rustId: 132, jsId: 132, match: true }]);
    });
  }

  it('example B (a batch of three ops) in reserved-count and legacy', () => {
    for (const [rev, rEval] of [
      ['reserved-count', EXAMPLE_B.reservedCountREval],
      ['legacy', EXAMPLE_B.legacyREval],
    ] as const) {
      const { records } = runSimulation({ scenario: 'example-b', program: exampleB, revision: rev, mode: 'batch' });
      expect(messages(records, 'rust').map(base64)).toEqual([rEval, EXAMPLE_B.boolFalseJResp]);
    }
  });

  it('example C (a closure JS calls later with a borrowed and an owned JsValue) in reserved-count', () => {
    const program: ScenarioProgram = function* (ctx) {
      yield* exampleB(ctx);
      const cb = yield* ctx.rt.closure(callback([T.borrowed, T.heapref], T.unit), function* () {
        return undefined; // `detail` is dropped when the body ends
      });
      ctx.pageCall(cb.id, [JsObject.of({ tag: 'target' }), JsObject.of({ x: 1 })]);
      yield* ctx.rt.idle();
    };
    const { records, truth } = runSimulation({ scenario: 'example-c', program, revision: 'reserved-count', mode: 'non-batch' });
    expect(messages(records, 'rust').map(base64)).toEqual([
      EXAMPLE_B.reservedCountREval,
      EXAMPLE_B.boolFalseJResp,
      EXAMPLE_C.castREval,
      EXAMPLE_A.emptyJResp,
      EXAMPLE_C.callbackJEval,
      EXAMPLE_C.dropREval,
      EXAMPLE_A.emptyJResp,
      EXAMPLE_C.emptyRResp,
    ]);
    expect(truth.values.map((v) => [v.kind, v.rustId, v.jsId])).toEqual([
      ['op-result', 132, 132],
      ['op-result', 133, 133],
      ['op-result', 134, 134],
      ['borrowed', 127, 127],
      ['callback-arg', 135, 135],
    ]);
  });

  it('the recorded bytes decode as the spec bytes do', () => {
    const d = new ConversationDecoder('reserved-count');
    for (const s of DEEP_ORDER) expect(d.decode({ kind: 'message', dir: s.startsWith('M') || s.startsWith('RC') ? 'r2j' : 'j2r', data: b64(DEEP_NESTING.reservedCount[s]), loc: { input: 'x' } }).issues).toEqual([]);
  });
});
