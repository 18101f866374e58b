/**
 * The sim JS peer reads Rust→JS strings as the runtime's takeStr does (conformance report D6):
 * one decode of the str buffer, each string cut by its UTF-8 byte length.
 */
import { describe, expect, it } from 'vitest';
import { F, runSimulation, type ScenarioProgram } from '../../src/sim/index.js';
import type { JsValue } from '../../src/sim/model.js';

function program(first: string): ScenarioProgram {
  return function* ({ rt }) {
    let tag: JsValue | undefined;
    yield* rt.batch(function* () {
      const node = (yield* rt.callValue(F.make_node, [first])) as JsValue;
      tag = (yield* rt.callValue(F.extract, [node, 'tag'])) as JsValue;
    });
    // get_name reads tag.n: fine on a string, a TypeError on undefined.
    yield* rt.call(F.get_name, [tag!]);
    yield* rt.idle();
  };
}

describe('Rust→JS strings as JS cuts them', () => {
  it('"é" then "tag" in one message: JS reads the key as "ag", so the extracted value is undefined', () => {
    const { truth } = runSimulation({ scenario: 'strings', program: program('é'), revision: 'reserved-count', mode: 'batch' });
    const exc = truth.events.filter((e) => e.kind === 'js-exception');
    expect(exc.map((e) => e.message)).toEqual([expect.stringContaining("Cannot read properties of undefined (reading 'n')")]);
  });

  it('clean twin: "e" then "tag": the key is read whole and the value is the string', () => {
    const { truth } = runSimulation({ scenario: 'strings', program: program('e'), revision: 'reserved-count', mode: 'batch' });
    expect(truth.events.filter((e) => e.kind === 'js-exception')).toEqual([]);
  });
});
