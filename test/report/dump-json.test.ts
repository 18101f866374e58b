import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { valueToJson } from '../../src/protocol/format.js';
import { decodeRecords } from '../../src/protocol/stream.js';
import type { Value } from '../../src/protocol/values.js';
import { messageJsonLine, messageToJson, valueJsonText } from '../../src/report/dump.js';
import { openTrace } from '../../src/trace/source.js';

/**
 * dump --json writes its lines straight as text (messageJsonLine); the schema is the one of
 * messageToJson. Both must give the same bytes, for every kind of value and every message of
 * the samples, so that writing text directly never changes what dump prints.
 */

const callbackType = { kind: 'callback', params: [{ kind: 'u32' }], ret: { kind: 'null' } } as const;
const values: Value[] = [
  { kind: 'unit' },
  { kind: 'bool', value: true },
  { kind: 'bool', value: false },
  { kind: 'int', type: 'u32', value: 4294967295 },
  { kind: 'int', type: 'i32', value: -7 },
  { kind: 'int', type: 'u64', value: 12n },
  { kind: 'int', type: 'u64', value: 2n ** 53n },
  { kind: 'int', type: 'i64', value: -(2n ** 63n) },
  { kind: 'int', type: 'u128', value: 2n ** 127n + 5n },
  { kind: 'float', type: 'f64', value: -0 },
  { kind: 'float', type: 'f64', value: 1.5e300 },
  { kind: 'float', type: 'f64', value: 1e21 },
  { kind: 'float', type: 'f32', value: 0.1 },
  { kind: 'float', type: 'f64', value: Number.NaN },
  { kind: 'float', type: 'f64', value: Number.POSITIVE_INFINITY },
  { kind: 'float', type: 'f64', value: Number.NEGATIVE_INFINITY },
  { kind: 'string', value: '', byteLength: 0, nonAscii: false },
  { kind: 'string', value: 'quote " backslash \\ tab \t nul \u0000 line\u2028 é 😀 lone \ud800', byteLength: 40, nonAscii: true },
  { kind: 'cached-string', id: 3 },
  { kind: 'heapref' },
  { kind: 'heapref', id: 134 },
  { kind: 'borrowed' },
  { kind: 'borrowed', id: 127 },
  { kind: 'callback', key: 2 ** 40 + 3, type: callbackType },
  { kind: 'callback', key: 9, policy: 2, type: callbackType },
  { kind: 'option', value: null },
  { kind: 'option', value: { kind: 'option', value: { kind: 'int', type: 'u8', value: 0 } } },
  { kind: 'result', ok: true, value: { kind: 'unit' } },
  { kind: 'result', ok: false, value: { kind: 'string', value: 'no', byteLength: 2, nonAscii: false } },
  { kind: 'array', items: [] },
  { kind: 'array', items: [{ kind: 'heapref', id: 1 }, { kind: 'array', items: [{ kind: 'bool', value: true }] }] },
  { kind: 'clamped', bytes: new Uint8Array(0) },
  { kind: 'clamped', bytes: Uint8Array.of(0, 255, 17) },
  { kind: 'enum', index: 1, variant: 'b"c' },
  { kind: 'enum', index: 9 },
];

describe('dump --json written as text', () => {
  it('writes every kind of value as JSON.stringify writes its JSON form', () => {
    for (const v of values) expect(valueJsonText(v)).toBe(JSON.stringify(valueToJson(v)));
  });

  it('writes numbers at every digit count and past the int32 fast path as JSON.stringify does', () => {
    const numbers = [0, 9, 10, 99, 100, 999, 1000, 9999, 10000, 99999, 1e5, 999999, 1e6, 9999999, 1e7, 99999999, 1e8, 999999999, 1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 53 - 1, -1, -0, 0.5, 1e21];
    for (const value of numbers) expect(valueJsonText({ kind: 'int', type: 'u32', value })).toBe(JSON.stringify(value));
  });

  const tracesDir = new URL('../../traces/', import.meta.url).pathname;
  const samples = readdirSync(tracesDir).filter((f) => f.endsWith('.log') || f.endsWith('.btrace')).sort();
  it('writes every message of every sample as JSON.stringify(messageToJson), with and without a message number', async () => {
    expect(samples.length).toBeGreaterThan(10);
    let checked = 0;
    for (const file of samples) {
      for await (const e of decodeRecords(openTrace(`${tracesDir}${file}`))) {
        if (e.type !== 'message') continue;
        // messageJsonLine first: it asks the helper table in the order messageToJson does, and the answers may teach it.
        const line = messageJsonLine(e.message, e.conversation);
        expect(line).toBe(JSON.stringify(messageToJson(e.message, e.conversation)));
        expect(messageJsonLine(e.message, e.conversation, checked + 1)).toBe(JSON.stringify({ message: checked + 1, ...messageToJson(e.message, e.conversation) }));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(900);
  });
});
