import { describe, expect, it } from 'vitest';

import { MAX_HELD_BYTES, RecordStreamDecoder, type DecodeEvent } from '../../src/protocol/stream.js';
import type { MessageRecord } from '../../src/trace/record.js';

describe('records held back for revision detection are bounded', () => {
  it('by bytes: huge unlabelled messages are released once they reach MAX_HELD_BYTES', () => {
    const decoder = new RecordStreamDecoder();
    const out: DecodeEvent[] = [];
    const size = 1024 * 1024;
    let pushed = 0;
    // J→R messages only: no R-Eval to guess from, so they are held until a bound releases them.
    while (out.length === 0 && pushed < 200) {
      const record: MessageRecord = { kind: 'message', dir: 'j2r', data: new Uint8Array(size), loc: { input: 't', line: pushed + 1 } };
      decoder.push(record, out);
      pushed++;
    }
    expect(pushed).toBe(MAX_HELD_BYTES / size);
    expect(out).toHaveLength(pushed);
    expect(out.every((e) => e.type === 'undecidable')).toBe(true);
  });
});
