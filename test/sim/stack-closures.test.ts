/**
 * Stack closures (`&dyn Fn`) before explicit-ids (conformance report D5): nothing but JS's
 * native-ref drop removes them from Rust's callback store (encode.rs / runtime.rs @0423680),
 * and JS registers their wrappers for finalization like any other. explicit-ids removes them
 * when the op ends and sends them as RustOwned (never finalized).
 */
import { describe, expect, it } from 'vitest';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import type { REvalBody } from '../../src/protocol/messages.js';
import type { Value } from '../../src/protocol/values.js';
import { F, runSimulation, type ScenarioProgram } from '../../src/sim/index.js';
import { STACK_CB } from '../../src/sim/registry.js';
import type { JsValue } from '../../src/sim/model.js';
import { messages } from './helpers.js';

const program: ScenarioProgram = function* ({ rt }) {
  for (let i = 0; i < 3; i++) {
    const sc = rt.stackClosure(STACK_CB, function* ([x]) {
      return Number(x) + 1;
    });
    const r = (yield* rt.callValue(F.with_stack_cb, [sc, i])) as JsValue;
    yield* rt.drop(r);
  }
  yield* rt.idle();
};

function run(revision: 'legacy' | 'reserved-count' | 'explicit-ids', gc: boolean) {
  const { records, truth } = runSimulation({ scenario: 'stack-closures', program, revision, mode: 'non-batch', gc });
  const d = new ConversationDecoder(revision);
  const keys: number[] = [];
  const drops: number[] = [];
  for (const r of messages(records, 'js')) {
    const body = d.decode(r).body;
    if (body?.kind === 'r-eval') {
      for (const op of (body as REvalBody).ops) for (const a of op.args) if ((a as Value).kind === 'callback') keys.push((a as { key: number }).key);
    } else if (body?.kind === 'j-eval' && body.call.kind === 'drop-native') drops.push(body.call.key);
  }
  return { keys, drops, truth, records };
}

describe('stack closures', () => {
  it('legacy (slotmap keys), no GC: each stack closure stays in Rust, so each gets a fresh slot', () => {
    const { keys, drops, truth } = run('legacy', false);
    // slotmap key = index | version << 32; nothing freed, so versions stay 1 and indices grow.
    expect(keys.map((k) => [k % 2 ** 32, Math.floor(k / 2 ** 32)])).toEqual([[1, 1], [2, 1], [3, 1]]);
    expect(drops).toEqual([]);
    expect(truth.mismatchCount).toBe(0);
  });

  for (const revision of ['legacy', 'reserved-count'] as const) {
    it(`${revision}, GC: JS finalizes each stack-closure wrapper and Rust frees it on the native-ref drop`, () => {
      const { keys, drops, truth } = run(revision, true);
      expect(drops).toHaveLength(3);
      expect(new Set(drops)).toEqual(new Set(keys));
      expect(truth.mismatchCount).toBe(0);
      expect(truth.events.filter((e) => e.kind === 'unknown-callback')).toEqual([]);
    });
  }

  it('explicit-ids, GC: a stack closure is RustOwned: removed at op end, never finalized by JS', () => {
    const { drops, truth } = run('explicit-ids', true);
    expect(drops).toEqual([]);
    expect(truth.mismatchCount).toBe(0);
  });
});
