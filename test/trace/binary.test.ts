import { describe, expect, it } from 'vitest';

import {
  BINARY_MAGIC,
  crc32,
  encodeFrame,
  encodeHeader,
  FRAME_SYNC,
  MAX_FRAME_PAYLOAD,
  type BinaryTraceHeader,
  type ContainerInfo,
  type TraceRecord,
} from '../../src/trace/index.js';
import { b64, chunked, content, FIXTURE, message, meta, randomSizes, readBytes, sampleRecords, writeBinary } from './helpers.js';

/** Offsets of the frames in a file written by writeBinary (walks the length fields). */
function frameOffsets(file: Buffer): number[] {
  const offsets: number[] = [];
  let at = 12 + file[11] + 4;
  while (at < file.length) {
    offsets.push(at);
    at += 8 + file.readUInt32LE(at + 4) + 4;
  }
  return offsets;
}

const threeMessages = [
  message({ dir: 'r2j', data: FIXTURE.makeNode, side: 'rust', seq: 1 }),
  message({ dir: 'j2r', data: FIXTURE.emptyRespond, side: 'rust', seq: 2 }),
  message({ dir: 'r2j', data: FIXTURE.makeNodeBatched, side: 'rust', seq: 3 }),
  message({ dir: 'j2r', data: FIXTURE.respondBool, side: 'rust', seq: 4 }),
  message({ dir: 'r2j', data: FIXTURE.emptyRespond, side: 'rust', seq: 5 }),
];

function kinds(records: TraceRecord[]): string[] {
  return records.map((r) => (r.kind === 'bad' ? `bad@${r.loc.offset}` : `${r.kind}#${r.kind === 'message' ? r.seq : ''}`));
}

