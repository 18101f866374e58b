import { describe, expect, it } from 'vitest';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import type { DecodedMessage, REvalBody, JRespBody, JEvalBody, RRespBody } from '../../src/protocol/messages.js';
import { formatSignature } from '../../src/protocol/types.js';
import type { Revision } from '../../src/protocol/revisions.js';
import type { Direction } from '../../src/trace/record.js';
import { DEEP_NESTING, DEEP_NESTING_ORDER, EXAMPLE_A, EXAMPLE_C_SESSION, EXAMPLE_B, EXAMPLE_C, RESPONDS, b64 } from '../fixtures/spec-examples.js';

function run(rev: Revision, messages: Array<[Direction, string]>): DecodedMessage[] {
  const d = new ConversationDecoder(rev);
  return messages.map(([dir, data], i) => d.decode({ kind: 'message', dir, data: b64(data), seq: i + 1, loc: { input: 'spec', line: i + 1 } }));
}

const rEval = (m: DecodedMessage): REvalBody => m.body as REvalBody;

describe('example A: one unbatched call returning a JsValue', () => {
  it('reserved-count R-Eval decodes to N=0, make_node("div")', () => {
    const [m, r] = run('reserved-count', [['r2j', EXAMPLE_A.reservedCountREval], ['j2r', EXAMPLE_A.emptyJResp]]);
    expect(m!.issues).toEqual([]);
    const body = rEval(m!);
    expect(body.reservedCount).toBe(0);
    expect(body.ops).toHaveLength(1);
    expect(body.ops[0]).toMatchObject({ index: 1, fnId: 7, marker: 'full', typeId: 0, args: [{ kind: 'string', value: 'div' }] });
    expect(formatSignature(body.ops[0]!.signature)).toBe('(String) -> JsValue');
    expect(r!.issues).toEqual([]);
    expect(r!.kind).toBe('j-resp');
    expect((r!.body as JRespBody).results).toEqual([{ op: 1, type: { kind: 'heapref' }, value: { kind: 'heapref' }, filledReservation: false }]);
    expect(r!.exchange).toBe(m!.exchange);
  });

  it('legacy R-Eval has no prelude and the same op', () => {
    const [m] = run('legacy', [['r2j', EXAMPLE_A.legacyREval]]);
    expect(m!.issues).toEqual([]);
    expect(rEval(m!).reservedCount).toBeUndefined();
    expect(rEval(m!).ops[0]).toMatchObject({ fnId: 7, typeId: 0, args: [{ kind: 'string', value: 'div' }] });
  });

  it('evaluate-id R-Eval carries id 0 and N 0, and the J-Resp echoes it', () => {
    const [m, r] = run('evaluate-id', [['r2j', EXAMPLE_A.evaluateIdREval], ['j2r', EXAMPLE_A.evaluateIdJResp]]);
    expect(m!.issues).toEqual([]);
    expect(rEval(m!)).toMatchObject({ evaluateId: 0, reservedCount: 0 });
    expect(r!.issues).toEqual([]);
    expect((r!.body as JRespBody).evaluateId).toBe(0);
    expect(r!.exchange).toBe(m!.exchange);
  });

  it('seq-id J-Resp carries the explicit ID JS chose', () => {
    const [m, r] = run('seq-id', [['r2j', EXAMPLE_A.seqIdREval], ['j2r', EXAMPLE_A.seqIdJResp]]);
    expect(rEval(m!)).toMatchObject({ evaluateId: 1, reservedCount: 0 });
    expect(r!.issues).toEqual([]);
    expect((r!.body as JRespBody).results[0]!.value).toEqual({ kind: 'heapref', id: 132 });
  });

  it('explicit-ids R-Eval has an empty install list and reserved list [132]', () => {
    const [m, r] = run('explicit-ids', [['r2j', EXAMPLE_A.explicitIdsREval], ['j2r', EXAMPLE_A.emptyJResp]]);
    expect(m!.issues).toEqual([]);
    expect(rEval(m!)).toMatchObject({ installIds: [], reservedIds: [132] });
    expect((r!.body as JRespBody).results[0]!.filledReservation).toBe(true);
  });
});

