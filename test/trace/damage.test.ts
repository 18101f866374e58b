/**
 * Issue 12, the trace layer: damage built from the format specs (RFC 1952 for gzip,
 * docs/binary-container.md, docs/trace-lines.md, ECMA-48 for escapes), each case read
 * through openTrace and, where it matters, the decode layer.
 */
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';

import { decodeRecords } from '../../src/protocol/stream.js';
import { crc32, type BadRecord, type TraceRecord } from '../../src/trace/index.js';
import { collect, content, FIXTURE, message, readBytes, sampleRecords, writeBinary, writeLines } from './helpers.js';

const bad = (records: TraceRecord[]): BadRecord[] => records.filter((r): r is BadRecord => r.kind === 'bad');
const gzipBad = (records: TraceRecord[]): BadRecord[] => bad(records).filter((r) => r.message.startsWith('damaged gzip stream: '));

describe('gzip damage keeps what was read (RFC 1952)', () => {
  const records = sampleRecords();
  const expected = records.map(content);

  it('concatenated members read as one stream, whatever the chunking', async () => {
    const lines = await writeLines(records);
    const cut = lines.indexOf('\n', lines.length >> 1) + 1;
    const members = Buffer.concat([gzipSync(lines.subarray(0, cut)), gzipSync(Buffer.alloc(0)), gzipSync(lines.subarray(cut))]);
    for (const size of [1, 3, 17, members.length]) {
      const chunks = Array.from({ length: Math.ceil(members.length / size) }, (_, i) => members.subarray(i * size, (i + 1) * size));
      expect((await readBytes(Readable.from(chunks))).map(content), `chunks of ${size}`).toEqual(expected);
    }
    // A member boundary inside a line: the line is whole again after decompression.
    const mid = lines.indexOf('data=') + 3;
    const split = Buffer.concat([gzipSync(lines.subarray(0, mid)), gzipSync(lines.subarray(mid))]);
    expect((await readBytes(split)).map(content)).toEqual(expected);
  });

  it('junk after the last member: every record, then one bad record at the junk', async () => {
    for (const container of ['lines', 'binary'] as const) {
      const gz = gzipSync(container === 'lines' ? await writeLines(records) : await writeBinary(records));
      const read = await readBytes(Buffer.concat([gz, Buffer.from('garbage\n')]));
      expect(read.slice(0, -1).map(content), container).toEqual(expected);
      expect(read[read.length - 1]).toEqual({
        kind: 'bad',
        message: `damaged gzip stream: junk after the last member at compressed byte ${gz.length}`,
        loc: { input: '-', offset: gz.length },
      });
    }
  });

  it('zero padding after the last member is no data and no damage (as gzip(1) treats it)', async () => {
    const gz = gzipSync(await writeLines(records));
    expect((await readBytes(Buffer.concat([gz, Buffer.alloc(512)]))).map(content)).toEqual(expected);
  });

  it('a flipped CRC or length byte in the trailer: every record, then the mismatch at the trailer', async () => {
    const gz = gzipSync(await writeLines(records));
    const crcFlip = Buffer.from(gz);
    crcFlip[gz.length - 8] ^= 0x01;
    let read = await readBytes(crcFlip);
    expect(read.slice(0, -1).map(content)).toEqual(expected);
    expect(read[read.length - 1]).toMatchObject({ kind: 'bad', loc: { input: '-', offset: gz.length - 8 } });
    expect((read[read.length - 1] as BadRecord).message).toMatch(/^damaged gzip stream: CRC mismatch in the trailer at compressed byte \d+ \(stored 0x[0-9a-f]{8}, data 0x[0-9a-f]{8}\)/);

    const sizeFlip = Buffer.from(gz);
    sizeFlip[gz.length - 1] ^= 0x80;
    read = await readBytes(sizeFlip);
    expect(read.slice(0, -1).map(content)).toEqual(expected);
    expect(read[read.length - 1]).toMatchObject({ kind: 'bad', loc: { offset: gz.length - 4 } });
    expect((read[read.length - 1] as BadRecord).message).toMatch(/^damaged gzip stream: length mismatch in the trailer/);
  });

  it('a CRC mismatch in the first of two members does not lose the second', async () => {
    const lines = await writeLines(records);
    const cut = lines.indexOf('\n', lines.length >> 1) + 1;
    const first = gzipSync(lines.subarray(0, cut));
    first[first.length - 6] ^= 0x10;
    const read = await readBytes(Buffer.concat([first, gzipSync(lines.subarray(cut))]));
    expect(read.filter((r) => r.kind !== 'bad').map(content)).toEqual(expected);
    expect(gzipBad(read)).toHaveLength(1);
    expect(gzipBad(read)[0]!.loc.offset).toBe(first.length - 8);
  });

  it('a missing or cut trailer is reported, never read as clean', async () => {
    const gz = gzipSync(await writeLines(records));
    for (const keep of [0, 3, 7]) {
      const read = await readBytes(gz.subarray(0, gz.length - 8 + keep));
      expect(read.slice(0, -1).map(content), `trailer bytes kept: ${keep}`).toEqual(expected);
      expect(read[read.length - 1]).toEqual({
        kind: 'bad',
        message: `damaged gzip stream: truncated trailer at compressed byte ${gz.length - 8} (${keep} of its 8 bytes); the data before it is complete but unchecked`,
        loc: { input: '-', offset: gz.length - 8 },
      });
    }
  });

  it('a cut inside the deflate data keeps every whole record before it, and says where', async () => {
    const many = Array.from({ length: 400 }, (_, i) => message({ dir: i % 2 ? 'j2r' : 'r2j', seq: i + 1, t: i * 7, data: FIXTURE.makeNode }));
    const gz = gzipSync(await writeLines(many), { level: 1 });
    const cutAt = gz.length >> 1;
    const read = await readBytes(gz.subarray(0, cutAt));
    const damage = gzipBad(read);
    expect(damage).toHaveLength(1);
    expect(damage[0]!.message).toBe(`damaged gzip stream: unexpected end of file at compressed byte ${damage[0]!.loc.offset}; records after this point are lost`);
    expect(damage[0]!.loc.offset).toBeLessThanOrEqual(cutAt);
    const good = read.filter((r) => r.kind === 'message');
    expect(good.length).toBeGreaterThan(50);
    expect(good.map(content)).toEqual(many.slice(0, good.length).map(content));
    expect(read[read.length - 1]).toBe(damage[0]); // after the records, including the cut line
  });

  it('a damaged member header, and a header cut short', async () => {
    const gz = gzipSync(await writeLines(records));
    const flags = Buffer.from(gz);
    flags[3] = 0xe0; // reserved FLG bits
    expect(await readBytes(flags)).toEqual([
      {
        kind: 'bad',
        message: 'damaged gzip stream: bad member header at compressed byte 0 (reserved header flag bits set (flags 0xe0)); records after this point are lost',
        loc: { input: '-', offset: 0 },
      },
    ]);
    const method = Buffer.from(gz);
    method[2] = 7;
    expect(gzipBad(await readBytes(method))[0]!.message).toContain('unknown compression method 7');
    expect(gzipBad(await readBytes(gz.subarray(0, 6)))[0]!.message).toBe(
      'damaged gzip stream: truncated member header at compressed byte 0; records after this point are lost',
    );
  });

  it('header fields FEXTRA, FNAME, FCOMMENT and FHCRC are skipped', async () => {
    const lines = await writeLines(records);
    const plain = gzipSync(lines);
    const extra = Buffer.from([4, 0, 0x41, 0x42, 0x43, 0x44]);
    const header = Buffer.concat([plain.subarray(0, 10), extra, Buffer.from('name.log\0'), Buffer.from('a comment\0'), Buffer.from([0, 0])]);
    header[3] = 0x04 | 0x08 | 0x10 | 0x02;
    const crc = crc32(header, 0, header.length - 2) & 0xffff;
    header.writeUInt16LE(crc, header.length - 2);
    const withFields = Buffer.concat([header, plain.subarray(10)]);
    expect((await readBytes(withFields)).map(content)).toEqual(expected);
  });

  it('a damaged gzip of a .btrace keeps the frames before the damage, the damage last', async () => {
    const gz = gzipSync(await writeBinary(records));
    const read = await readBytes(gz.subarray(0, gz.length - 8));
    expect(read.slice(0, -1).map(content)).toEqual(expected);
    expect(read[read.length - 1]!.kind).toBe('bad');
    expect(gzipBad(read)).toHaveLength(1);
  });
});

