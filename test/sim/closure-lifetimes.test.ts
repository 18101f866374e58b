/**
 * explicit-ids closure endings as ts/rust_function.ts @03ec189 has them (conformance report D2,
 * D3): checked on the decoded JS-side messages of the closure-lifetimes scenario.
 */
import { describe, expect, it } from 'vitest';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import type { MessageBody } from '../../src/protocol/messages.js';
import { runSimulation } from '../../src/sim/index.js';
import { messages } from './helpers.js';

/** One word per JS-side message: R-Eval, J-Resp, cb<key> (a callback J-Eval), drop<key> (native-ref drop), R-Resp. */
function shape(body: MessageBody | undefined): string {
  if (!body) return '?';
  if (body.kind === 'j-eval') return body.call.kind === 'drop-native' ? `drop${body.call.key}` : body.call.kind === 'callback' ? `cb${body.call.key}` : body.call.kind;
  return body.kind;
}

describe('closure-lifetimes (explicit-ids)', () => {
  for (const mode of ['batch', 'non-batch'] as const) {
    const { records, truth } = runSimulation({ scenario: 'closure-lifetimes', revision: 'explicit-ids', mode });
    const d = new ConversationDecoder('explicit-ids');
    const seq = messages(records, 'js').map((r) => shape(d.decode(r).body));

    it(`${mode}: a closure dropped inside its own call sends its native-ref drop right after the call returns, inside the R-Eval that called it`, () => {
      const cb = seq.indexOf('cb1');
      expect(cb).toBeGreaterThan(0);
      const rresp = seq.indexOf('r-resp', cb);
      expect(seq.slice(rresp, rresp + 4)).toEqual(['r-resp', 'drop1', 'r-resp', 'j-resp']);
    });

    it(`${mode}: a once-closure that ran is never dropped by JS; an idle closure is, inside its dispose`, () => {
      // Keys are reused once freed: the once-closure gets the self-dropping closure's key 1 again.
      const first = seq.indexOf('cb1');
      const once = seq.indexOf('cb1', first + 1);
      expect(once).toBeGreaterThan(first);
      const later = seq.slice(once).filter((s) => s.startsWith('drop'));
      expect(later).toEqual(['drop2']); // only the idle closure's
      const idle = seq.indexOf('drop2');
      expect(seq[idle - 1]).toBe('r-eval'); // nested in the R-Eval that disposes it
      expect(seq.filter((s) => s.startsWith('drop'))).toHaveLength(2);
      expect(truth.mismatchCount).toBe(0);
    });
  }
});
