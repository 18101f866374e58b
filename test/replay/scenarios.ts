/**
 * Small traces, each a minimal pair: `trigger` shows one finding kind, `clean` is the same
 * conversation done right. Function ids are illustrative: make 7 (String -> JsValue),
 * use 9 (JsValue -> bool), drop_heap_ref 12, cast 3, invoke 30 (callback -> ()), get 31.
 */
import type { TypeDef } from '../../src/protocol/types.js';
import type { BadRecord, MessageRecord, TraceRecord } from '../../src/trace/record.js';
import type { Revision } from '../../src/protocol/revisions.js';
import type { AnalyzeOptions } from '../../src/replay/index.js';
import { fileURLToPath } from 'node:url';
import { DEEP_NESTING, EXAMPLE_A, EXAMPLE_B, EXAMPLE_C_SESSION } from '../fixtures/spec-examples.js';
import { Ops, T, V, jCallback, jResp, rEval, rResp, trace, type Msg } from './helpers.js';

export const MAKE = 7;
export const USE = 9;
export const DROP = 12;
export const CAST = 3;
export const INVOKE = 30;
export const GET = 31;
export const NOOP = 50;

const refResult = { type: T.ref, value: V.ref() };
const filled = { type: T.ref, value: V.ref(), filled: true };
const unit = { type: T.null, value: V.unit() };
const boolResult = (b: boolean) => ({ type: T.bool, value: V.bool(b) });

export const CB0 = T.callback([], T.null);
export const CB_REF = T.callback([T.ref], T.null);
export const CB_BORROWED = T.callback([T.borrowed], T.null);

export interface Case {
  readonly records: TraceRecord[] | { inputs: Array<{ records: TraceRecord[] }> };
  readonly options?: AnalyzeOptions;
}

