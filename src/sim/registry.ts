/**
 * The simulated "build": the JS functions Rust imports, at fixed registry positions
 * (fn ids), with their Rust signatures and scripted JS implementations. The deep-nesting
 * functions use the ids of examples.md §5 (make_level1 20, cast 3, level1 21, level2 22,
 * level3 23, level4 24, drop_heap_ref 12, extract 25, as_f64 10).
 */
import type { CallbackType, TypeDef } from '../protocol/types.js';
import { JsException, JsObject, RustFunction, type Co, type ImportDef, type JsVal } from './model.js';

/** What a scripted JS function can do (implemented by the JS peer). */
export interface JsContext {
  /** Calls `f(...args)`; throws a TypeError (`<name> is not a function`) unless f is a RustFunction. */
  callFunction(f: JsVal, name: string, args: JsVal[]): Co<JsVal>;
  /** `v[name]`; throws a TypeError for undefined/null like JS does. */
  prop(v: JsVal, name: string): JsVal;
  setProp(v: JsVal, name: string, value: JsVal): void;
  /** setTimeout(() => f(...args)): a task that runs when JS is next idle. */
  schedule(f: JsVal, name: string, args: JsVal[]): void;
  /** Page code keeps a reference to `v` (keeps a RustFunction alive for the simulated GC). */
  hold(v: JsVal): void;
  /** Page code lets go of a reference taken with `hold`. */
  unhold(v: JsVal): void;
  /** Page-level state shared by scripted functions. */
  readonly page: Map<string, JsVal>;
  /** `jsHeap.remove(id)` (drop_heap_ref). */
  heapRemove(id: number): void;
  /** `jsHeap.get(id)` (clone_heap_ref). */
  heapGet(id: number): JsVal;
  /** dispose_rust_function (explicit-ids): may send a nested native-ref drop. */
  dispose(id: number): Co<void>;
}

export type JsImpl = (js: JsContext, args: JsVal[]) => Co<JsVal>;

export interface FunctionDef extends ImportDef {
  readonly impl: JsImpl;
}

// ---- types ------------------------------------------------------------------------------

export const T = {
  unit: { kind: 'null' },
  bool: { kind: 'bool' },
  u32: { kind: 'u32' },
  u64: { kind: 'u64' },
  i64: { kind: 'i64' },
  f64: { kind: 'f64' },
  string: { kind: 'string' },
  heapref: { kind: 'heapref' },
  borrowed: { kind: 'borrowed' },
} as const satisfies Record<string, TypeDef>;

export const option = (inner: TypeDef): TypeDef => ({ kind: 'option', inner });
export const result = (ok: TypeDef, err: TypeDef): TypeDef => ({ kind: 'result', ok, err });
export const array = (element: TypeDef): TypeDef => ({ kind: 'array', element });
export const callback = (params: TypeDef[], ret: TypeDef): CallbackType => ({ kind: 'callback', params, ret });

/** `Closure<dyn FnMut(&JsValue) -> JsValue>`: the deep-nesting closures (T1's parameter). */
export const LEVEL_CB = callback([T.borrowed], T.heapref);
/** `Closure<dyn FnMut(JsValue)>`: timer callbacks. */
export const OBJ_CB = callback([T.heapref], T.unit);
/** `Closure<dyn FnMut(JsValue) -> JsValue>`. */
export const MAP_CB = callback([T.heapref], T.heapref);
/** `Closure<dyn FnMut(&JsValue)>`. */
export const BORROW_CB = callback([T.borrowed], T.unit);
/** `Closure<dyn FnMut()>`. */
export const UNIT_CB = callback([], T.unit);
/** `&dyn Fn(u32) -> u32`: a stack closure. */
export const STACK_CB = callback([T.u32], T.u32);

// ---- helpers for scripted functions -----------------------------------------------------

function num(v: JsVal): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

function* ret<V extends JsVal>(v: V): Co<V> {
  return v;
}