describe('example B: a batch of three ops', () => {
  it('reserved-count: N=2, TYPE_CACHED on op 2, same_node(#132, #133) -> bool false', () => {
    const [m, r] = run('reserved-count', [['r2j', EXAMPLE_B.reservedCountREval], ['j2r', EXAMPLE_B.boolFalseJResp]]);
    expect(m!.issues).toEqual([]);
    const body = rEval(m!);
    expect(body.reservedCount).toBe(2);
    expect(body.ops.map((o) => [o.fnId, o.marker, o.typeId])).toEqual([[7, 'full', 0], [7, 'cached', 0], [9, 'full', 1]]);
    expect(body.ops[1]!.args).toEqual([{ kind: 'string', value: 'span', byteLength: 4, nonAscii: false }]);
    expect(body.ops[2]!.args).toEqual([{ kind: 'heapref', id: 132 }, { kind: 'heapref', id: 133 }]);
    expect(r!.issues).toEqual([]);
    const results = (r!.body as JRespBody).results;
    expect(results.map((x) => x.filledReservation)).toEqual([true, true, false]);
    expect(results[2]!.value).toEqual({ kind: 'bool', value: false });
  });

  it('legacy: same ops without the prelude; HeapRef results still take no bytes', () => {
    const [m, r] = run('legacy', [['r2j', EXAMPLE_B.legacyREval], ['j2r', EXAMPLE_B.boolFalseJResp]]);
    expect(m!.issues).toEqual([]);
    expect(rEval(m!).ops).toHaveLength(3);
    expect(r!.issues).toEqual([]);
    expect((r!.body as JRespBody).results.map((x) => x.filledReservation)).toEqual([false, false, false]);
  });

  it('the J-Resp decoded against the wrong revision leaves a byte over', () => {
    // Decoding the reserved-count R-Eval as legacy misreads N=2 as a fn id and fails.
    const [m] = run('legacy', [['r2j', EXAMPLE_B.reservedCountREval]]);
    expect(m!.issues.some((i) => i.fatal)).toBe(true);
  });
});

describe('example C: a callback with a borrowed and an owned argument', () => {
  it('learns the callback definition from the cast and decodes the J-Eval with it', () => {
    const msgs = run('reserved-count', EXAMPLE_C_SESSION.map(([d, x]) => [d, x]));
    for (const m of msgs) expect(m.issues).toEqual([]);
    const cast = rEval(msgs[2]!);
    expect(cast.ops[0]).toMatchObject({ fnId: 3, typeId: 2, marker: 'full' });
    expect(formatSignature(cast.ops[0]!.signature)).toBe('(fn(&JsValue, JsValue) -> ()) -> JsValue');
    expect(cast.ops[0]!.args[0]).toMatchObject({ kind: 'callback', key: 0 });
    const call = (msgs[4]!.body as JEvalBody).call;
    expect(call).toMatchObject({ kind: 'callback', key: 0, args: [{ kind: 'borrowed' }, { kind: 'heapref' }] });
    expect(msgs[4]!.depth).toBe(0);
    const drop = rEval(msgs[5]!);
    expect(msgs[5]!.depth).toBe(1);
    expect(drop.ops[0]).toMatchObject({ fnId: 12, typeId: 3, args: [{ kind: 'int', type: 'u64', value: 135n }] });
    expect(msgs[7]!.kind).toBe('r-resp');
    expect(msgs[7]!.exchange).toBe(msgs[4]!.exchange);
  });

  it('legacy keys are u64 (slotmap index 1, version 1)', () => {
    const d = new ConversationDecoder('legacy');
    const m = d.decode({ kind: 'message', dir: 'j2r', data: b64(EXAMPLE_C.legacyCallbackJEval), loc: { input: 'x' } });
    expect((m.body as JEvalBody).call).toMatchObject({ kind: 'callback', key: 1 + 2 ** 32 });
    expect(m.issues.map((i) => i.kind)).toEqual(['unknown-callback']);
  });

  it('an R-Resp returning the HeapRef 135', () => {
    const msgs = run('reserved-count', [
      ['r2j', 'HAAAABwAAAAlAAAAAAAAAAMAAAACAAAAAAAAAAD+ARICFhEREQ=='],
      ['j2r', EXAMPLE_A.emptyJResp],
      ['j2r', EXAMPLE_C.callbackJEval],
      ['r2j', EXAMPLE_C.heapRefRResp135],
    ]);
    for (const m of msgs) expect(m.issues).toEqual([]);
    expect((msgs[3]!.body as RRespBody).value).toEqual({ kind: 'heapref', id: 135 });
  });

  it('explicit-ids R-Resp carries the install list [134]', () => {
    const d = new ConversationDecoder('explicit-ids');
    const m = d.decode({ kind: 'message', dir: 'r2j', data: b64(EXAMPLE_C.explicitIdsInstallRResp), loc: { input: 'x' } });
    expect(m.kind).toBe('r-resp');
    expect((m.body as RRespBody).installIds).toEqual([134]);
    expect(m.issues.map((i) => i.kind)).toEqual(['respond-without-evaluate']);
  });
});