/** `make(s)` unbatched: N = 0, result taken after the J-Resp. */
function make(o: Ops, s: string, rev: Revision = 'reserved-count'): Msg[] {
  const prelude = rev === 'reserved-count' ? { reservedCount: 0 } : rev === 'evaluate-id' || rev === 'seq-id' ? { reservedCount: 0, evaluateId: 0 } : {};
  return [['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str(s)])], prelude)], ['j2r', jResp([refResult])]];
}

function use(o: Ops, id: number): Msg[] {
  return [['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(id)])], { reservedCount: 0 })], ['j2r', jResp([boolResult(true)])]];
}

function drop(o: Ops, id: number): Msg[] {
  return [['r2j', rEval([o.drop(DROP, id)], { reservedCount: 0 })], ['j2r', jResp([unit])]];
}

// ---- reserved-count basics ---------------------------------------------------------------

export function unknownHeapId(bad: boolean): Case {
  const o = new Ops();
  return { records: trace('reserved-count', [...make(o, 'a'), ...use(o, bad ? 150 : 132)]) };
}

export function doubleFree(bad: boolean): Case {
  const o = new Ops();
  return { records: trace('reserved-count', [...make(o, 'a'), ...drop(o, 132), ...(bad ? drop(o, 132) : [])]) };
}

export function useAfterFree(bad: boolean): Case {
  const o = new Ops();
  return { records: trace('reserved-count', [...make(o, 'a'), ...(bad ? drop(o, 132) : []), ...use(o, 132)]) };
}

/** N > H: two placeholders announced, one JsValue op. */
export function underfilled(bad: boolean): Case {
  const o = new Ops();
  const batch = rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')]), o.op(USE, [T.ref], T.bool, [V.ref(132)])], { reservedCount: bad ? 2 : 1 });
  return { records: trace('reserved-count', [['r2j', batch], ['j2r', jResp([filled, boolResult(true)])], ...make(o, 'b'), ...use(o, 133)]) };
}

/** H > N > 0: one placeholder announced, two JsValue ops (the second flushed by a stack closure). */
export function overfilled(bad: boolean): Case {
  const o = new Ops();
  const batch = rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')]), o.op(MAKE, [T.str], T.ref, [V.str('b')])], { reservedCount: bad ? 1 : 2 });
  return { records: trace('reserved-count', [['r2j', batch], ...(bad ? [] : ([['j2r', jResp([filled, filled])]] as Msg[]))]) };
}

export function respondWithoutEvaluate(bad: boolean): Case {
  const o = new Ops();
  return { records: trace('reserved-count', [...make(o, 'a'), ...(bad ? ([['j2r', jResp([])]] as Msg[]) : [])]) };
}

export function unanswered(bad: boolean): Case {
  const o = new Ops();
  const m = make(o, 'a');
  return { records: trace('reserved-count', bad ? [m[0]!] : m) };
}

export function recordsLost(bad: boolean): Case {
  const o = new Ops();
  const records = trace('reserved-count', [...make(o, 'a'), ...make(o, 'b')]);
  if (bad) (records[3] as MessageRecord).seq = 4;
  if (bad) (records[4] as MessageRecord).seq = 5;
  return { records };
}

/** examples.md §3: a callback returns the JsValue it just dropped (use-after-free, derived trigger). */
export function exampleC(returnsDropped: boolean): Case {
  const o = new Ops();
  const cbType = T.callback([T.borrowed, T.ref], returnsDropped ? T.ref : T.null);
  const msgs: Msg[] = [
    ['r2j', EXAMPLE_B.reservedCountREval],
    ['j2r', EXAMPLE_B.boolFalseJResp],
  ];
  // The B ops used type ids 0 and 1; continue the numbering.
  o.op(MAKE, [T.str], T.ref, []);
  o.op(USE, [T.ref, T.ref], T.bool, []);
  msgs.push(['r2j', rEval([o.op(CAST, [cbType], T.ref, [V.cb(0, cbType)])], { reservedCount: 0 })], ['j2r', jResp([refResult])]);
  msgs.push(['j2r', jCallback(0, cbType, [V.borrowed(), V.ref()])]);
  msgs.push(['r2j', rEval([o.drop(DROP, 135)], { reservedCount: 0 })], ['j2r', jResp([unit])]);
  msgs.push(['r2j', returnsDropped ? rResp(T.ref, V.ref(135)) : rResp()]);
  return { records: trace('reserved-count', msgs) };
}

/** The spec's own example C bytes (callback returning `()`): clean. */
export function exampleCFixture(): Case {
  return {
    records: trace('reserved-count', EXAMPLE_C_SESSION.map(([d, x]) => [d, x])),
  };
}

// ---- nesting, windows, borrow stack ------------------------------------------------------

/** An op whose HeapRef argument is a placeholder a later op of the same R-Eval fills. */
export function nestedEncodeOrder(bad: boolean): Case {
  const o = new Ops();
  const inner = o.op(GET, [T.u32], T.ref, [V.u32(5)]);
  const outer = o.op(USE + 1, [T.ref], T.ref, [V.ref(132)]);
  const ops = bad ? [outer, inner] : [{ ...inner, marker: 'full' as const }, { ...outer }];
  return { records: trace('reserved-count', [['r2j', rEval(ops, { reservedCount: 2 })], ['j2r', jResp([filled, filled])]]) };
}

/** A borrowed reference used after its callback returned. */
export function borrowEscaped(bad: boolean): Case {
  const o = new Ops();
  const invoke = rEval([o.op(INVOKE, [CB_BORROWED], T.null, [V.cb(1, CB_BORROWED)])], { reservedCount: 0 });
  const inner = rEval([o.op(USE, [T.ref], T.bool, [V.ref(127)])], { reservedCount: 0 });
  const msgs: Msg[] = [['r2j', invoke], ['j2r', jCallback(1, CB_BORROWED, [V.borrowed()])]];
  if (!bad) msgs.push(['r2j', inner], ['j2r', jResp([boolResult(true)])]);
  msgs.push(['r2j', rResp()], ['j2r', jResp([unit])]);
  if (bad) msgs.push(['r2j', inner], ['j2r', jResp([boolResult(true)])]);
  return { records: trace('reserved-count', msgs) };
}

/** `depth` nested callbacks, each taking a borrowed reference: more than 127 overflow the stack. */
export function borrowDepth(depth: number): Case {
  const o = new Ops();
  const msgs: Msg[] = [];
  for (let i = 0; i < depth; i++) {
    msgs.push(['r2j', rEval([o.op(INVOKE, [CB_BORROWED], T.null, [V.cb(1, CB_BORROWED)])], { reservedCount: 0 })]);
    msgs.push(['j2r', jCallback(1, CB_BORROWED, [V.borrowed()])]);
  }
  for (let i = 0; i < depth; i++) msgs.push(['r2j', rResp()], ['j2r', jResp([unit])]);
  return { records: trace('reserved-count', msgs) };
}

/**
 * JS threw inside a nested R-Eval; the exception was caught further out, so the frames it
 * had pushed stay pushed and the next quiescent point finds the borrow stack off.
 */
export function borrowUnbalanced(bad: boolean): Case {
  const o = new Ops();
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(INVOKE, [CB_BORROWED], T.null, [V.cb(1, CB_BORROWED)])], { reservedCount: 0 })],
    ['j2r', jCallback(1, CB_BORROWED, [V.borrowed()])],
    ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(127)])], { reservedCount: 0 })],
  ];
  if (!bad) msgs.push(['j2r', jResp([boolResult(true)])]);
  msgs.push(['r2j', rResp()], ['j2r', jResp([unit])]);
  return { records: trace('reserved-count', msgs) };
}

