/**
 * Scenario programs, written against the Rust peer's API the way the upstream tests are
 * written in Rust. `rt.section(body)` is `batch(body)` in batch mode and plain `body()`
 * otherwise, so every scenario runs in both modes.
 */
import type { ScenarioContext, ScenarioProgram } from './bridge.js';
import { JsValue, moved, type Co, type RVal } from './model.js';
import { BORROW_CB, F, LEVEL_CB, MAP_CB, OBJ_CB, UNIT_CB } from './registry.js';
import { stressProgram } from './stress.js';

export interface ScenarioInfo {
  readonly name: string;
  readonly description: string;
  readonly program: ScenarioProgram;
  /** Default of the `size` option. */
  readonly defaultSize: number;
}

/**
 * The seed's four-level case (examples.md §5, `test_borrowed_ref_deep_nesting`): level1
 * calls cb1, whose body calls level2, which calls cb2, ... down to level4.
 */
function* deepNesting({ rt }: ScenarioContext): Co<void> {
  yield* rt.section(function* () {
    const obj1 = yield* rt.callValue(F.make_level1);
    const cb1 = yield* rt.closure(
      LEVEL_CB,
      function* ([ref2]) {
        const cb2 = yield* rt.closure(
          LEVEL_CB,
          function* ([ref3]) {
            const cb3 = yield* rt.closure(LEVEL_CB, function* ([ref4]) {
              return yield* rt.call(F.level4, [ref4 as JsValue]);
            }, 'cb3');
            return yield* rt.call(F.level3, [ref3 as JsValue, moved(cb3)]);
          },
          'cb2',
        );
        return yield* rt.call(F.level2, [ref2 as JsValue, moved(cb2)]);
      },
      'cb1',
    );
    const result = yield* rt.callValue(F.level1, [obj1, moved(cb1)]); // cb1 moved in: dropped after encoding
    const tmp = yield* rt.callValue(F.extract, [result, 'v1']);
    yield* rt.call(F.as_f64, [tmp]); // Some(1.0) when the ids agree
    yield* rt.drop(tmp); // the temporary dies at the end of the statement
    yield* rt.drop(result);
    yield* rt.drop(obj1);
  });
}

/**
 * `test_join_many_callbacks_async`: n closures with a JsValue parameter are handed to JS,
 * which later calls each from a timer with a fresh object, while the app is still dropping
 * values. Only drops and value-returning calls run concurrently with the timers.
 */
function* manyCallbacks({ rt, size }: ScenarioContext): Co<void> {
  const n = Math.max(1, size);
  const cbs: JsValue[] = [];
  const temps: JsValue[] = [];
  yield* rt.section(function* () {
    for (let i = 0; i < n; i++) {
      const cb = yield* rt.closure(
        OBJ_CB,
        function* ([v]) {
          yield* rt.call(F.get_n, [v as JsValue]);
          return undefined;
        },
        `cb${i}`,
      );
      yield* rt.call(F.queue_timer, [cb, i]);
      cbs.push(cb);
      temps.push(yield* rt.callValue(F.make_obj, [i]));
    }
    // Warm-up: JS parses get_n's and drop_heap_ref's type definitions before any timer
    // fires (otherwise the timers' nested R-Evals would use TYPE_CACHED for a TYPE_FULL
    // still queued behind them: the unknown-type-id race, which stress exercises).
    yield* rt.call(F.get_n, [temps[0]!]);
    yield* rt.drop(yield* rt.callValue(F.make_obj, [n]));
  });
  yield* rt.call(F.start_timers);
  // The timers fire while the app drops its temporaries, a few per batch.
  for (let i = 0; i < temps.length; i += 5) {
    yield* rt.section(function* () {
      for (const t of temps.slice(i, i + 5)) yield* rt.drop(t);
    });
  }
  yield* rt.idle();
  yield* rt.section(function* () {
    for (const cb of cbs) yield* rt.drop(cb);
  });
}

/**
 * `test_batch_stress_browser_event_callbacks`: a page event handler (a closure) fires from a
 * timer just as the app sends the next call of a burst, so the protocol handler delivers
 * that top-level R-Eval through the event's parked XHR and JS runs it inside the callback,
 * while Rust runs the callback's body (several calls with JsValue, String and unit results)
 * inside its wait for that R-Eval. `size` bursts. From evaluate-id on, the J-Resp JS sent
 * for the outer R-Eval is set aside and taken when Rust's outer wait resumes; up to
 * reserved-count it is taken by the wrong flush (the upstream panic); explicit-ids sends
 * top-level R-Evals by evaluate_script, so nothing crosses.
 */
