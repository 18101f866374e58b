import { describe, expect, it } from 'vitest';

import type { TraceRecord } from '../../src/trace/index.js';
import { chunked, FIXTURE, randomSizes, readBytes } from './helpers.js';

/** A log that exercises every boundary case: markers at line starts and mid-line, false markers, ANSI, CRLF, bad lines. */
const LOG = Buffer.from(
  [
    'plain line',
    `@btrace meta rev=seq-id side=rust ctx=t1`,
    `2026-11-24 INFO @btrace side=rust seq=1 t=0 dir=r2j data=${FIXTURE.makeNode}`,
    `@btracex decoy @btrac decoy2 @ btrace @btrace dir=j2r data=${FIXTURE.emptyRespond}\r`,
    '',
    `\x1b[32m@btrace\x1b[0m dir=r2j data=${FIXTURE.makeNodeBatched}\x1b[0m`,
    '@btrace dir=r2j data=broken!',
    'x@btrace',
    '@@btrace@btrace dir=j2r data=AAAA',
    `${'noise '.repeat(300)}@btrace dir=j2r seq=7 data=${FIXTURE.respondBool}`,
    `@btrace dir=r2j data=${FIXTURE.emptyRespond}`,
  ].join('\n'),
  'utf8',
);

function describeAll(records: TraceRecord[]): string[] {
  return records.map((r) => `${r.loc.line} ${JSON.stringify({ ...r, loc: undefined, data: r.kind === 'message' ? Buffer.from(r.data).toString('base64') : undefined })}`);
}

describe('chunk boundaries', () => {
  it('reads the reference log in one chunk as expected', async () => {
    const records = await readBytes(LOG);
    expect(records.map((r) => `${r.loc.line}:${r.kind}`)).toEqual([
      '2:meta',
      '3:message',
      '4:message',
      '6:message',
      '7:bad',
      '8:bad',
      '9:message',
      '10:message',
      '11:message',
    ]);
  });

  it('gives the same records when fed one byte at a time', async () => {
    const whole = describeAll(await readBytes(LOG));
    expect(describeAll(await readBytes(chunked(LOG, [1])))).toEqual(whole);
  });

  it('gives the same records for random chunk sizes', async () => {
    const whole = describeAll(await readBytes(LOG));
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const sizes = randomSizes(seed, 64, seed % 2 === 0 ? 9 : 200);
      expect(describeAll(await readBytes(chunked(LOG, sizes))), `seed ${seed}`).toEqual(whole);
    }
  });

  it('finds a marker split at every position, and decides a marker ending a chunk by the next chunk', async () => {
    const line = `junk @btrace dir=r2j data=${FIXTURE.emptyRespond}\n`;
    const markerStart = line.indexOf('@');
    for (let cut = markerStart; cut <= markerStart + 8; cut++) {
      const bytes = Buffer.from(line);
      const records = await readBytes(chunked(bytes, [cut, bytes.length]));
      expect(records.map((r) => r.kind), `cut at ${cut}`).toEqual(['message']);
    }
    const decoy = Buffer.from('a @btrace');
    const records = await readBytes(chunked(Buffer.concat([decoy, Buffer.from(`x dir=r2j data=AAAA\n@btrace`)]), [decoy.length, 1000]));
    expect(records.map((r) => (r.kind === 'bad' ? r.message : r.kind))).toEqual(['empty record: nothing after @btrace']);
  });
});
