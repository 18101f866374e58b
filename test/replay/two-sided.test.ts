import { describe, expect, it } from 'vitest';
import type { BadRecord, TraceRecord } from '../../src/trace/record.js';
import { analyze } from '../../src/replay/index.js';
import { Ops, T, V, jCallback, jResp, kinds, rEval, rResp, show, trace, type Msg } from './helpers.js';
import { CAST, MAKE, sessionMessages } from './scenarios.js';

const filled = { type: T.ref, value: V.ref(), filled: true };
const refResult = { type: T.ref, value: V.ref() };

const messages = sessionMessages;

function sides(rust: Msg[], js: Msg[]): { rust: TraceRecord[]; js: TraceRecord[] } {
  return {
    rust: trace('reserved-count', rust, { side: 'rust', input: 'rust.log' }),
    js: trace('reserved-count', js, { side: 'js', input: 'js.log' }),
  };
}

describe('both sides recorded', () => {
  it('in sync: two files give the same result as one, and no findings', async () => {
    const m = messages();
    const order = [m.A, m.JA, m.X, m.JX, m.C, m.RC, m.U, m.JU];
    const s = sides(order, order);
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(r.findings, show(r)).toEqual([]);
    expect(r.sessions[0]).toMatchObject({ sides: ['rust', 'js'], messages: 8, records: 16 });
  });

  it('crossed in flight: each side runs its model in its own order, and the IDs differ', async () => {
    const m = messages();
    const s = sides([m.A, m.JA, m.X, m.C, m.RC, m.JX, m.U, m.JU], [m.A, m.JA, m.C, m.X, m.JX, m.RC, m.U, m.JU]);
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['crossed-in-flight', 'crossed-in-flight', 'placeholder-id-mismatch']);
    const [root, again, mismatch] = r.findings;
    expect(root).toMatchObject({ severity: 'error', consequences: 2, location: { side: 'js', input: 'js.log' } });
    expect(root!.detail).toMatchObject({ rustOrder: [3, 4], jsOrder: [4, 3], inverted: true, allocating: true });
    expect(again!.causedBy).toBe(0);
    // Rust: #133 = make("x") (placeholder taken before the callback's argument, #134);
    // JS stored the callback's argument first, at #133, and make("x") at #134.
    expect(mismatch).toMatchObject({ causedBy: 0, rustId: 133, jsId: 134, location: { side: 'js', input: 'js.log' } });
    expect(mismatch!.message).toContain('JS #133 holds argument 1 of callback 1');
  });

  it('one combined log with side= fields works like two files', async () => {
    const m = messages();
    const s = sides([m.A, m.JA, m.X, m.C, m.RC, m.JX, m.U, m.JU], [m.A, m.JA, m.C, m.X, m.JX, m.RC, m.U, m.JU]);
    const merged: TraceRecord[] = [];
    for (let i = 0; i < Math.max(s.rust.length, s.js.length); i++) {
      if (s.rust[i]) merged.push(s.rust[i]!);
      if (s.js[i] && i > 0) merged.push(s.js[i]!);
    }
    const r = await analyze(merged);
    expect(kinds(r), show(r)).toEqual(['crossed-in-flight', 'crossed-in-flight', 'placeholder-id-mismatch']);
  });

  it('a message the receiver recorded but the sender did not: the sender\'s record was lost, so it is replayed from the copy', async () => {
    const m = messages();
    const order = [m.A, m.JA, m.X, m.JX, m.U, m.JU];
    const s = sides(order, order.slice(0, 5));
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['side-missing-record']);
    expect(r.findings[0]).toMatchObject({ severity: 'warning', location: { side: 'rust', input: 'rust.log' }, detail: { missingOn: 'js', restored: true } });
  });

  it('a message the sender recorded but the receiver did not: side-missing-record, and that side never saw it', async () => {
    const m = messages();
    const s = sides([m.A, m.JA, m.X, m.JX, m.U], [m.A, m.JA, m.X, m.JX]);
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['side-missing-record']);
    expect(r.findings[0]).toMatchObject({ severity: 'warning', location: { side: 'rust', message: 5 }, detail: { missingOn: 'js' } });
    expect(r.findings[0]!.detail?.restored).toBeUndefined();
  });

  it('bytes that differ between the two copies of one message', async () => {
    const make = (s: string): Msg => ['r2j', rEval([new Ops().op(MAKE, [T.str], T.ref, [V.str(s)])], { reservedCount: 0 })];
    const s = sides([make('x'), ['j2r', jResp([refResult])]], [make('y'), ['j2r', jResp([refResult])]]);
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['side-bytes-differ']);
    expect(r.findings[0]).toMatchObject({ severity: 'error', location: { message: 1 }, detail: { firstDifference: 33 } });
  });

  it("a damaged record is restored from the other side's copy (sessions.md §7)", async () => {
    const m = messages();
    const order = [m.A, m.JA, m.X, m.JX, m.U, m.JU];
    const s = sides(order, order);
    const bad: BadRecord = { kind: 'bad', message: 'data: invalid base64', side: 'js', seq: 3, loc: { input: 'js.log', line: 4 } };
    s.js[3] = bad;
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['bad-record']);
    expect(r.findings[0]).toMatchObject({ severity: 'warning', detail: { restored: true }, location: { input: 'js.log', line: 4 } });
  });

  it('records lost on one side (seq gap) are restored from the other side', async () => {
    const m = messages();
    const order = [m.A, m.JA, m.X, m.JX, m.U, m.JU];
    const s = sides(order, order);
    s.js.splice(3, 2); // js seq 3 and 4 lost
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['records-lost']);
    expect(r.findings[0]).toMatchObject({ severity: 'warning', location: { side: 'js', seq: 5 }, detail: { from: 3, to: 4 } });
  });

  it('an R-Resp Rust sent that JS never got is lost-respond', async () => {
    const o = new Ops();
    const CB0 = T.callback([], T.null);
    const cast: Msg = ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(0, CB0)])], { reservedCount: 0 })];
    const rust: Msg[] = [cast, ['j2r', jResp([refResult])], ['j2r', jCallback(0, CB0, [])], ['r2j', rResp()], ['j2r', jCallback(0, CB0, [])], ['r2j', rResp()]];
    const js: Msg[] = [rust[0]!, rust[1]!, rust[2]!, rust[4]!, rust[5]!];
    const s = sides(rust, js);
    const r = await analyze({ inputs: [{ records: s.rust }, { records: s.js }] });
    expect(kinds(r), show(r)).toEqual(['lost-respond']);
    expect(r.findings[0]).toMatchObject({ severity: 'error', detail: { jEval: 3 } });
  });
});
