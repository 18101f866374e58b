import { describe, expect, it } from 'vitest';

import { formatTraceLine, parseTraceLine, type BadRecord, type TraceRecord } from '../../src/trace/index.js';
import { b64, chunked, FIXTURE, readBytes } from './helpers.js';

const read = (text: string): Promise<TraceRecord[]> => readBytes(Buffer.from(text, 'utf8'));

function summary(records: TraceRecord[]): string[] {
  return records.map((r) => `${r.loc.line}:${r.kind === 'bad' ? `bad(${r.message})` : r.kind}`);
}

describe('@btrace lines', () => {
  it('reads the example of trace-lines.md verbatim (its elided data field is invalid base64)', async () => {
    const example = [
      '2026-11-24T03:51:04.120Z INFO webview: @btrace meta rev=reserved-count side=js',
      '2026-11-24T03:51:04.121Z INFO webview: @btrace side=js seq=1 t=0 dir=r2j data=EAAAABQAAAAaAAAAAAAAAA…',
      '[js] @btrace side=js seq=2 t=418 dir=j2r data=DAAAAAwAAAANAAAAAQ==',
      '',
    ].join('\n');
    const records = await read(example);
    expect(records).toEqual([
      {
        kind: 'meta',
        rev: 'reserved-count',
        side: 'js',
        fields: [['rev', 'reserved-count'], ['side', 'js']],
        loc: { input: '-', line: 1 },
      },
      {
        kind: 'bad',
        message: 'invalid base64 in data at character 23',
        dir: 'r2j',
        side: 'js',
        seq: 1,
        loc: { input: '-', line: 2 },
      },
      {
        kind: 'message',
        dir: 'j2r',
        side: 'js',
        seq: 2,
        t: 418,
        data: new Uint8Array([0x0c, 0, 0, 0, 0x0c, 0, 0, 0, 0x0d, 0, 0, 0, 0x01]),
        loc: { input: '-', line: 3 },
      },
    ]);
  });

  it('reads the example with its data field completed', async () => {
    const records = await read(
      `2026-11-24T03:51:04.121Z INFO webview: @btrace side=js seq=1 t=0 dir=r2j data=${FIXTURE.makeNode}\n`,
    );
    expect(records).toEqual([
      { kind: 'message', dir: 'r2j', side: 'js', seq: 1, t: 0, data: b64(FIXTURE.makeNode), loc: { input: '-', line: 1 } },
    ]);
    expect((records[0] as { data: Uint8Array }).data.length).toBe(36);
  });

  it('ignores ANSI colour codes around the marker, between fields and right after values', async () => {
    const log = [
      `\x1b[2m12:00:01\x1b[0m \x1b[32mINFO\x1b[0m \x1b[1m@btrace\x1b[0m dir=r2j data=${FIXTURE.makeNode}\x1b[0m`,
      `\x1b]8;;http://x\x07link\x1b]8;;\x07 @btrace \x1b[36mside=rust\x1b[39m \x1b[2mseq=\x1b[22m4 dir=j2r data=${FIXTURE.emptyRespond}\x1b[0m`,
    ].join('\n');
    const records = await read(log);
    expect(records.map((r) => r.kind)).toEqual(['message', 'message']);
    expect(records[0]).toMatchObject({ dir: 'r2j', data: b64(FIXTURE.makeNode) });
    expect(records[1]).toMatchObject({ dir: 'j2r', side: 'rust', seq: 4, data: b64(FIXTURE.emptyRespond) });
  });

  it('handles CRLF line ends, a last line without newline, and counts lines across them', async () => {
    const log = `first\r\n@btrace dir=r2j data=${FIXTURE.emptyRespond}\r\n\r\nnoise\r\n@btrace dir=j2r data=${FIXTURE.respondBool}`;
    const records = await read(log);
    expect(records).toEqual([
      { kind: 'message', dir: 'r2j', data: b64(FIXTURE.emptyRespond), loc: { input: '-', line: 2 } },
      { kind: 'message', dir: 'j2r', data: b64(FIXTURE.respondBool), loc: { input: '-', line: 5 } },
    ]);
  });

  it('finds the marker after any prefix, but only as a token', async () => {
    const log = [
      `[2026-11-24 03:51:04][thread-7] webview:@btrace dir=r2j data=${FIXTURE.emptyRespond}`,
      `mail me at someone@btrace.example.org dir=r2j data=${FIXTURE.emptyRespond}`,
      `@btraces dir=r2j data=${FIXTURE.emptyRespond}`,
      `@btrace=1 dir=r2j data=${FIXTURE.emptyRespond}`,
      `@btracex then the real one: @btrace\tdir=j2r data=${FIXTURE.emptyRespond}`,
      '@btrac e',
    ].join('\n');
    expect(summary(await read(log))).toEqual(['1:message', '5:message']);
  });

  it('accepts fields in any order and ignores unknown keys (even odd-looking values)', async () => {
    const records = await read(
      `@btrace data=${FIXTURE.emptyRespond} future=1 t=7 dir=j2r blob=a=b=c side=rust seq=003 ctx=wv-1\n`,
    );
    expect(records).toEqual([
      {
        kind: 'message',
        dir: 'j2r',
        side: 'rust',
        seq: 3,
        t: 7,
        ctx: 'wv-1',
        data: b64(FIXTURE.emptyRespond),
        loc: { input: '-', line: 1 },
      },
    ]);
  });

  it('keeps interleaved sessions apart by ctx, meta records included', async () => {
    const log = [
      '@btrace meta rev=reserved-count side=js ctx=webview-1',
      '@btrace meta rev=explicit-ids side=js ctx=webview-2 fn.drop_heap_ref=12 fn.clone_heap_ref=13 fn.dispose_rust_function=14 fn.cast=3',
      `@btrace side=js ctx=webview-1 dir=r2j data=${FIXTURE.makeNode}`,
      `@btrace side=js ctx=webview-2 dir=r2j data=${FIXTURE.makeNodeBatched}`,
      `@btrace side=js ctx=webview-1 dir=j2r data=${FIXTURE.emptyRespond}`,
    ].join('\n');
    const records = await read(log);
    expect(records.map((r) => (r.kind === 'bad' ? 'bad' : `${r.kind}@${r.ctx}`))).toEqual([
      'meta@webview-1',
      'meta@webview-2',
      'message@webview-1',
      'message@webview-2',
      'message@webview-1',
    ]);
    expect(records[1]).toMatchObject({
      rev: 'explicit-ids',
      fields: [
        ['rev', 'explicit-ids'],
        ['side', 'js'],
        ['ctx', 'webview-2'],
        ['fn.drop_heap_ref', '12'],
        ['fn.clone_heap_ref', '13'],
        ['fn.dispose_rust_function', '14'],
        ['fn.cast', '3'],
      ],
    });
  });

  it('reports each kind of bad line with its line number and keeps the records around it', async () => {
    const good = `@btrace dir=r2j data=${FIXTURE.emptyRespond}`;
    const bad: Array<[string, string, Partial<BadRecord>?]> = [
      [`@btrace side=js seq=5 data=${FIXTURE.emptyRespond}`, 'missing required field dir', { side: 'js', seq: 5 }],
      [`@btrace dir=x2y data=${FIXTURE.emptyRespond}`, 'bad dir value "x2y" (expected r2j or j2r)'],
      [`@btrace dir=r2j side=both data=${FIXTURE.emptyRespond}`, 'bad side value "both" (expected rust or js)', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAAAAwAAAANA*AAAQ==', 'invalid base64 in data at character 14', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAAAAwAAAANAAAAAQ', 'invalid base64 in data: length 18 is not a multiple of 4 (missing or extra padding)', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAAAAwAAAANAAAAAQ=', 'invalid base64 in data: length 19 is not a multiple of 4 (missing or extra padding)', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAA=AwAAAANAAAAAQ==', 'invalid base64 in data at character 5', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAAAAwAAAANAAAAAR==', 'invalid base64 padding in data: unused bits of character 18 are not zero', { dir: 'r2j' }],
      ['@btrace dir=r2j data=DAAAAAwAAAANAAAAAQ-_', 'invalid base64 in data at character 19', { dir: 'r2j' }],
      [`@btrace dir=r2j seq=x data=${FIXTURE.emptyRespond}`, 'bad seq value "x" (expected a non-negative decimal integer)', { dir: 'r2j' }],
      [`@btrace dir=r2j seq=-1 data=${FIXTURE.emptyRespond}`, 'bad seq value "-1" (expected a non-negative decimal integer)', { dir: 'r2j' }],
      [`@btrace dir=r2j seq=9007199254740992 data=${FIXTURE.emptyRespond}`, 'bad seq value "9007199254740992" (expected a non-negative decimal integer)', { dir: 'r2j' }],
      [`@btrace dir=r2j t=1.5 data=${FIXTURE.emptyRespond}`, 'bad t value "1.5" (expected a non-negative decimal integer)', { dir: 'r2j' }],
      [`@btrace dir=r2j ctx= data=${FIXTURE.emptyRespond}`, 'empty ctx value', { dir: 'r2j' }],
      ['@btrace', 'empty record: nothing after @btrace'],
      ['prefix @btrace   \x1b[0m ', 'empty record: nothing after @btrace'],
      ['@btrace side=rust dir=j2r', 'missing required field data', { dir: 'j2r', side: 'rust' }],
      [`@btrace dir=r2j dir=j2r data=${FIXTURE.emptyRespond}`, 'duplicate field dir', { dir: 'r2j' }],
      [`@btrace dir=r2j data=${FIXTURE.emptyRespond} (main.rs:42)`, 'malformed field "(main.rs:42)" (expected key=value)', { dir: 'r2j' }],
      ['@btrace meta side=js', 'missing required field rev', { side: 'js' }],
      ['@btrace meta rev=legacy fn.drop_heap_ref=twelve', 'bad fn.drop_heap_ref value "twelve" (expected a decimal fn id)'],
      ['@btrace meta rev=legacy rev=seq-id', 'duplicate field rev'],
      ['@btrace meta rev=legacy side=js ctx=a stray', 'malformed field "stray" (expected key=value)', { side: 'js', ctx: 'a' }],
    ];
    const lines = [good];
    for (const [line] of bad) lines.push(line, good);
    const records = await read(lines.join('\n'));

    expect(records).toHaveLength(lines.length);
    bad.forEach(([, expectedMessage, salvage], i) => {
      const line = 2 + 2 * i;
      expect(records[line - 1], `line ${line}`).toEqual({
        kind: 'bad',
        message: expectedMessage,
        loc: { input: '-', line },
        ...salvage,
      });
    });
    records
      .filter((_, i) => i % 2 === 0)
      .forEach((r, i) => expect(r, `good line ${2 * i + 1}`).toMatchObject({ kind: 'message', loc: { line: 2 * i + 1 } }));
  });

  it('treats a line longer than the limit as one bad record without losing the next line', async () => {
    const longData = 'A'.repeat(400);
    const text = `x\n@btrace side=js seq=9 dir=r2j data=${longData}\n@btrace dir=j2r data=${FIXTURE.emptyRespond}\n`;
    for (const sizes of [[text.length], [7], [1, 3, 64]]) {
      const records = await readBytes(chunked(Buffer.from(text), sizes), { maxLineBytes: 100 });
      expect(records).toEqual([
        {
          kind: 'bad',
          message: 'line too long: more than 100 bytes after @btrace; skipped to the next line',
          dir: 'r2j',
          side: 'js',
          seq: 9,
          loc: { input: '-', line: 2 },
        },
        { kind: 'message', dir: 'j2r', data: b64(FIXTURE.emptyRespond), loc: { input: '-', line: 3 } },
      ]);
    }
  });

  it('accepts a line exactly at the limit', async () => {
    const body = ` dir=r2j data=${FIXTURE.emptyRespond}`;
    const records = await readBytes(Buffer.from(`@btrace${body}\n`), { maxLineBytes: body.length });
    expect(records.map((r) => r.kind)).toEqual(['message']);
  });

  it('parses a single line given as a string', () => {
    expect(parseTraceLine(`log @btrace dir=r2j data=${FIXTURE.emptyRespond}`, { input: 'x', line: 4 })).toMatchObject({
      kind: 'message',
      loc: { input: 'x', line: 4 },
    });
    expect(parseTraceLine('no marker here', { input: 'x' })).toBeUndefined();
  });

  it('formats records as lines in a fixed field order', () => {
    expect(
      formatTraceLine({ kind: 'message', dir: 'j2r', side: 'js', seq: 2, t: 418, ctx: 'w', data: b64(FIXTURE.emptyRespond), loc: { input: '' } }),
    ).toBe('@btrace side=js seq=2 t=418 ctx=w dir=j2r data=DAAAAAwAAAANAAAAAQ==');
    expect(
      formatTraceLine({ kind: 'meta', rev: 'legacy', fields: [['rev', 'legacy'], ['fn.cast', '3']], loc: { input: '' } }),
    ).toBe('@btrace meta rev=legacy fn.cast=3');
  });
});