/**
 * legacy batch: op 1 triggers a registered closure (#132) whose body calls a function whose
 * TYPE_FULL sits in op 2 of the same batch, not parsed yet by JS.
 */
export function typeRace(bad: boolean): Case {
  const o = new Ops();
  const cast = rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0)])]);
  const trigger = o.op(INVOKE, [T.ref], T.null, [V.ref(132)]);
  const get = o.op(GET, [T.u32], T.ref, [V.u32(1)]);
  // Clean: get runs (and JS parses its type) before the op that calls back. The other order,
  // even with the type sent in full, leaves get's placeholder outstanding while the callback's
  // value is stored: the legacy drift (reported at creation), not a clean run.
  const outer = rEval(bad ? [trigger, get] : [get, trigger]);
  const innerOp = o.op(GET, [T.u32], T.ref, [V.u32(2)]);
  const inner = rEval([{ ...innerOp, marker: 'cached' }]);
  const msgs: Msg[] = [['r2j', cast], ['j2r', jResp([refResult])], ['r2j', outer], ['j2r', jCallback(1, CB0, [])], ['r2j', inner]];
  if (!bad) msgs.push(['j2r', jResp([refResult])], ['r2j', rResp()], ['j2r', jResp([refResult, unit])]);
  return { records: trace('legacy', msgs) };
}

// ---- decoder-level -----------------------------------------------------------------------

export function unknownTypeIdNeverDefined(bad: boolean): Case {
  const o = new Ops();
  const op = o.op(MAKE, [T.str], T.ref, [V.str('a')]);
  return { records: trace('reserved-count', [['r2j', rEval([bad ? { ...op, marker: 'cached', typeId: 9 } : op], { reservedCount: 0 })], ['j2r', jResp([refResult])]]) };
}

export function typeRedefined(bad: boolean): Case {
  const o = new Ops();
  const a = o.op(MAKE, [T.str], T.ref, [V.str('a')]);
  const b = o.op(USE, [T.ref], T.bool, [V.ref(132)]);
  const b2 = bad ? { ...b, typeId: a.typeId } : b;
  return { records: trace('reserved-count', [['r2j', rEval([a], { reservedCount: 0 })], ['j2r', jResp([refResult])], ['r2j', rEval([b2], { reservedCount: 0 })], ['j2r', jResp([boolResult(true)])]]) };
}

export function unknownCallback(bad: boolean): Case {
  const o = new Ops();
  return {
    records: trace('reserved-count', [
      ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(0, CB0)])], { reservedCount: 0 })],
      ['j2r', jResp([refResult])],
      ['j2r', jCallback(bad ? 7 : 0, CB0, [])],
      ['r2j', rResp()],
    ]),
  };
}

export function unknownCallKind(bad: boolean): Case {
  const o = new Ops();
  return {
    records: trace('reserved-count', [
      ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(0, CB0)])], { reservedCount: 0 })],
      ['j2r', jResp([refResult])],
      ['j2r', bad ? { kind: 'j-eval', call: { kind: 'unknown', fnId: 5 } } : jCallback(0, CB0, [])],
      ['r2j', rResp()],
    ]),
  };
}

export function invalidHeader(bad: boolean): Case {
  const good = EXAMPLE_A.reservedCountREval;
  const bytes = Buffer.from(good, 'base64');
  if (bad) bytes.writeUInt32LE(13, 0);
  return { records: trace('reserved-count', [['r2j', new Uint8Array(bytes)], ['j2r', EXAMPLE_A.emptyJResp]]) };
}