describe('.btrace layout', () => {
  it('computes the IEEE CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('gives the same CRC-32 as zlib for every length and alignment, on both sides of the native cut-over', () => {
    // Reference: the plain bit-by-bit definition, independent of any table.
    const reference = (b: Uint8Array, start: number, end: number): number => {
      let c = 0xffffffff;
      for (let i = start; i < end; i++) {
        c ^= b[i]!;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      }
      return (c ^ 0xffffffff) >>> 0;
    };
    const bytes = new Uint8Array(700);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 151 + 7) & 0xff;
    for (const start of [0, 1, 3, 5]) {
      for (let length = 0; length <= 600; length += length < 40 ? 1 : 37) {
        expect(crc32(bytes, start, start + length)).toBe(reference(bytes, start, start + length));
      }
    }
  });

  it('writes the file header byte for byte as documented', () => {
    const header = Buffer.from(encodeHeader({ rev: 'legacy', side: 'js' }));
    expect(header.subarray(0, 12).toString('hex')).toBe('894254524' + '30d0a1a' + '0100' + '02' + '06');
    expect(header.toString('latin1', 12, 18)).toBe('legacy');
    expect(header.readUInt32LE(18)).toBe(crc32(header, 0, 18));
    expect(header.length).toBe(22);
    expect(() => encodeHeader({ rev: 'x'.repeat(65) })).toThrow(RangeError);
  });

  it('writes a message frame byte for byte as documented', () => {
    const frame = Buffer.from(encodeFrame(message({ dir: 'j2r', side: 'js', seq: 2, t: 0x1_0000_0001, ctx: 'wv', data: FIXTURE.emptyRespond })));
    const payloadLength = 22 + 2 + 13;
    expect(frame.subarray(0, 4)).toEqual(Buffer.from(FRAME_SYNC));
    expect(frame.readUInt32LE(4)).toBe(payloadLength);
    expect([...frame.subarray(8, 12)]).toEqual([1, 0b111, 2, 2]); // kind message, flags seq|t|ctx, j2r, js
    expect(frame.subarray(12, 20).toString('hex')).toBe('0200000000000000');
    expect(frame.subarray(20, 28).toString('hex')).toBe('0100000001000000');
    expect(frame.readUInt16LE(28)).toBe(2);
    expect(frame.toString('utf8', 30, 32)).toBe('wv');
    expect(frame.subarray(32, 45)).toEqual(Buffer.from(FIXTURE.emptyRespond, 'base64'));
    expect(frame.readUInt32LE(45)).toBe(crc32(frame, 4, 45));
    expect(frame.length).toBe(8 + payloadLength + 4);
  });

  it('writes a meta frame with its fields in order', () => {
    const frame = Buffer.from(encodeFrame(meta([['rev', 'seq-id'], ['fn.cast', '3']])));
    expect(frame[8]).toBe(2);
    expect(frame.subarray(9, 30).every((b) => b === 0)).toBe(true);
    expect(frame.readUInt32LE(30)).toBe(2);
    expect(frame.readUInt32LE(34)).toBe(3);
    expect(frame.toString('utf8', 38, 41)).toBe('rev');
    expect(frame.readUInt32LE(41)).toBe(6);
    expect(frame.toString('utf8', 45, 51)).toBe('seq-id');
  });

  it('reproduces the worked example of docs/binary-container.md §5', async () => {
    const expected = [
      '89 42 54 52 43 0d 0a 1a 01 00 02 06 6c 65 67 61',
      '63 79 1c 22 da 36',
      'fb 42 54 46 39 00 00 00 02 00 00 00 00 00 00 00',
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 02 00',
      '00 00 03 00 00 00 72 65 76 06 00 00 00 6c 65 67',
      '61 63 79 04 00 00 00 73 69 64 65 02 00 00 00 6a',
      '73 29 c2 64 5d',
      'fb 42 54 46 23 00 00 00 01 03 02 02 02 00 00 00',
      '00 00 00 00 a2 01 00 00 00 00 00 00 00 00 0c 00',
      '00 00 0c 00 00 00 0d 00 00 00 01 2d 98 25 de',
    ].join(' ');
    const file = await writeBinary(
      [meta([['rev', 'legacy'], ['side', 'js']]), message({ dir: 'j2r', side: 'js', seq: 2, t: 418, data: FIXTURE.emptyRespond })],
      { rev: 'legacy', side: 'js' },
    );
    expect([...file].map((b) => b.toString(16).padStart(2, '0')).join(' ')).toBe(expected);
  });

  it('refuses records the readers would reject', () => {
    expect(() => encodeFrame(message({ dir: 'r2j', data: '', ctx: 'has space' }))).toThrow(TypeError);
    expect(() => encodeFrame(message({ dir: 'r2j', data: '', seq: -1 }))).toThrow(TypeError);
    expect(() => encodeFrame({ ...meta([['rev', 'legacy']]), rev: 'seq-id' })).toThrow(/disagree/);
    expect(() => encodeFrame(meta([['side', 'js']]))).toThrow(/missing required field rev/);
  });
});