describe('escape sequences a CI log can hold are stripped whole (ECMA-48)', () => {
  const data = FIXTURE.emptyRespond;
  const cases: Array<[string, string]> = [
    ['character-set designation ESC ( B (tput sgr0)', `@btrace dir=j2r \u001b(Bdata=${data}`],
    ['every designation intermediate ( ) * + - . /', `@btrace \u001b(Bdir=j2r\u001b)0 \u001b*B\u001b+B\u001b-A\u001b.A\u001b/A data=${data}`],
    ['other nF sequences ESC % G, ESC # 8, ESC SP F', `@btrace dir=j2r \u001b%Gdata=${data}\u001b#8\u001b F`],
    ['SGR colours around fields', `@btrace \u001b[1;31mdir=j2r\u001b[0m \u001b[38;5;208mdata=${data}\u001b[m`],
    ['CSI with intermediates and private parameters', `@btrace dir=j2r \u001b[?25l\u001b[1 qdata=${data}`],
    ['OSC ended by BEL', `@btrace dir=j2r \u001b]0;window title\u0007data=${data}`],
    ['OSC 8 hyperlink ended by ST', `@btrace dir=j2r \u001b]8;;https://example.com\u001b\\data=${data}\u001b]8;;\u001b\\`],
    ['DCS, SOS, PM and APC strings', `@btrace dir=j2r \u001bPq#0\u001b\\\u001bXsos\u001b\\\u001b^pm\u001b\\\u001b_apc\u001b\\data=${data}`],
    ['two-byte escapes ESC 7 / ESC 8 / ESC = / ESC M / ESC c', `@btrace dir=j2r \u001b7\u001b=data=${data}\u001b8\u001bM\u001bc`],
    ['C1 CSI and OSC code points', `@btrace dir=j2r \u009b31mdata=${data}\u009b0m\u009d0;t\u009c`],
    ['an escape straight after the marker, and a lone ESC at the end', `@btrace\u001b[0m dir=j2r data=${data}\u001b`],
    ['CR LF line end after a colour reset', `@btrace dir=j2r data=${data}\u001b(B\u001b[m\r`],
  ];
  for (const [name, line] of cases) {
    it(name, async () => {
      const read = await readBytes(Buffer.from(`2026-12-03 ci: ${line}\nnext line\n`, 'utf8'));
      expect(read).toEqual([{ kind: 'message', dir: 'j2r', data: new Uint8Array(Buffer.from(data, 'base64')), loc: { input: '-', line: 1 } }]);
    });
  }

  it('an unterminated OSC swallows the rest of the line only', async () => {
    const read = await readBytes(Buffer.from(`@btrace dir=j2r data=${data} \u001b]0;no end\n@btrace dir=j2r data=${data}\n`, 'utf8'));
    expect(read.map((r) => r.kind)).toEqual(['message', 'message']);
  });
});