export function decodeError(bad: boolean): Case {
  const bytes = Buffer.from(EXAMPLE_A.reservedCountREval, 'base64');
  // Cut the string bytes off: the str buffer runs short.
  const data = bad ? new Uint8Array(bytes.subarray(0, bytes.length - 2)) : new Uint8Array(bytes);
  return { records: trace('reserved-count', [['r2j', data], ['j2r', EXAMPLE_A.emptyJResp]]) };
}

export function trailingBytes(bad: boolean): Case {
  return { records: trace('reserved-count', [['r2j', EXAMPLE_A.reservedCountREval], ['j2r', bad ? EXAMPLE_B.boolFalseJResp : EXAMPLE_A.emptyJResp]]) };
}

/**
 * JS cuts strings out of the decoded str buffer by byte length: "é" then "tag" read as "ét",
 * "ag". The clean twin sends the same strings the other way round: "tag" then "é", and "é",
 * the last text of the message, is read whole.
 */
export function nonAscii(bad: boolean): Case {
  const o = new Ops();
  const strs = bad ? ['é', 'tag'] : ['tag', 'é'];
  const ops = strs.map((s) => o.op(MAKE, [T.str], T.ref, [V.str(s)]));
  return { records: trace('reserved-count', [['r2j', rEval(ops, { reservedCount: 2 })], ['j2r', jResp([filled, filled])]]) };
}

/** examples.md "Respond messages" + issue #21: an empty J-Resp taken by a flush expecting a bool. */
export function respondShapeMismatch(bad: boolean): Case {
  const o = new Ops();
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(INVOKE, [CB0], T.null, [V.cb(1, CB0)])], { reservedCount: 0 })],
    ['j2r', jCallback(1, CB0, [])],
    ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(128)])], { reservedCount: 0 })],
  ];
  if (bad) msgs.push(['j2r', jResp([unit])]);
  else msgs.push(['j2r', jResp([boolResult(true)])], ['r2j', rResp()], ['j2r', jResp([unit])]);
  return { records: trace('reserved-count', msgs) };
}

export function badRecord(bad: boolean): Case {
  const records = trace('reserved-count', [['r2j', EXAMPLE_A.reservedCountREval], ['j2r', EXAMPLE_A.emptyJResp]]);
  if (bad) {
    const broken: BadRecord = { kind: 'bad', message: 'data: not base64', dir: 'j2r', seq: 2, loc: { input: 'test', line: 3 } };
    records[2] = broken;
  }
  return { records };
}

// ---- by-id revisions -----------------------------------------------------------------------

/**
 * evaluate-id, Rust-side order (issue #21): a top-level R-Eval (id 5) is running nested in a
 * timer callback's XHR; the callback's own R-Eval (id 6) is innermost when the J-Resp of 5 arrives.
 */
export function misroutedById(kind: 'clean' | 'set-aside' | 'not-open'): Case {
  const o = new Ops();
  const cast = rEval([o.op(CAST, [CB0], T.ref, [V.cb(1, CB0)])], { evaluateId: 4, reservedCount: 0 });
  const top = rEval([o.op(USE, [T.ref], T.bool, [V.ref(132)])], { evaluateId: 5, reservedCount: 0 });
  const inner = rEval([o.op(USE, [T.ref], T.bool, [V.ref(132)])], { evaluateId: 6, reservedCount: 0 });
  const msgs: Msg[] = [['r2j', cast], ['j2r', jResp([refResult], 4)], ['r2j', top], ['j2r', jCallback(1, CB0, [])], ['r2j', inner]];
  if (kind === 'clean') msgs.push(['j2r', jResp([boolResult(true)], 6)], ['r2j', rResp()], ['j2r', jResp([boolResult(true)], 5)]);
  else if (kind === 'set-aside') msgs.push(['j2r', jResp([boolResult(true)], 5)], ['j2r', jResp([boolResult(true)], 6)], ['r2j', rResp()]);
  else msgs.push(['j2r', jResp([boolResult(true)], 9)]);
  return { records: trace('evaluate-id', msgs, { side: 'rust' }) };
}