function* timerRace({ rt, size, raceTimer }: ScenarioContext): Co<void> {
  const onEvent = yield* rt.closure(
    UNIT_CB,
    function* () {
      const item = yield* rt.callValue(F.make_obj, [1]);
      yield* rt.call(F.set_flag, [item, true]);
      const text = yield* rt.callValue(F.make_obj, [2]);
      yield* rt.call(F.get_name, [text]);
      yield* rt.drop(text);
      yield* rt.drop(item);
      return undefined;
    },
    'on_event',
  );
  yield* rt.call(F.register_handler, [moved(onEvent)]);
  // A list and a closure JS calls synchronously for each item (a burst call that calls back).
  const list = yield* rt.callValue(F.make_list, [2]);
  const visit = yield* rt.closure(
    OBJ_CB,
    function* ([item]) {
      yield* rt.call(F.get_name, [item as JsValue]);
      return undefined;
    },
    'visit',
  );
  for (let i = 0; i < Math.max(1, size); i++) {
    // Alternately Rust takes the callback first (it runs inside the wait, the J-Resp is set
    // aside) and the J-Resp first (the callback runs later, after the whole burst).
    raceTimer(i % 2 === 1);
    // A burst: unbatched calls, each a top-level R-Eval of its own.
    const div = yield* rt.callValue(F.make_obj, [10 + i]);
    yield* rt.call(F.get_name, [div]);
    yield* rt.call(F.set_flag, [div, false]);
    if (i % 3 === 2) {
      raceTimer();
      yield* rt.call(F.for_each, [list, visit]);
    }
    yield* rt.drop(div);
  }
  yield* rt.drop(visit);
  yield* rt.drop(list);
}

/** JsValue, String, Result, Option, Vec, f64, bool, i64 and unit results in one batch: flushes happen mid-batch. */
function* mixedReturns({ rt }: ScenarioContext): Co<void> {
  yield* rt.section(function* () {
    const owned: JsValue[] = [];
    const collect = (v: RVal): void => {
      if (v instanceof JsValue) owned.push(v);
      else if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object' && 'some' in v) collect(v.some);
      else if (v && typeof v === 'object' && 'ok' in v) collect(v.value);
    };
    const a = yield* rt.callValue(F.make_obj, [7]);
    yield* rt.call(F.get_name, [a]);
    collect(yield* rt.call(F.try_get, [a, true]));
    collect(yield* rt.call(F.try_get, [a, false]));
    yield* rt.call(F.set_flag, [a, true]);
    const b = yield* rt.callValue(F.make_obj, [8]);
    collect(yield* rt.call(F.maybe_get, [b, true]));
    collect(yield* rt.call(F.maybe_get, [b, false]));
    collect(yield* rt.call(F.list_of, [3]));
    yield* rt.call(F.get_f64, [b]);
    yield* rt.call(F.is_same, [a, b]);
    yield* rt.call(F.sum_i64, [a, -5n]);
    const c = yield* rt.callValue(F.make_obj, [9]);
    yield* rt.call(F.set_flag, [c, false]);
    for (const v of [a, b, c, ...owned]) yield* rt.drop(v);
  });
}

/** Callbacks receiving borrowed references (two nested levels: slots 127 and 126) and passing them back to JS. */
function* borrowedRefs({ rt }: ScenarioContext): Co<void> {
  const outerList = yield* rt.callValue(F.make_list, [3]);
  const innerList = yield* rt.callValue(F.make_list, [2]);
  const inner = yield* rt.closure(
    BORROW_CB,
    function* ([item]) {
      yield* rt.call(F.get_name, [item as JsValue]);
      return undefined;
    },
    'inner',
  );
  const outer = yield* rt.closure(
    BORROW_CB,
    function* ([item]) {
      yield* rt.call(F.get_name, [item as JsValue]);
      yield* rt.call(F.set_flag, [item as JsValue, true]);
      yield* rt.call(F.for_each, [innerList, inner]);
      return undefined;
    },
    'outer',
  );
  yield* rt.section(function* () {
    yield* rt.call(F.for_each, [outerList, outer]);
    yield* rt.call(F.for_each, [innerList, inner]);
  });
  yield* rt.section(function* () {
    for (const v of [outer, inner, innerList, outerList]) yield* rt.drop(v);
  });
}

/**
 * How closures end (explicit-ids ts/rust_function.ts): a closure whose own body drops it (the
 * "listener removes itself" pattern: JS sends the native-ref drop as soon as the call returns,
 * nested in the R-Eval that called it), a once-closure a timer calls and Rust then drops (no
 * native-ref drop at all), and an idle closure dropped (dispose, then the nested drop).
 */