describe('respond messages at a glance', () => {
  it('Some(1.0f64) is u32 [0, 0x3ff00000] and u8 01 01', () => {
    const d = new ConversationDecoder('reserved-count');
    // an R-Eval with a single op returning Option<f64>
    d.decode({ kind: 'message', dir: 'r2j', data: b64(DEEP_NESTING.reservedCount.M1), loc: { input: 'x' } });
    const m = d.decode({ kind: 'message', dir: 'j2r', data: b64(RESPONDS.someOneF64), loc: { input: 'x' } });
    expect(m.issues).toEqual([]);
    const results = (m.body as JRespBody).results;
    expect(results).toHaveLength(6);
    expect(results[5]!.value).toEqual({ kind: 'option', value: { kind: 'float', type: 'f64', value: 1 } });
  });
});

describe('deep nesting (examples §5)', () => {
  const order = DEEP_NESTING_ORDER;

  it('reserved-count: every message decodes exactly, at the right depth', () => {
    const msgs = run('reserved-count', order.map(([dir, n]) => [dir, DEEP_NESTING.reservedCount[n]]));
    for (const m of msgs) expect(m.issues).toEqual([]);
    expect(msgs.map((m) => m.depth)).toEqual([0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0]);
    const m1 = rEval(msgs[0]!);
    expect(m1.reservedCount).toBe(4);
    expect(m1.ops.map((o) => o.fnId)).toEqual([20, 3, 21, 12, 25, 10]);
    expect(m1.ops.map((o) => o.typeId)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(m1.ops[2]!.args).toEqual([{ kind: 'heapref', id: 132 }, { kind: 'heapref', id: 133 }]);
    expect(m1.ops[4]!.args[1]).toMatchObject({ kind: 'string', value: 'v1' });
    const m2 = rEval(msgs[2]!);
    expect(m2).toMatchObject({ reservedCount: 2 });
    expect(m2.ops.map((o) => [o.fnId, o.marker, o.typeId])).toEqual([[3, 'cached', 1], [22, 'cached', 2]]);
    expect(m2.ops[1]!.args).toEqual([{ kind: 'heapref', id: 127 }, { kind: 'heapref', id: 136 }]);
    const m4 = rEval(msgs[6]!);
    expect(m4.ops[0]).toMatchObject({ fnId: 24, marker: 'full', typeId: 6, args: [{ kind: 'heapref', id: 125 }] });
    expect((msgs[8]!.body as RRespBody).value).toEqual({ kind: 'heapref', id: 140 });
    expect((msgs[12]!.body as RRespBody).value).toEqual({ kind: 'heapref', id: 137 });
    // R1 answers M1 and carries only as_f64's Option<f64>.
    expect(msgs[13]!.exchange).toBe(msgs[0]!.exchange);
  });

  it('legacy M1 and M2 decode with u64 keys and no prelude', () => {
    const msgs = run('legacy', [['r2j', DEEP_NESTING.legacy.M1], ['j2r', 'GAAAABgAAAAZAAAAAAAAAAEAAAABAAAAAA=='], ['r2j', DEEP_NESTING.legacy.M2]]);
    for (const m of msgs) expect(m.issues).toEqual([]);
    expect(rEval(msgs[0]!).ops[1]!.args[0]).toMatchObject({ kind: 'callback', key: 1 + 2 ** 32 });
    expect(rEval(msgs[2]!).ops[1]!.args).toEqual([{ kind: 'heapref', id: 127 }, { kind: 'heapref', id: 136 }]);
  });
});