function def(name: string, fnId: number, params: TypeDef[], retType: TypeDef, impl: JsImpl): FunctionDef {
  return { name, fnId, params, ret: retType, impl };
}

function levelImpl(n: number): JsImpl {
  return function* (js, [ref, cb]) {
    const level = js.prop(ref, 'level');
    const inner = yield* js.callFunction(cb, `cb${n}`, [JsObject.of({ level: n + 1 })]);
    return JsObject.of({ v1: level, inner });
  };
}

/** The identity cast helper (`wbg_cast`): fn id 3 whatever its signature. */
export const CAST_FN_ID = 3;

export const F = {
  // examples.md §1-§3 (make_node 7, same_node 9)
  make_node: def('make_node', 7, [T.string], T.heapref, (_js, [tag]) => ret(JsObject.of({ tag: String(tag) }))),
  same_node: def('same_node', 9, [T.heapref, T.heapref], T.bool, (_js, [a, b]) => ret(a === b)),
  as_f64: def('as_f64', 10, [T.heapref], option(T.f64), (_js, [v]) => ret(typeof v === 'number' ? v : null)),
  drop_heap_ref: def('drop_heap_ref', 12, [T.u64], T.unit, function* (js, [id]) {
    js.heapRemove(num(id));
    return undefined;
  }),
  clone_heap_ref: def('clone_heap_ref', 13, [T.u64], T.heapref, (js, [id]) => ret(js.heapGet(num(id)))),
  dispose_rust_function: def('dispose_rust_function', 14, [T.u64], T.unit, function* (js, [id]) {
    yield* js.dispose(num(id));
    return undefined;
  }),
  make_level1: def('make_level1', 20, [], T.heapref, () => ret(JsObject.of({ level: 1 }))),
  level1: def('level1', 21, [T.heapref, T.heapref], T.heapref, levelImpl(1)),
  level2: def('level2', 22, [T.heapref, T.heapref], T.heapref, levelImpl(2)),
  level3: def('level3', 23, [T.heapref, T.heapref], T.heapref, levelImpl(3)),
  level4: def('level4', 24, [T.heapref], T.heapref, (js, [ref]) => ret(JsObject.of({ level: js.prop(ref, 'level'), leaf: true }))),
  extract: def('extract', 25, [T.heapref, T.string], T.heapref, (js, [o, k]) => ret(js.prop(o, String(k)))),
  make_obj: def('make_obj', 30, [T.u32], T.heapref, (_js, [n]) => ret(JsObject.of({ n: num(n) }))),
  get_n: def('get_n', 31, [T.heapref], T.u32, (js, [o]) => ret(js.prop(o, 'n') ?? 0)),
  get_name: def('get_name', 32, [T.heapref], T.string, (js, [o]) => ret(`obj-${String(js.prop(o, 'n'))}`)),
  try_get: def('try_get', 33, [T.heapref, T.bool], result(T.heapref, T.string), (js, [o, ok]) =>
    ret(ok ? JsObject.of({ ok: JsObject.of({ n: num(js.prop(o, 'n')) + 1000 }) }) : JsObject.of({ err: 'not found' })),
  ),
  maybe_get: def('maybe_get', 34, [T.heapref, T.bool], option(T.heapref), (js, [o, some]) =>
    ret(some ? JsObject.of({ n: num(js.prop(o, 'n')) + 2000 }) : null),
  ),
  set_flag: def('set_flag', 35, [T.heapref, T.bool], T.unit, function* (js, [o, b]) {
    js.setProp(o, 'flag', b);
    return undefined;
  }),
  list_of: def('list_of', 36, [T.u32], array(T.heapref), (_js, [n]) =>
    ret(Array.from({ length: num(n) }, (_, i) => JsObject.of({ n: 3000 + i }))),
  ),
  get_f64: def('get_f64', 37, [T.heapref], T.f64, (js, [o]) => ret(num(js.prop(o, 'n')) * 1.5)),
  is_ready: def('is_ready', 38, [], T.bool, () => ret(true)),
  register_handler: def('register_handler', 39, [T.heapref], T.unit, function* (js, [cb]) {
    js.hold(cb);
    js.page.set('handler', cb);
    return undefined;
  }),
  queue_timer: def('queue_timer', 40, [T.heapref, T.u32], T.unit, function* (js, [cb, n]) {
    js.hold(cb);
    const queued = (js.page.get('timers') as JsVal[] | undefined) ?? [];
    queued.push([cb, n]);
    js.page.set('timers', queued);
    return undefined;
  }),
  start_timers: def('start_timers', 41, [], T.unit, function* (js) {
    const queued = (js.page.get('timers') as JsVal[][] | undefined) ?? [];
    js.page.set('timers', []);
    for (const [cb, n] of queued) {
      js.schedule(cb, 'callback', [JsObject.of({ n: n ?? 0 })]);
      js.unhold(cb); // the timer now holds it instead of the queue
    }
    return undefined;
  }),
  call_with: def('call_with', 42, [T.heapref, T.heapref], T.heapref, function* (js, [cb, o]) {
    return yield* js.callFunction(cb, 'cb', [o]);
  }),
  for_each: def('for_each', 43, [T.heapref, T.heapref], T.unit, function* (js, [list, cb]) {
    const items = js.prop(list, 'items');
    if (!Array.isArray(items)) throw new JsException(`TypeError: list.items is not iterable`);
    for (const item of items) yield* js.callFunction(cb, 'cb', [item]);
    return undefined;
  }),
  with_stack_cb: def('with_stack_cb', 44, [STACK_CB, T.u32], T.heapref, function* (js, [cb, x]) {
    const r = yield* js.callFunction(cb, 'f', [x]);
    return JsObject.of({ n: num(r) });
  }),
  is_same: def('is_same', 45, [T.heapref, T.heapref], T.bool, (_js, [a, b]) => ret(a === b)),
  make_list: def('make_list', 46, [T.u32], T.heapref, (_js, [n]) =>
    ret(JsObject.of({ items: Array.from({ length: num(n) }, (_, i) => JsObject.of({ n: 4000 + i })) })),
  ),
  sum_i64: def('sum_i64', 47, [T.heapref, T.i64], T.i64, (js, [o, x]) => ret(BigInt(Math.trunc(num(js.prop(o, 'n')) || 0)) + BigInt(x as bigint))),
} as const;

