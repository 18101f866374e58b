/**
 * The `stress` scenario: a seeded random program mixing every feature: objects, clones,
 * drops, moved arguments, value and container results, closures called from JS (nested to
 * a bounded depth), borrowed references, batch sections, timers and idle points. It is
 * generated lazily statement by statement, so a trace of any length needs no memory
 * proportional to its length.
 *
 * By default the program avoids the two interleavings that make later revisions' ids
 * drift for reasons other than the seed's bug: JS timers firing while Rust has batched
 * placeholders in flight (`crossed-in-flight`) and stack-closure arguments while batching
 * (`reservation-underfilled`/`-overfilled`). `racy: true` allows both.
 */
import type { ScenarioContext } from './bridge.js';
import { JsValue, moved, type Co, type RVal } from './model.js';
import { BORROW_CB, F, MAP_CB, OBJ_CB, STACK_CB } from './registry.js';

const MAX_POOL = 16;
const MAX_CLOSURES = 4;
const MAX_DEPTH = 3;

type Kind = 'map' | 'borrow';

interface ClosureEntry {
  readonly value: JsValue;
  readonly kind: Kind;
}

export function* stressProgram(ctx: ScenarioContext): Co<void> {
  const { rt, rng } = ctx;
  const racy = ctx.racy;
  const pool: JsValue[] = [];
  const lists: JsValue[] = [];
  const closures: ClosureEntry[] = [];
  let depth = 0;
  let counter = 0;

  const take = (v: RVal, into: JsValue[]): void => {
    if (v instanceof JsValue) into.push(v);
    else if (Array.isArray(v)) for (const x of v) take(x, into);
    else if (v && typeof v === 'object' && 'some' in v) take(v.some, into);
    else if (v && typeof v === 'object' && 'ok' in v) take(v.value, into);
  };
  const removeAt = <T>(xs: T[], i: number): T => xs.splice(i, 1)[0]!;

  function* dropSome(xs: JsValue[], keep: number): Co<void> {
    while (xs.length > keep) yield* rt.drop(removeAt(xs, rng.int(xs.length)));
  }

  /**
   * A closure's body sees the closures and lists that existed when it was created (and are
   * still alive): those were created earlier in program order, so JS has stored them by the
   * time it can call this closure. (Using a value created later in the same batch would be
   * a program bug: its reserved slot may not be filled yet.)
   */
  interface Scope {
    readonly closures: readonly ClosureEntry[];
    readonly lists: readonly JsValue[];
  }
  const snapshot = (): Scope => ({ closures: [...closures], lists: [...lists] });

  /** A body for a `(JsValue) -> JsValue` closure. */
  function* mapBody(scope: Scope, args: RVal[]): Co<RVal> {
    const v = args[0] as JsValue;
    depth++;
    try {
      const choice = rng.int(5);
      if (choice === 0) return v; // hand the argument back
      yield* rt.call(F.get_n, [v]);
      if (choice === 1) return yield* rt.clone(v);
      const others = scope.closures.filter((c) => c.kind === 'map' && !c.value.dropped);
      if (choice === 2 && depth < MAX_DEPTH && others.length > 0) {
        return yield* rt.call(F.call_with, [rng.pick(others).value, v]); // nested callback
      }
      if (choice === 3) {
        const tmp = yield* rt.callValue(F.make_obj, [++counter]);
        yield* rt.call(F.set_flag, [tmp, true]);
        yield* rt.drop(tmp);
      }
      return yield* rt.call(F.make_obj, [++counter]);
    } finally {
      depth--;
    }
  }

  /** A body for a `(&JsValue)` closure. */
  function* borrowBody(scope: Scope, args: RVal[]): Co<RVal> {
    const item = args[0] as JsValue;
    depth++;
    try {
      yield* rt.call(F.get_name, [item]);
      if (rng.chance(0.4)) yield* rt.call(F.set_flag, [item, rng.chance(0.5)]);
      const inner = scope.closures.filter((c) => c.kind === 'borrow' && !c.value.dropped);
      const innerLists = scope.lists.filter((l) => !l.dropped);
      if (depth < MAX_DEPTH && innerLists.length > 0 && inner.length > 0 && rng.chance(0.3)) {
        yield* rt.call(F.for_each, [rng.pick(innerLists), rng.pick(inner).value]);
      }
      return undefined;
    } finally {
      depth--;
    }
  }

  function* statement(inBatch: boolean): Co<void> {
    const kind = rng.weighted({
      make: pool.length < MAX_POOL ? 5 : 0,
      drop: pool.length > 2 ? 4 : 0,
      clone: pool.length > 0 && pool.length < MAX_POOL ? 1 : 0,
      value: pool.length > 0 ? 5 : 0,
      container: pool.length > 0 ? 2 : 0,
      moved: pool.length > 0 ? 1 : 0,
      closure: 1,
      call_with: pool.length > 0 && closures.some((c) => c.kind === 'map') ? 3 : 0,
      for_each: lists.length > 0 && closures.some((c) => c.kind === 'borrow') ? 2 : 0,
      list: lists.length < 3 ? 1 : 0,
      timers: inBatch ? 0 : 1,
      stack: racy ? 1 : 0,
      idle: inBatch ? 0 : 1,
    });
    switch (kind) {
      case 'make':
        pool.push(yield* rt.callValue(F.make_obj, [++counter]));
        return;
      case 'drop':
        yield* rt.drop(removeAt(pool, rng.int(pool.length)));
        return;
      case 'clone':
        pool.push(yield* rt.clone(rng.pick(pool)));
        return;
      case 'value': {
        const o = rng.pick(pool);
        switch (rng.int(6)) {
          case 0:
            yield* rt.call(F.get_n, [o]);
            return;
          case 1:
            yield* rt.call(F.get_name, [o]);
            return;
          case 2:
            yield* rt.call(F.get_f64, [o]);
            return;
          case 3:
            yield* rt.call(F.is_same, [o, rng.pick(pool)]);
            return;
          case 4:
            yield* rt.call(F.sum_i64, [o, BigInt(rng.range(-9, 9))]);
            return;
          default:
            yield* rt.call(F.set_flag, [o, rng.chance(0.5)]);
            return;
        }
      }
      case 'container': {
        const o = rng.pick(pool);
        const got: JsValue[] = [];
        switch (rng.int(3)) {
          case 0:
            take(yield* rt.call(F.maybe_get, [o, rng.chance(0.7)]), got);
            break;
          case 1:
            take(yield* rt.call(F.try_get, [o, rng.chance(0.7)]), got);
            break;
          default:
            take(yield* rt.call(F.list_of, [rng.range(0, 3)]), got);
            break;
        }
        pool.push(...got);
        yield* dropSome(pool, MAX_POOL);
        return;
      }
      case 'moved': {
        const o = removeAt(pool, rng.int(pool.length));
        yield* rt.call(F.set_flag, [moved(o), true]);
        return;
      }
      case 'closure': {
        if (closures.length >= MAX_CLOSURES) {
          const c = removeAt(closures, rng.int(closures.length));
          yield* rt.drop(c.value);
          return;
        }
        const k: Kind = rng.chance(0.6) ? 'map' : 'borrow';
        const scope = snapshot();
        const value =
          k === 'map'
            ? yield* rt.closure(MAP_CB, (args) => mapBody(scope, args), 'map')
            : yield* rt.closure(BORROW_CB, (args) => borrowBody(scope, args), 'each');
        closures.push({ value, kind: k });
        return;
      }
      case 'call_with': {
        const c = rng.pick(closures.filter((x) => x.kind === 'map'));
        pool.push(yield* rt.callValue(F.call_with, [c.value, rng.pick(pool)]));
        yield* dropSome(pool, MAX_POOL);
        return;
      }
      case 'for_each': {
        const c = rng.pick(closures.filter((x) => x.kind === 'borrow'));
        yield* rt.call(F.for_each, [rng.pick(lists), c.value]);
        return;
      }
      case 'list':
        lists.push(yield* rt.callValue(F.make_list, [rng.range(1, 3)]));
        return;
      case 'timers': {
        const n = rng.range(1, 3);
        const cbs: JsValue[] = [];
        for (let i = 0; i < n; i++) {
          const cb = yield* rt.closure(
            OBJ_CB,
            function* ([v]) {
              yield* rt.call(F.get_n, [v as JsValue]);
              return undefined;
            },
            'timer',
          );
          yield* rt.call(F.queue_timer, [cb, ++counter]);
          cbs.push(cb);
        }
        yield* rt.call(F.start_timers);
        if (racy) {
          // The app goes on while the timers fire.
          for (let i = 0; i < 2; i++) yield* statement(false);
        }
        yield* rt.idle();
        for (const cb of cbs) yield* rt.drop(cb);
        return;
      }
      case 'stack': {
        const sc = rt.stackClosure(STACK_CB, function* ([x]) {
          return Number(x) + 1;
        });
        pool.push(yield* rt.callValue(F.with_stack_cb, [sc, ++counter]));
        yield* dropSome(pool, MAX_POOL);
        return;
      }
      case 'idle':
        yield* rt.idle();
        return;
    }
  }

  while (!ctx.shouldStop()) {
    if (rt.batchMode && rng.chance(0.75)) {
      const n = rng.range(2, 8);
      yield* rt.batch(function* () {
        for (let i = 0; i < n && !ctx.shouldStop(); i++) yield* statement(true);
      });
    } else {
      yield* statement(false);
    }
  }
  // Clean up: everything the program holds is dropped.
  yield* rt.section(function* () {
    for (const v of [...pool, ...lists, ...closures.map((c) => c.value)]) yield* rt.drop(v);
  });
}
