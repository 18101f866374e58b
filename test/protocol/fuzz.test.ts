import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { ConversationDecoder } from '../../src/protocol/decoder.js';
import { decodeRecords } from '../../src/protocol/stream.js';
import { REVISIONS } from '../../src/protocol/revisions.js';
import { openTrace } from '../../src/trace/source.js';
import { DEEP_NESTING, EXAMPLE_A, EXAMPLE_B, EXAMPLE_C, RESPONDS, b64 } from '../fixtures/spec-examples.js';
import { traceLines } from '../helpers/trace.js';
import { rng } from '../helpers/rng.js';


const corpus: Array<['r2j' | 'j2r', string]> = [
  ...(Object.entries(DEEP_NESTING.reservedCount).map(([k, v]) => [k.startsWith('M') || k.startsWith('RC') ? 'r2j' : 'j2r', v]) as Array<['r2j' | 'j2r', string]>),
  ['r2j', EXAMPLE_A.reservedCountREval],
  ['r2j', EXAMPLE_B.reservedCountREval],
  ['j2r', EXAMPLE_B.boolFalseJResp],
  ['r2j', EXAMPLE_C.castREval],
  ['j2r', EXAMPLE_C.callbackJEval],
  ['r2j', EXAMPLE_C.dropREval],
  ['r2j', RESPONDS.heapRef140],
  ['r2j', EXAMPLE_A.explicitIdsREval],
];

function mutate(bytes: Uint8Array, next: () => number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const kind = Math.floor(next() * 5);
  if (kind === 0 && out.length > 0) {
    // flip one to four bytes
    for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) out[Math.floor(next() * out.length)]! ^= 1 + Math.floor(next() * 255);
    return out;
  }
  if (kind === 1) return out.subarray(0, Math.floor(next() * out.length)); // cut
  if (kind === 2 && out.length >= 16) {
    // a huge length or count in some u32 word
    const at = 4 * Math.floor(next() * (out.length / 4));
    new DataView(out.buffer).setUint32(Math.min(at, out.length - 4), [0xffffffff, 0x7fffffff, 0x10000000, 65537][Math.floor(next() * 4)]!, true);
    return out;
  }
  if (kind === 3) {
    const extra = Uint8Array.from({ length: Math.floor(next() * 8) }, () => Math.floor(next() * 256));
    const joined = new Uint8Array(out.length + extra.length);
    joined.set(out);
    joined.set(extra, out.length);
    return joined;
  }
  // scramble the header offsets
  if (out.length >= 12) for (let i = 0; i < 12; i++) if (next() < 0.2) out[i] = Math.floor(next() * 256);
  return out;
}

describe('fuzz: mutated messages never crash the decoder', () => {
  it('flipped bytes, cut messages, huge lengths, trailing junk, scrambled headers (bounded time)', () => {
    const seed = 20261124;
    const next = rng(seed);
    const deadline = Date.now() + 4000;
    let decoded = 0;
    let issues = 0;
    const before = process.memoryUsage().heapUsed;
    while (Date.now() < deadline && decoded < 200_000) {
      for (const rev of REVISIONS) {
        const d = new ConversationDecoder(rev);
        for (let i = 0; i < 12; i++) {
          const [dir, data] = corpus[Math.floor(next() * corpus.length)]!;
          const bytes = next() < 0.7 ? mutate(b64(data), next) : b64(data);
          const m = d.decode({ kind: 'message', dir, data: bytes, loc: { input: 'fuzz' } });
          decoded++;
          issues += m.issues.length;
          // every issue is a finding kind with a message, never an exception
          for (const issue of m.issues) expect(issue.message.length).toBeGreaterThan(0);
        }
      }
    }
    expect(decoded).toBeGreaterThan(1000);
    expect(issues).toBeGreaterThan(0);
    // Nothing allocated from absurd lengths: heap growth stays far below what a 4 GiB length would need.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(256 * 1024 * 1024);
  });

  it('mutated @btrace text goes through the reader and decoder without throwing', async () => {
    const next = rng(7);
    const clean = traceLines('rev=reserved-count side=js', corpus.map(([dir, data], i) => ({ dir, data, seq: i + 1, side: 'js' as const })));
    const deadline = Date.now() + 3000;
    let runs = 0;
    while (Date.now() < deadline && runs < 300) {
      const chars = clean.split('');
      for (let i = 0, n = 1 + Math.floor(next() * 20); i < n; i++) {
        const at = Math.floor(next() * chars.length);
        const r = next();
        if (r < 0.4) chars[at] = String.fromCharCode(32 + Math.floor(next() * 95));
        else if (r < 0.6) chars.splice(at, Math.floor(next() * 30));
        else if (r < 0.8) chars[at] = '\n';
        else chars.splice(at, 0, '@btrace ');
      }
      const text = chars.join('');
      const records = openTrace('-', { stdin: Readable.from([Buffer.from(text)]) });
      let events = 0;
      for await (const e of decodeRecords(records)) {
        events++;
        expect(['meta', 'bad', 'message', 'undecidable']).toContain(e.type);
      }
      expect(events).toBeGreaterThan(0);
      runs++;
    }
    expect(runs).toBeGreaterThan(10);
  });
});