export type FunctionName = keyof typeof F;

/** `Closure::new` calls the identity cast helper with signature `(Callback) -> JsValue`. */
const castImports = new Map<CallbackType, ImportDef>();
export function castImport(type: CallbackType): ImportDef {
  let imp = castImports.get(type);
  if (!imp) {
    imp = { name: 'cast', fnId: CAST_FN_ID, params: [type], ret: T.heapref };
    castImports.set(type, imp);
  }
  return imp;
}

const castDef: FunctionDef = {
  name: 'cast',
  fnId: CAST_FN_ID,
  params: [],
  ret: T.heapref,
  impl: (_js, [v]) => ret(v),
};

/** JS's function registry: fn id → implementation (the order `setFunctionRegistry` got). */
export const JS_REGISTRY: ReadonlyMap<number, FunctionDef> = new Map<number, FunctionDef>([
  [CAST_FN_ID, castDef],
  ...Object.values(F).map((f): [number, FunctionDef] => [f.fnId, f]),
]);

/** The helper fn ids a recorder writes into the meta record (trace-lines.md). */
export const HELPER_FN_IDS = {
  drop_heap_ref: F.drop_heap_ref.fnId,
  clone_heap_ref: F.clone_heap_ref.fnId,
  dispose_rust_function: F.dispose_rust_function.fnId,
  cast: CAST_FN_ID,
} as const;

export function isRustFunction(v: JsVal): v is RustFunction {
  return v instanceof RustFunction;
}
