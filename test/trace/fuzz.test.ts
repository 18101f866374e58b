import { describe, expect, it } from 'vitest';

import type { TraceRecord } from '../../src/trace/index.js';
import { chunked, FIXTURE, message, prng, readBytes, writeBinary, writeLines } from './helpers.js';

const fixtures = [FIXTURE.makeNode, FIXTURE.emptyRespond, FIXTURE.makeNodeBatched, FIXTURE.respondBool];
const records = Array.from({ length: 20 }, (_, i) =>
  message({ dir: i % 2 ? 'j2r' : 'r2j', side: 'js', seq: i + 1, data: fixtures[i % fixtures.length], ...(i % 3 ? { ctx: `c${i}` } : {}) }),
);
/** Every field of a record in a fixed order, so key order does not matter. */
function key(r: TraceRecord): string {
  if (r.kind !== 'message') return r.kind;
  return [r.dir, r.side, r.seq, r.t, r.ctx, Buffer.from(r.data).toString('base64')].join('|');
}
const originals = new Set(records.map(key));
const isOriginal = (r: TraceRecord): boolean => originals.has(key(r));

describe('damage never throws and never invents records', () => {
  it('binary: random byte flips cost exactly the frames they hit', async () => {
    const file = await writeBinary(records, { rev: 'legacy' });
    const frameStarts: number[] = [];
    for (let at = 12 + file[11] + 4; at < file.length; at += 12 + file.readUInt32LE(at + 4)) frameStarts.push(at);
    /** Index of the frame holding `offset`, -1 for the file header. */
    const frameOf = (offset: number): number => frameStarts.filter((start) => start <= offset).length - 1;
    const random = prng(42);
    for (let round = 0; round < 150; round++) {
      const damaged = Buffer.from(file);
      const hit = new Set<number>();
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) {
        const at = Math.floor(random() * file.length);
        damaged[at] ^= 1 + Math.floor(random() * 255);
        hit.add(frameOf(at));
      }
      const read = await readBytes(chunked(damaged, [1 + Math.floor(random() * 300)]));
      const messages = read.filter((r) => r.kind === 'message');
      const bad = read.filter((r) => r.kind === 'bad');
      expect(messages.every(isOriginal), `round ${round}`).toBe(true);
      expect(messages.map((r) => (r.kind === 'message' ? r.seq : 0)), `round ${round}`).toEqual(
        records.map((r) => r.seq).filter((_, i) => !hit.has(i)),
      );
      expect(bad.length, `round ${round}`).toBeGreaterThanOrEqual(hit.size > 0 ? 1 : 0);
      expect(bad.length, `round ${round}`).toBeLessThanOrEqual(hit.size);
      expect(bad.every((r) => typeof r.loc.offset === 'number'), `round ${round}`).toBe(true);
    }
  });

  it('binary: insertions, deletions and cuts', async () => {
    const file = await writeBinary(records);
    const random = prng(7);
    for (let round = 0; round < 150; round++) {
      let damaged = Buffer.from(file);
      // Past the magic: a file whose magic is shifted away is not recognisable as .btrace at all.
      const at = 8 + Math.floor(random() * (damaged.length - 8));
      const op = round % 3;
      if (op === 0) damaged = Buffer.concat([damaged.subarray(0, at), Buffer.from(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256))), damaged.subarray(at)]);
      if (op === 1) damaged = Buffer.concat([damaged.subarray(0, at), damaged.subarray(at + 1 + Math.floor(random() * 40))]);
      if (op === 2) damaged = damaged.subarray(0, at);
      const read = await readBytes(damaged);
      expect(read.filter((r) => r.kind === 'message').every(isOriginal), `round ${round}`).toBe(true);
      expect(read.filter((r) => r.kind !== 'bad').length, `round ${round}`).toBeGreaterThanOrEqual(op === 2 ? 0 : records.length - 3);
    }
  });

  it('lines: random junk between records costs no record', async () => {
    const text = (await writeLines(records)).toString('latin1').split('\n');
    const random = prng(3);
    const alphabet = '@btrace =dir\x1b[0m\r\t data=AAAA\x00\xff';
    for (let round = 0; round < 100; round++) {
      const lines: string[] = [];
      for (const line of text) {
        // Junk on its own line may hold a marker and become a bad record, never a message.
        const junk = Array.from({ length: Math.floor(random() * 30) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
        lines.push(junk.replace(/\n/g, ''), line);
      }
      const read = await readBytes(chunked(Buffer.from(lines.join('\n'), 'latin1'), [1 + Math.floor(random() * 50)]));
      const messages = read.filter((r) => r.kind === 'message');
      expect(messages.filter(isOriginal).length, `round ${round}`).toBe(records.length);
    }
  });
});
