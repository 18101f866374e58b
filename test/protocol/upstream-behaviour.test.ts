import { describe, expect, it } from 'vitest';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import { encodeMessage } from '../../src/protocol/encoder.js';
import { featuresOf, type Revision } from '../../src/protocol/revisions.js';
import type { RRespBody } from '../../src/protocol/messages.js';
import { FrameWriter } from '../../src/wire/frame.js';
import { detectRevision } from '../../src/protocol/detect.js';
import { EXAMPLE_A } from '../fixtures/spec-examples.js';
import { b64 } from '../fixtures/spec-examples.js';

const record = (dir: 'r2j' | 'j2r', data: Uint8Array) => ({ kind: 'message' as const, dir, data, loc: { input: 't' } });

function exportCall(rev: Revision): Uint8Array {
  return encodeMessage(featuresOf(rev), { kind: 'j-eval', call: { kind: 'export', name: 'Counter::toString', args: [3] } });
}

describe('behaviour checked against the upstream runtime', () => {
  it('an export reply wider than one i32 is read as JS reads it, leftovers are only info', () => {
    const d = new ConversationDecoder('reserved-count');
    d.decode(record('j2r', exportCall('reserved-count')));
    // Rust encoded a String result: length word + bytes. JS takes the length as the i32.
    const w = new FrameWriter().u8(1).u32(2).str(new TextEncoder().encode('10'));
    const m = d.decode(record('r2j', w.finish()));
    expect((m.body as RRespBody).value).toEqual({ kind: 'int', type: 'i32', value: 2 });
    expect(m.issues.map((i) => [i.kind, i.severity])).toEqual([['trailing-bytes', 'info']]);
  });

  it('explicit-ids export replies are typed off the wire and kept undecoded', () => {
    const d = new ConversationDecoder('explicit-ids');
    d.decode(record('j2r', exportCall('explicit-ids')));
    const w = new FrameWriter().u8(1).u32(0).u32(2).str(new TextEncoder().encode('10'));
    const m = d.decode(record('r2j', w.finish()));
    expect(m.issues).toEqual([]);
    expect((m.body as RRespBody).opaqueBytes).toBe(6);
  });

  it('the cached-string sentinel exists only for strings JS reads', () => {
    const d = new ConversationDecoder('explicit-ids');
    // A JS→Rust export call whose name has length 0xFFFFFFFF: Rust has no such case.
    const w = new FrameWriter().u8(0).u32(0xfffffffe).u32(0xffffffff).u64(140);
    const m = d.decode(record('j2r', w.finish()));
    expect(m.issues.some((i) => i.kind === 'decode-error' && i.fatal)).toBe(true);
  });

  it('a non-zero R-Resp prelude word in seq-id is flagged', () => {
    const d = new ConversationDecoder('seq-id');
    d.decode(record('j2r', encodeMessage(featuresOf('seq-id'), { kind: 'j-eval', call: { kind: 'drop-native', key: 0 } })));
    const m = d.decode(record('r2j', new FrameWriter().u8(1).u32(7).finish()));
    expect((m.body as RRespBody).preludeWord).toBe(7);
    expect(m.issues.map((i) => i.severity)).toContain('warning');
  });

  it('detection prefers evaluate-id when the first evaluate id is 0, and the draft otherwise', () => {
    // One R-Eval [0, 0, op…] also reads as explicit-ids with two empty lists: a real tie.
    const alone = detectRevision([record('r2j', b64(EXAMPLE_A.evaluateIdREval))]);
    expect(alone?.tied).toEqual(expect.arrayContaining(['explicit-ids', 'evaluate-id']));
    // The J-Resp's echo word settles it.
    const at0 = detectRevision([record('r2j', b64(EXAMPLE_A.evaluateIdREval)), record('j2r', b64(EXAMPLE_A.evaluateIdJResp))]);
    expect(at0?.rev).toBe('evaluate-id');
    const at1 = detectRevision([record('r2j', b64(EXAMPLE_A.seqIdREval))]);
    expect(at1?.rev).not.toBe('evaluate-id');
    expect(at1?.tied).toContain('evaluate-id');
  });
});
