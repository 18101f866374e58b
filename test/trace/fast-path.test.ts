import { describe, expect, it } from 'vitest';

import {
  decodeStrictBase64,
  decodeStrictBase64Bytes,
  openTrace,
  openTraceBatches,
  parseRecordBytes,
  parseRecordText,
  type TraceRecord,
} from '../../src/trace/index.js';
import { collect, FIXTURE, prng, sampleRecords, writeBinary, writeLines } from './helpers.js';
import { Readable } from 'node:stream';

/**
 * The byte-level reader of message lines must give exactly what the string reader gives:
 * the same record, or the same bad record with the same message, for any text after the marker.
 */
describe('@btrace fast path agrees with the string reader', () => {
  const loc = { input: 'x', line: 7 };
  const same = (text: string): void => {
    const bytes = Buffer.from(text, 'utf8');
    expect(parseRecordBytes(bytes, 0, bytes.length, loc), JSON.stringify(text)).toEqual(parseRecordText(text, loc));
  };

  it('on hand-picked edge cases', () => {
    for (const text of [
      ` side=js seq=1 t=0 ctx=wv1 dir=r2j data=${FIXTURE.makeNode}`,
      ` dir=j2r data=${FIXTURE.emptyRespond}\r`,
      ` dir=j2r data=`,
      ` dir=j2r`,
      ` data=${FIXTURE.emptyRespond}`,
      ` dir=r2j dir=r2j data=AAAA`,
      ` dir=r2j data=AAAA data=AAAA`,
      ` dir=r2 data=AAAA`,
      ` side=JS dir=r2j data=AAAA`,
      ` side=js side=js dir=r2j data=AAAA`,
      ` seq=9007199254740991 dir=r2j data=AAAA`,
      ` seq=9007199254740992 dir=r2j data=AAAA`,
      ` seq=00000000000000001 dir=r2j data=AAAA`,
      ` seq=-1 dir=r2j data=AAAA`,
      ` t=1 t=2 dir=r2j data=AAAA`,
      ` t= dir=r2j data=AAAA`,
      ` ctx= dir=r2j data=AAAA`,
      ` ctx=${'c'.repeat(4097)} dir=r2j data=AAAA`,
      ` ctx=${'c'.repeat(4096)} dir=r2j data=AAAA`,
      ` ctx=wv1 ctx=wv1 dir=r2j data=AAAA`,
      ` future=1 =x dir=r2j data=AAAA`,
      ` future dir=r2j data=AAAA`,
      ` dir=r2j data=AAA=`,
      ` dir=r2j data=AA==`,
      ` dir=r2j data=AB==`,
      ` dir=r2j data=AAB=`,
      ` dir=r2j data=A===`,
      ` dir=r2j data=AAAAA`,
      ` dir=r2j data=AA=A`,
      ` dir=r2j data=AA\u00e9A`,
      ` dir=r2j\tdata=AAAA\t`,
      ` dir=r2j data=AAAA\u001b[0m`,
      ` meta rev=legacy`,
      `meta`,
      ``,
      `   `,
      ` dir=r2j data=AAAA ctx=w\u0001v`,
      ` dir=r2j data=AAAA\u007f`,
    ])
      same(text);
  });

  it('on random mutations of valid lines (seeded)', () => {
    const random = prng(2026);
    const alphabet = 'AZaz09+/= \t=\r\u001b\u00e9dirsqectxa2jr';
    const bases = [
      ` side=js seq=12 t=345 ctx=wv1 dir=r2j data=${FIXTURE.makeNode}`,
      ` side=rust dir=j2r data=${FIXTURE.respondBool}`,
      ` dir=j2r data=${FIXTURE.emptyRespond}`,
    ];
    for (let round = 0; round < 3000; round++) {
      const chars = [...bases[round % bases.length]!];
      for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
        const at = Math.floor(random() * chars.length);
        const op = Math.floor(random() * 3);
        const c = alphabet[Math.floor(random() * alphabet.length)]!;
        if (op === 0) chars[at] = c;
        else if (op === 1) chars.splice(at, 0, c);
        else chars.splice(at, 1);
      }
      same(chars.join(''));
    }
  });

  it('decodes base64 from bytes exactly as decodeStrictBase64 does', () => {
    const random = prng(11);
    for (let round = 0; round < 2000; round++) {
      const bytes = Uint8Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256));
      let text = Buffer.from(bytes).toString('base64');
      if (round % 2 === 1 && text.length > 0) {
        const at = Math.floor(random() * text.length);
        text = text.slice(0, at) + 'A+/=\u00ff-_'[Math.floor(random() * 7)] + text.slice(at + 1);
      }
      const strict = decodeStrictBase64(text, 'data');
      const fast = decodeStrictBase64Bytes(Buffer.from(text, 'latin1'), 0, Buffer.byteLength(text, 'latin1'));
      if (strict.ok) expect(fast, text).toEqual(strict.bytes);
      else expect(fast, text).toBeUndefined();
    }
  });
});

describe('batches', () => {
  it('openTraceBatches gives the records openTrace gives, in the same order, for both containers', async () => {
    for (const bytes of [await writeLines(sampleRecords()), await writeBinary(sampleRecords())]) {
      const stdin = (): Readable => Readable.from(Array.from({ length: Math.ceil(bytes.length / 5) }, (_, i) => bytes.subarray(i * 5, i * 5 + 5)));
      const flat = await collect(openTrace('-', { stdin: stdin() }));
      const batches = await collect(openTraceBatches('-', { stdin: stdin() }));
      expect(batches.flat()).toEqual(flat);
      expect(flat.length).toBe(sampleRecords().length);
    }
  });

  it('a record decoded into a shared slab is not overwritten by the records after it', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => `@btrace seq=${i + 1} dir=r2j data=${Buffer.from([i & 0xff, i >> 8, 1, 2, 3]).toString('base64')}`);
    const records = await collect(openTrace('-', { stdin: Readable.from([lines.join('\n')]) }));
    records.forEach((r: TraceRecord, i) => {
      expect(r.kind).toBe('message');
      if (r.kind === 'message') expect([...r.data]).toEqual([i & 0xff, i >> 8, 1, 2, 3]);
    });
  });
});