describe('records that cannot be read come out of the trace layer as bad records at their own place', () => {
  it('a .btrace frame of length 0 is one bad record at its offset; the frames around it are kept', async () => {
    const records = sampleRecords();
    const file = await writeBinary(records);
    const headerLength = 12 + file[11]! + 4;
    const firstFrameLength = 12 + file.readUInt32LE(headerLength + 4);
    const at = headerLength + firstFrameLength; // start of the second frame
    const zeroFrame = Buffer.from([0xfb, 0x42, 0x54, 0x46, 0, 0, 0, 0]);
    const damaged = Buffer.concat([file.subarray(0, at), zeroFrame, file.subarray(at)]);
    const read = await readBytes(damaged);
    expect(read.filter((r) => r.kind !== 'bad').map(content)).toEqual(records.map(content));
    expect(bad(read)).toEqual([
      { kind: 'bad', message: 'frame length 0 is below the minimum 22; skipped 8 bytes to the next intact frame', loc: { input: '-', offset: at } },
    ]);
    expect(read.indexOf(bad(read)[0]!)).toBe(1); // in place, between the frames it sits between
  });

  it('side=JS is a bad record at its line, with what could be read, and the decode layer passes it on', async () => {
    const text = [
      '@btrace meta rev=reserved-count ctx=s',
      `@btrace side=rust seq=1 ctx=s dir=r2j data=${FIXTURE.makeNode}`,
      `@btrace side=JS seq=1 ctx=s dir=r2j data=${FIXTURE.makeNode}`,
      `@btrace side=js seq=2 ctx=s dir=j2r data=${FIXTURE.emptyRespond}`,
      '',
    ].join('\n');
    const read = await readBytes(Buffer.from(text));
    expect(read[2]).toEqual({ kind: 'bad', message: 'bad side value "JS" (expected rust or js)', dir: 'r2j', seq: 1, ctx: 's', loc: { input: '-', line: 3 } });
    const events = await collect(decodeRecords(read));
    expect(events.map((e) => e.type)).toEqual(['meta', 'message', 'bad', 'message']);
    const event = events[2]!;
    expect(event.type === 'bad' && event.record.loc).toEqual({ input: '-', line: 3 });
  });
});

describe('a bad record whose side is unreadable', () => {
  it('marks what follows in every conversation of its ctx as a possible consequence', async () => {
    // Example A's R-Eval defines type 16 with TYPE_FULL; then a record is lost, and a later R-Eval
    // using TYPE_CACHED for an id never defined is flagged as probably caused by the loss.
    const cached = Buffer.from(FIXTURE.makeNode, 'base64');
    // reserved-count layout: u32 [reserved count, fn id, type id, string length]; u8 [message type, type marker, …].
    cached[cached.readUInt32LE(4) + 1] = 0xff; // the op's type marker, FULL -> CACHED
    cached.writeUInt32LE(99, 12 + 8); // type id 99: never defined
    const text = [
      '@btrace meta rev=reserved-count ctx=s',
      `@btrace side=rust seq=1 ctx=s dir=r2j data=${FIXTURE.makeNode}`,
      `@btrace side=js seq=1 ctx=s dir=r2j data=${FIXTURE.makeNode}`,
      `@btrace side=JS seq=2 ctx=s dir=j2r data=${FIXTURE.emptyRespond}`,
      `@btrace side=js seq=3 ctx=s dir=r2j data=${cached.toString('base64')}`,
      '',
    ].join('\n');
    const events = await collect(decodeRecords(await readBytes(Buffer.from(text))));
    const last = events[events.length - 1]!;
    expect(last.type).toBe('message');
    if (last.type !== 'message') return;
    const issue = last.message.issues.find((i) => i.kind === 'unknown-type-id');
    expect(issue).toMatchObject({ consequence: true });
  });
});