/** seq-id: JS writes the ID it chose for a timer callback's argument, one Rust already gave a placeholder. */
export function idAlias(bad: boolean): Case {
  const o = new Ops();
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB_REF], T.ref, [V.cb(1, CB_REF)])], { evaluateId: 1, reservedCount: 0 })],
    ['j2r', jResp([{ type: T.ref, value: V.ref(132) }], 1)],
    // A batch (two ops, one placeholder): a lone op with N = 1 could also be an unbatched call with a stale count.
    ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')]), o.op(NOOP, [], T.null, [])], { evaluateId: 2, reservedCount: 1 })],
    ['j2r', jCallback(1, CB_REF, [V.ref(bad ? 133 : 134)])],
    ['r2j', { kind: 'r-resp' }],
    ['j2r', jResp([filled, unit], 2)],
  ];
  return { records: trace('seq-id', msgs, { side: 'rust' }) };
}

// ---- legacy-freelist ------------------------------------------------------------------------

/**
 * Rust frees #133 when it queues the drop and hands it to the next value; a timer callback's
 * argument arrives before JS ran that drop, so JS stores it at a fresh ID.
 */
export function freelist(bad: boolean): Case {
  const o = new Ops();
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB_REF], T.ref, [V.cb(1, CB_REF)])])],
    ['j2r', jResp([refResult])],
    ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('x')])])],
    ['j2r', jResp([refResult])],
    ['r2j', rEval([o.drop(DROP, 133)])],
  ];
  if (bad) msgs.push(['j2r', jCallback(1, CB_REF, [V.ref()])], ['r2j', rResp()], ['j2r', jResp([unit])]);
  else msgs.push(['j2r', jResp([unit])], ['j2r', jCallback(1, CB_REF, [V.ref()])], ['r2j', rResp()]);
  msgs.push(['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(133)])])], ['j2r', jResp([boolResult(true)])]);
  return { records: trace('legacy-freelist', msgs) };
}

// ---- explicit-ids -----------------------------------------------------------------------------

export function explicitInstall(bad: boolean): Case {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB_REF], T.ref, [V.cb(1, CB_REF, 1)])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
  ];
  if (bad) msgs.push(['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(132)])], { installIds: [133], reservedIds: [] })], ['j2r', jResp([boolResult(true)])]);
  else msgs.push(['j2r', jCallback(1, CB_REF, [V.ref()])], ['r2j', rResp(undefined, undefined, [133])]);
  msgs.push(['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(133)])], { installIds: [], reservedIds: [] })], ['j2r', jResp([boolResult(true)])]);
  return { records: trace('explicit-ids', msgs) };
}

export function explicitOccupied(bad: boolean): Case {
  const o = new Ops(true);
  const mk = (id: number): Msg[] => [
    ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')])], { installIds: [], reservedIds: [id] })],
    ['j2r', jResp([filled])],
  ];
  return { records: trace('explicit-ids', [...mk(132), ...mk(bad ? 132 : 133)]) };
}

/**
 * Rust drops #132 in a batch and, before that batch is answered, reserves #132 again for a
 * value made inside a callback the batch triggered.
 */
export function explicitReuse(bad: boolean): Case {
  const o = new Ops(true);
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('a')])], { installIds: [], reservedIds: [132] })],
    ['j2r', jResp([filled])],
    ['r2j', rEval([o.drop(DROP, 132), o.op(INVOKE, [CB0], T.null, [V.cb(1, CB0, 0)])], { installIds: [], reservedIds: [] })],
    ['j2r', jCallback(1, CB0, [])],
    ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('b')])], { installIds: [], reservedIds: [bad ? 132 : 133] })],
    ['j2r', jResp([filled])],
    ['r2j', rResp(undefined, undefined, [])],
    ['j2r', jResp([unit, unit])],
  ];
  return { records: trace('explicit-ids', msgs) };
}

// ---- misc -------------------------------------------------------------------------------------

export function leaks(bad: boolean): Case {
  const o = new Ops();
  return { records: trace('reserved-count', [...make(o, 'a'), ...(bad ? [] : drop(o, 132))]), options: { reportLeaks: true } };
}

/** JS-side record: a callback's R-Resp never arrives before JS's next J-Eval. */
export function lostRespond(bad: boolean): Case {
  const o = new Ops();
  const msgs: Msg[] = [
    ['r2j', rEval([o.op(CAST, [CB0], T.ref, [V.cb(0, CB0)])], { reservedCount: 0 })],
    ['j2r', jResp([refResult])],
    ['j2r', jCallback(0, CB0, [])],
  ];
  if (!bad) msgs.push(['r2j', rResp()]);
  msgs.push(['j2r', jCallback(0, CB0, [])], ['r2j', rResp()]);
  return { records: trace('reserved-count', msgs, { side: 'js' }) };
}

