/**
 * Shapes the genuine upstream runtime produced that the simulated corpus lacked (conformance
 * report D8, D6), built by hand from the spec's rules: each trigger with its clean twin.
 */
import { describe, expect, it } from 'vitest';
import type { Value } from '../../src/protocol/values.js';
import { Ops, T, V, jCallback, jResp, kinds, rEval, run, show, trace, type Msg } from './helpers.js';
import { CB_REF, INVOKE, MAKE, USE } from './scenarios.js';

const filled = { type: T.ref, value: V.ref(), filled: true };
const cachedStr = (id: number): Value => ({ kind: 'cached-string', id });

describe('explicit-ids: a JS throw unwinds its frames in finally (D8)', () => {
  // #132 holds the JsValue of "abc"; a cached-string reference names a slot JS reads the string from.
  function cached(target: number, answered: boolean): Msg[] {
    const o = new Ops(true);
    const msgs: Msg[] = [
      ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('abc')])], { installIds: [], reservedIds: [132] })],
      ['j2r', jResp([filled])],
      ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [cachedStr(target)])], { installIds: [], reservedIds: [133] })],
    ];
    if (answered) msgs.push(['j2r', jResp([filled])]);
    return msgs;
  }

  it('a cached string naming an empty slot: JS throws, no frame is left behind', async () => {
    const r = await run(trace('explicit-ids', cached(140, false)));
    expect(kinds(r), show(r)).toEqual(['unknown-heap-id', 'unanswered-evaluate']);
    expect(r.findings[0]!.certainty, show(r)).toBe('definite');
  });

  it('clean twin: a cached string naming a stored value', async () => {
    const r = await run(trace('explicit-ids', cached(132, true)));
    expect(kinds(r), show(r)).toEqual([]);
  });

  // A callback runs inside op 1 of an R-Eval; its nested R-Eval passes an unknown heap ref, so JS
  // throws ("Unknown JS heap reference ID") through RustFunction.call's finally and the outer loop's.
  function nested(bad: boolean, rev: 'explicit-ids' | 'evaluate-id'): Msg[] {
    const o = new Ops(rev === 'explicit-ids');
    const prelude = (ids: number[]) => (rev === 'explicit-ids' ? { installIds: [], reservedIds: ids } : { reservedCount: ids.length, evaluateId: 0 });
    const msgs: Msg[] = [
      ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')])], prelude([132]))],
      ['j2r', rev === 'explicit-ids' ? jResp([filled]) : jResp([filled], 0)],
      ['r2j', rEval([o.op(INVOKE, [CB_REF, T.ref], T.null, [V.cb(1, CB_REF, 1), V.ref(132)])], prelude([]))],
      ['j2r', jCallback(1, CB_REF, [V.ref(rev === 'explicit-ids' ? undefined : 133)])],
      ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(bad ? 150 : 132)])], prelude([]))],
    ];
    return msgs;
  }

  it('a throw nested in a callback: both exchanges stay unanswered, neither keeps its frame', async () => {
    const r = await run(trace('explicit-ids', nested(true, 'explicit-ids')));
    expect(kinds(r), show(r)).not.toContain('borrow-frame-unbalanced');
    expect(kinds(r), show(r)).toContain('unknown-heap-id');
  });
});

describe('non-ascii-string: exactly the strings JS misreads (D6, ts/encoding.ts takeStr)', () => {
  async function notes(strs: string[]): Promise<string[]> {
    const o = new Ops();
    const ops = strs.map((s) => o.op(MAKE, [T.str], T.ref, [V.str(s)]));
    const r = await run(trace('reserved-count', [['r2j', rEval(ops, { reservedCount: ops.length })], ['j2r', jResp(strs.map(() => filled))]]));
    expect(r.findings.filter((f) => f.kind !== 'non-ascii-string'), show(r)).toEqual([]);
    return r.findings.filter((f) => f.kind === 'non-ascii-string').map((f) => f.message);
  }

  it('a non-ASCII string shifts every later one and runs into the next', async () => {
    const n = await notes(['é', 'tag', 'x']);
    expect(n).toHaveLength(3);
    expect(n[0]).toContain('"é" is read by JS as "ét"');
    expect(n[1]).toContain('"tag" is read by JS as "agx"');
    expect(n[2]).toContain('"x" is read by JS as ""');
  });

  it('clean twins: the last text of its message, after only ASCII strings, is read whole', async () => {
    expect(await notes(['tag', '日本'])).toEqual([]);
    expect(await notes(['日本'])).toEqual([]);
    // Empty strings after it take no text: still nothing for the cut to run into.
    expect(await notes(['a', 'é', ''])).toEqual([]);
    expect(await notes(['abc', 'def'])).toEqual([]);
  });

  it('one message at a time: a non-ASCII string in an earlier message shifts nothing', async () => {
    const o = new Ops();
    const mk = (s: string): Msg[] => [['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str(s)])], { reservedCount: 0 })], ['j2r', jResp([{ type: T.ref, value: V.ref() }])]];
    const r = await run(trace('reserved-count', [...mk('é'), ...mk('tag')]));
    expect(kinds(r), show(r)).toEqual([]);
  });
});