describe('.btrace reading', () => {
  it('reads back what it wrote, in any chunking, and reports the header', async () => {
    const records = sampleRecords();
    const file = await writeBinary(records, { rev: 'reserved-count', side: 'both' });
    let info: ContainerInfo | undefined;
    const read = await readBytes(file, { onContainer: (i) => (info = i) });
    expect(read.map(content)).toEqual(records.map(content));
    expect(info).toEqual({ format: 'binary', gzip: false, header: { version: 1, rev: 'reserved-count', side: 'both' } satisfies BinaryTraceHeader });
    expect(read[1].loc).toEqual({ input: '-', offset: frameOffsets(file)[1] });
    for (const sizes of [[1], randomSizes(11, 50, 13)]) {
      expect((await readBytes(chunked(file, sizes))).map(content)).toEqual(records.map(content));
    }
  });

  it('reads an empty trace (header only)', async () => {
    expect(await readBytes(await writeBinary([], {}))).toEqual([]);
  });

  it('turns a flipped byte inside any frame into one bad record at that frame, keeping all others', async () => {
    const file = await writeBinary(threeMessages);
    const offsets = frameOffsets(file);
    for (const [index, frameAt] of offsets.entries()) {
      // One flip in the payload, one in the length field, one in the sync marker, one in the CRC.
      for (const delta of [8 + 25, 5, 1, 8 + file.readUInt32LE(frameAt + 4) + 2]) {
        const damaged = Buffer.from(file);
        damaged[frameAt + delta] ^= 0x40;
        const records = await readBytes(damaged);
        const expected = threeMessages.map((m) => `message#${m.seq}`);
        expected[index] = `bad@${frameAt}`;
        expect(kinds(records), `frame ${index}, byte ${delta}`).toEqual(expected);
        const bad = records[index];
        expect(bad.kind === 'bad' && bad.message, `frame ${index}, byte ${delta}`).toMatch(
          /^(frame CRC mismatch|no frame sync marker|frame length \d+ exceeds|truncated frame).*skipped \d+ bytes to (the next intact frame|the end of input)$/,
        );
      }
    }
  });

  it('salvages dir/side/seq from a frame whose CRC failed', async () => {
    const file = await writeBinary(threeMessages);
    const at = frameOffsets(file)[1];
    file[at + 8 + 30] ^= 0xff; // inside the message bytes
    const bad = (await readBytes(file))[1];
    expect(bad).toMatchObject({ kind: 'bad', dir: 'j2r', side: 'rust', seq: 2, loc: { offset: at } });
    expect(bad.kind === 'bad' && bad.message).toMatch(/^frame CRC mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\); skipped 47 bytes to the next intact frame$/);
  });

  it('gives one bad record for a truncated tail, wherever the cut falls', async () => {
    const file = await writeBinary(threeMessages);
    const last = frameOffsets(file)[4];
    for (let cut = last + 1; cut < file.length; cut++) {
      const records = await readBytes(file.subarray(0, cut));
      expect(kinds(records), `cut at ${cut}`).toEqual(['message#1', 'message#2', 'message#3', 'message#4', `bad@${last}`]);
      expect(records[4].kind === 'bad' && records[4].message).toMatch(/^truncated frame/);
    }
    expect(kinds(await readBytes(file.subarray(0, last)))).toEqual(['message#1', 'message#2', 'message#3', 'message#4']);
  });

  it('reports a truncated file header', async () => {
    const file = await writeBinary(threeMessages, { rev: 'legacy' });
    expect(await readBytes(file.subarray(0, 10))).toEqual([{ kind: 'bad', message: 'truncated file header: 10 bytes', loc: { input: '-', offset: 0 } }]);
  });

  it('rejects an absurd length before allocating, and resumes at the next frame', async () => {
    const file = await writeBinary(threeMessages);
    const at = frameOffsets(file)[2];
    file.writeUInt32LE(0xfffffff0, at + 4);
    const records = await readBytes(file);
    expect(kinds(records)).toEqual(['message#1', 'message#2', `bad@${at}`, 'message#4', 'message#5']);
    expect(records[2].kind === 'bad' && records[2].message).toBe(
      `frame length 4294967280 exceeds the maximum ${MAX_FRAME_PAYLOAD}; skipped ${8 + 22 + 32 + 4} bytes to the next intact frame`,
    );
  });

  it('survives a plausible but wrong length that runs past the end of the input', async () => {
    const file = await writeBinary(threeMessages);
    const at = frameOffsets(file)[1];
    file.writeUInt32LE(1_000_000, at + 4); // within the maximum, so the reader must wait for the end to know
    const records = await readBytes(file);
    expect(kinds(records)).toEqual(['message#1', `bad@${at}`, 'message#3', 'message#4', 'message#5']);
    expect(records[1].kind === 'bad' && records[1].message).toMatch(/^truncated frame: needs 1000012 bytes, input ends after \d+; skipped 47 bytes/);
  });

  it('honours a lower frame limit from the options', async () => {
    const file = await writeBinary(threeMessages);
    const offsets = frameOffsets(file);
    // Payloads: 22 fixed bytes + 36, 13, 32, 22, 13 message bytes; the first and third exceed 50.
    const records = await readBytes(file, { maxFramePayload: 50 });
    expect(kinds(records)).toEqual([`bad@${offsets[0]}`, 'message#2', `bad@${offsets[2]}`, 'message#4', 'message#5']);
    expect(records[0]).toMatchObject({ message: 'frame length 58 exceeds the maximum 50; skipped 70 bytes to the next intact frame' });
  });

  it('reports garbage between frames once, even garbage holding a false sync marker', async () => {
    const file = await writeBinary(threeMessages);
    const at = frameOffsets(file)[3];
    const garbage = Buffer.concat([Buffer.from('some log text\n'), Buffer.from(FRAME_SYNC), Buffer.from([20, 0, 0, 0]), Buffer.alloc(9, 0xee)]);
    const damaged = Buffer.concat([file.subarray(0, at), garbage, file.subarray(at)]);
    for (const sizes of [[damaged.length], [1], [5, 3]]) {
      const records = await readBytes(chunked(damaged, sizes));
      expect(kinds(records)).toEqual(['message#1', 'message#2', 'message#3', `bad@${at}`, 'message#4', 'message#5']);
      expect(records[3].kind === 'bad' && records[3].message).toBe(
        `no frame sync marker (found 73 6f 6d 65); skipped ${garbage.length} bytes to the next intact frame`,
      );
      expect(records[4].loc.offset).toBe(at + garbage.length);
    }
  });

  it('reports garbage after the last frame', async () => {
    const file = await writeBinary(threeMessages.slice(0, 1));
    const records = await readBytes(Buffer.concat([file, Buffer.alloc(1000, 0x41)]));
    expect(records.map((r) => (r.kind === 'bad' ? r.message : r.kind))).toEqual([
      'message',
      'no frame sync marker (found 41 41 41 41); skipped 1000 bytes to the end of input',
    ]);
  });

  it('skips a CRC-valid frame with content it does not understand, exactly', async () => {
    const file = await writeBinary(threeMessages);
    const at = frameOffsets(file)[1];
    const length = file.readUInt32LE(at + 4);
    file[at + 8] = 7; // record kind 7
    file.writeUInt32LE(crc32(file, at + 4, at + 8 + length), at + 8 + length);
    const records = await readBytes(file);
    expect(kinds(records)).toEqual(['message#1', `bad@${at}`, 'message#3', 'message#4', 'message#5']);
    expect(records[1]).toMatchObject({ message: 'unknown record kind 7' });
  });

  it('reads frames after a damaged file header and says so once', async () => {
    const file = await writeBinary(threeMessages, { rev: 'legacy', side: 'rust' });
    file[14] ^= 1; // inside the rev
    let info: ContainerInfo | undefined;
    const records = await readBytes(file, { onContainer: (i) => (info = i) });
    expect(kinds(records)).toEqual(['bad@0', 'message#1', 'message#2', 'message#3', 'message#4', 'message#5']);
    expect(records[0].kind === 'bad' && records[0].message).toBe('damaged file header (CRC mismatch); skipped 22 bytes to the next intact frame');
    expect(info).toEqual({ format: 'binary', gzip: false });
  });

  it('still recognises a file whose magic has a damaged byte', async () => {
    const file = await writeBinary(threeMessages);
    file[3] ^= 0x20;
    const records = await readBytes(file);
    expect(kinds(records)).toEqual(['bad@0', 'message#1', 'message#2', 'message#3', 'message#4', 'message#5']);
    expect(records[0]).toMatchObject({ message: 'damaged file header (wrong magic bytes); skipped 16 bytes to the next intact frame' });
  });

  it('stops at a format version it does not know', async () => {
    const file = await writeBinary(threeMessages);
    file.writeUInt16LE(2, 8);
    file.writeUInt32LE(crc32(file, 0, 12), 12);
    expect(await readBytes(file)).toEqual([
      { kind: 'bad', message: 'unsupported .btrace format version 2 (this reader knows version 1)', loc: { input: '-', offset: 0 } },
    ]);
  });

  it('keeps the magic distinct from text and from gzip', () => {
    expect(BINARY_MAGIC[0]).toBeGreaterThan(0x7f);
    expect(BINARY_MAGIC[0]).not.toBe(0x1f);
  });

  it('keeps message bytes intact whatever they contain (sync markers, magic, zeros)', async () => {
    const tricky = Buffer.concat([Buffer.from(FRAME_SYNC), Buffer.from(BINARY_MAGIC), Buffer.alloc(100), Buffer.from(FRAME_SYNC)]);
    const record = message({ dir: 'r2j', data: tricky.toString('base64') });
    const read = await readBytes(await writeBinary([record, record]));
    expect(read.map(content)).toEqual([content(record), content(record)]);
    expect((read[0] as { data: Uint8Array }).data).toEqual(b64(tricky.toString('base64')));
  });
});