export const deepNestingLegacy: Msg[] = [
  ['r2j', DEEP_NESTING.legacy.M1],
  ['j2r', 'GAAAABgAAAAZAAAAAAAAAAEAAAABAAAAAA=='],
  ['r2j', DEEP_NESTING.legacy.M2],
];

export function refType(): TypeDef {
  return T.ref;
}

// ---- both sides recorded -----------------------------------------------------------------------

/** The messages of one session, named so each side can list them in its own order. */
export function sessionMessages() {
  const o = new Ops();
  return {
    A: ['r2j', rEval([o.op(CAST, [CB_REF], T.ref, [V.cb(1, CB_REF)])], { reservedCount: 0 })] as Msg,
    JA: ['j2r', jResp([refResult])] as Msg,
    // Rust batches make("x") and a unit call: placeholder 133, N = 1.
    X: ['r2j', rEval([o.op(MAKE, [T.str], T.ref, [V.str('x')]), o.op(NOOP, [], T.null, [])], { reservedCount: 1 })] as Msg,
    // A timer calls the callback with a JsValue argument.
    C: ['j2r', jCallback(1, CB_REF, [V.ref()])] as Msg,
    RC: ['r2j', rResp()] as Msg,
    JX: ['j2r', jResp([filled, unit])] as Msg,
    // Rust uses make("x")'s result, #133.
    U: ['r2j', rEval([o.op(USE, [T.ref], T.bool, [V.ref(133)])], { reservedCount: 0 })] as Msg,
    JU: ['j2r', jResp([boolResult(true)])] as Msg,
  };
}

export function twoFiles(rust: Msg[], js: Msg[], rev: Revision = 'reserved-count'): Case['records'] {
  return {
    inputs: [
      { records: trace(rev, rust, { side: 'rust', input: 'rust.log' }) },
      { records: trace(rev, js, { side: 'js', input: 'js.log' }) },
    ],
  };
}

export function crossed(bad: boolean): Case {
  const m = sessionMessages();
  const rust = [m.A, m.JA, m.X, m.C, m.RC, m.JX, m.U, m.JU];
  return { records: twoFiles(rust, bad ? [m.A, m.JA, m.C, m.X, m.JX, m.RC, m.U, m.JU] : rust) };
}

export function sideMissing(bad: boolean): Case {
  const m = sessionMessages();
  const order = [m.A, m.JA, m.X, m.JX, m.U, m.JU];
  return { records: twoFiles(order, bad ? order.slice(0, 5) : order) };
}

export function bytesDiffer(bad: boolean): Case {
  const make = (s: string): Msg => ['r2j', rEval([new Ops().op(MAKE, [T.str], T.ref, [V.str(s)])], { reservedCount: 0 })];
  return { records: twoFiles([make('x'), ['j2r', jResp([refResult])]], [make(bad ? 'y' : 'x'), ['j2r', jResp([refResult])]]) };
}

export function heapFile(bad: boolean): Case {
  const R = DEEP_NESTING.reservedCount;
  const msgs: Msg[] = [
    ['r2j', R.M1], ['j2r', R.C1], ['r2j', R.M2], ['j2r', R.C2], ['r2j', R.M3], ['j2r', R.C3], ['r2j', R.M4],
    ['j2r', R.R4], ['r2j', R.RC3], ['j2r', R.R3], ['r2j', R.RC2], ['j2r', R.R2], ['r2j', R.RC1], ['j2r', R.R1],
  ];
  return { records: trace('reserved-count', msgs), options: { jsHeap: fileURLToPath(new URL(`./fixtures/heap-${bad ? 'buggy' : 'ok'}.ts`, import.meta.url)) } };
}

/** legacy, batched, nothing nested: the same IDs on both sides. */
export function legacyDeep(bad: boolean): Case {
  return { records: trace('legacy', bad ? deepNestingLegacy : [['r2j', EXAMPLE_B.legacyREval], ['j2r', EXAMPLE_B.boolFalseJResp]]) };
}