function* closureLifetimes({ rt }: ScenarioContext): Co<void> {
  const obj = yield* rt.callValue(F.make_obj, [1]);
  let self: JsValue | undefined;
  self = yield* rt.closure(MAP_CB, function* ([v]) {
    yield* rt.call(F.get_n, [v as JsValue]);
    yield* rt.drop(self!); // the Closure dies inside its own call
    return yield* rt.callValue(F.make_obj, [2]);
  }, 'self_dropping');
  const r = yield* rt.callValue(F.call_with, [self, obj]);
  yield* rt.call(F.get_n, [r]);
  yield* rt.drop(r);
  const once = yield* rt.closureOnce(OBJ_CB, function* ([v]) {
    yield* rt.call(F.get_n, [v as JsValue]);
    return undefined;
  }, 'once');
  yield* rt.call(F.queue_timer, [once, 5]);
  yield* rt.call(F.start_timers);
  yield* rt.idle();
  yield* rt.drop(once);
  const idle = yield* rt.closure(OBJ_CB, function* () {
    return undefined;
  }, 'never_called');
  yield* rt.section(function* () {
    yield* rt.call(F.get_n, [obj]);
    yield* rt.drop(idle);
    yield* rt.drop(obj);
  });
  yield* rt.idle();
}

/** Drops in every form: explicit, moved arguments, clones, closures, drop-then-allocate inside one batch. */
function* drops({ rt }: ScenarioContext): Co<void> {
  const objs: JsValue[] = [];
  yield* rt.section(function* () {
    for (let i = 0; i < 6; i++) objs.push(yield* rt.callValue(F.make_obj, [i]));
    const c0 = yield* rt.clone(objs[0]!);
    const c1 = yield* rt.clone(objs[1]!);
    yield* rt.drop(objs[0]!);
    yield* rt.drop(c1);
    yield* rt.call(F.get_n, [c0]);
    yield* rt.call(F.set_flag, [moved(objs[2]!), true]); // dropped right after encoding
    yield* rt.drop(c0);
  });
  const cb = yield* rt.closure(UNIT_CB, function* () {
    return undefined;
  }, 'unused');
  yield* rt.section(function* () {
    yield* rt.drop(objs[3]!);
    yield* rt.drop(objs[4]!);
    const fresh1 = yield* rt.callValue(F.make_obj, [10]); // free-list revisions reuse 4's id, then 3's
    const fresh2 = yield* rt.callValue(F.make_obj, [11]);
    yield* rt.call(F.get_n, [fresh1]);
    yield* rt.drop(cb);
    for (const v of [fresh1, fresh2, objs[1]!, objs[5]!]) yield* rt.drop(v);
  });
  // Reuse after many drops: free-list revisions hand the freed ids out again.
  yield* rt.section(function* () {
    const more: JsValue[] = [];
    for (let i = 0; i < 12; i++) more.push(yield* rt.callValue(F.make_obj, [20 + i]));
    for (const v of more) yield* rt.call(F.get_n, [v]);
    for (const v of more) yield* rt.drop(v);
  });
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: 'deep-nesting',
    description: "the seed's 4-level case (examples.md §5): level1 -> cb1 -> level2 -> cb2 -> level3 -> cb3 -> level4, borrowed refs, inside one batch",
    program: deepNesting,
    defaultSize: 0,
  },
  {
    name: 'many-callbacks',
    description: 'n closures (size, default 100) called from JS timers with a fresh object each, while the app drops values',
    program: manyCallbacks,
    defaultSize: 100,
  },
  {
    name: 'mixed-returns',
    description: 'JsValue, String, Result, Option, Vec, f64, bool, i64 and unit results in one batch (flushes mid-batch)',
    program: mixedReturns,
    defaultSize: 0,
  },
  {
    name: 'borrowed-refs',
    description: 'callbacks with borrowed first arguments at two nesting levels, passed back to JS',
    program: borrowedRefs,
    defaultSize: 0,
  },
  {
    name: 'drops',
    description: 'explicit drops, moved arguments, clones, closure drops, drop-then-allocate in one batch',
    program: drops,
    defaultSize: 0,
  },
  {
    name: 'closure-lifetimes',
    description: 'a closure dropped inside its own call, a once-closure called by a timer then dropped, an idle closure dropped',
    program: closureLifetimes,
    defaultSize: 0,
  },
  {
    name: 'timer-race',
    description: 'page event timers racing bursts of top-level calls (test_batch_stress_browser_event_callbacks); size = bursts (default 4)',
    program: timerRace,
    defaultSize: 4,
  },
  {
    name: 'stress',
    description: 'a seeded random program mixing everything above; size = messages to generate (default 2000)',
    program: stressProgram,
    defaultSize: 2000,
  },
];

export type ScenarioName = 'deep-nesting' | 'many-callbacks' | 'mixed-returns' | 'borrowed-refs' | 'drops' | 'closure-lifetimes' | 'timer-race' | 'stress';

export function scenarioByName(name: string): ScenarioInfo | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

/** The setup the misrouted-respond fault needs: a JS event handler whose body calls JS. */
export function* misroutePrologue({ rt, armRace }: ScenarioContext): Co<void> {
  const onEvent = yield* rt.closure(
    UNIT_CB,
    function* () {
      yield* rt.call(F.is_ready);
      return undefined;
    },
    'on_event',
  );
  yield* rt.call(F.register_handler, [moved(onEvent)]);
  armRace();
}
