import { describe, expect, it } from 'vitest';

import { ConversationDecoder } from '../../src/protocol/decoder.js';
import { MAX_ZERO_WIDTH_ELEMENTS } from '../../src/protocol/values.js';
import { FrameWriter } from '../../src/wire/frame.js';

/** R-Eval (reserved-count) of one op whose only parameter is Vec<Vec<()>>, with the given lengths. */
function nestedUnitArrays(outer: number, inner: number): Uint8Array {
  const w = new FrameWriter();
  w.u32(0).u32(1).u32(0); // reserved count, fn id, type id
  w.u32(outer);
  for (let i = 0; i < outer; i++) w.u32(inner);
  w.u8(0).u8(0xfe); // Evaluate, TYPE_FULL
  w.rawU8(Uint8Array.of(1, 0x15, 0x15, 0x00, 0x00)); // (Vec<Vec<()>>) -> ()
  return w.finish();
}

describe('elements that occupy no bytes are bounded per message, not per array', () => {
  it('Vec<Vec<()>> with many inner arrays of the maximum length is refused quickly', () => {
    const d = new ConversationDecoder('reserved-count');
    const started = performance.now();
    const m = d.decode({ kind: 'message', dir: 'r2j', data: nestedUnitArrays(2000, MAX_ZERO_WIDTH_ELEMENTS), loc: { input: 't' } });
    expect(performance.now() - started).toBeLessThan(2000);
    const issue = m.issues.find((i) => i.fatal);
    expect(issue?.message).toMatch(/elements that occupy no bytes/);
  });

  it('within the bound they decode', () => {
    const d = new ConversationDecoder('reserved-count');
    const m = d.decode({ kind: 'message', dir: 'r2j', data: nestedUnitArrays(4, 3), loc: { input: 't' } });
    expect(m.issues.filter((i) => i.fatal)).toEqual([]);
    const op = m.body?.kind === 'r-eval' ? m.body.ops[0] : undefined;
    expect(op?.args[0]).toMatchObject({ kind: 'array', items: [{ kind: 'array', items: [{ kind: 'unit' }, { kind: 'unit' }, { kind: 'unit' }] }, {}, {}, {}] });
  });
});
