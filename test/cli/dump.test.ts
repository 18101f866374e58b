import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, traceLines, writeTrace, type LineSpec } from '../helpers/trace.js';
import { DEEP_NESTING, DEEP_NESTING_ORDER, EXAMPLE_A, EXAMPLE_B, b64 } from '../fixtures/spec-examples.js';

const dir = tempDir();
const deepRecords: LineSpec[] = DEEP_NESTING_ORDER.map(([d, n], i) => ({ dir: d, data: DEEP_NESTING.reservedCount[n], side: 'js', seq: i + 1, t: i * 10 }));
const deep = writeTrace(dir, 'deep.log', traceLines('rev=reserved-count side=js fn.drop_heap_ref=12 fn.cast=3', deepRecords, '[js] '));

function withBytes(base64: string, mutate: (b: Uint8Array) => void): Uint8Array {
  const bytes = b64(base64);
  mutate(bytes);
  return bytes;
}

describe('bridge-trace dump', () => {
  it('prints every record decoded, nested by depth, exit 0', async () => {
    const r = await runCli(['dump', deep]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('R-Eval rust→js reserved=4 js #1 t=0');
    expect(r.stdout).toContain('  op 4: fn 12 drop_heap_ref(133) FULL T3 (u64) -> ()');
    expect(r.stdout).toMatch(/^ {12}R-Eval rust→js reserved=1 js #7/m);
    expect(r.stdout).toContain('op 2: fn 22(&127, #136)');
    expect(r.stdout).toContain('→ #140 JsValue');
    expect(r.stdout).toContain('op 6 → Some(1.0) Option<f64>');
    expect(r.stderr).toContain('14 messages decoded, 0 with problems, 0 bad records');
  });

  it('--json prints one object per record with the documented fields', async () => {
    const r = await runCli(['dump', '--json', deep]);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(15);
    expect(rows[0]).toHaveProperty('meta');
    expect(rows[1]).toMatchObject({ line: 2, side: 'js', seq: 1, t: 0, dir: 'r2j', type: 'r-eval', reservedCount: 4, depth: 0 });
    expect((rows[1]!.ops as unknown[])[3]).toMatchObject({ fnId: 12, name: 'drop_heap_ref', args: [133] });
    expect(rows[14]).toMatchObject({ type: 'j-resp', depth: 0 });
  });

  it('filters by dir, seq range and fn id', async () => {
    const byDir = await runCli(['dump', '--json', '--dir', 'j2r', deep]);
    const rows = byDir.stdout.trim().split('\n').map((l) => JSON.parse(l) as { dir?: string; meta?: unknown });
    expect(rows.filter((x) => !x.meta).every((x) => x.dir === 'j2r')).toBe(true);
    expect(rows.filter((x) => !x.meta)).toHaveLength(7);
    const bySeq = await runCli(['dump', '--json', '--seq', '3..5', deep]);
    expect(bySeq.stdout.trim().split('\n').filter((l) => !l.includes('"meta"')).map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([3, 4, 5]);
    const byFn = await runCli(['dump', '--json', '--fn', '24', deep]);
    expect(byFn.stdout.trim().split('\n').filter((l) => !l.includes('"meta"'))).toHaveLength(1);
  });

  it('reads stdin with -', async () => {
    const r = await runCli(['dump', '-'], { stdin: traceLines('rev=reserved-count', [{ dir: 'r2j', data: EXAMPLE_A.reservedCountREval }]) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('op 1: fn 7("div")');
  });

  it('guesses the revision when the trace does not say, and says it guessed', async () => {
    const path = writeTrace(dir, 'unlabelled.log', traceLines(undefined, [{ dir: 'r2j', data: EXAMPLE_B.reservedCountREval }, { dir: 'j2r', data: EXAMPLE_B.boolFalseJResp }]));
    const r = await runCli(['dump', path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('revision guessed as reserved-count');
    const legacy = writeTrace(dir, 'unlabelled-legacy.log', traceLines(undefined, [{ dir: 'r2j', data: EXAMPLE_B.legacyREval }, { dir: 'j2r', data: EXAMPLE_B.boolFalseJResp }]));
    const l = await runCli(['dump', legacy]);
    expect(l.stdout).toContain('revision guessed as legacy');
    const forced = await runCli(['dump', '--rev', 'legacy', path]);
    expect(forced.stdout).not.toContain('guessed');
  });

  it('says when helper functions were identified by the heuristic', async () => {
    const path = writeTrace(dir, 'noheuristic.log', traceLines('rev=reserved-count', deepRecords));
    const r = await runCli(['dump', path]);
    expect(r.stdout).toContain('identified by the signature heuristic');
    expect(r.stdout).toContain('drop_heap_ref?(133)');
    const named = await runCli(['dump', deep]);
    expect(named.stdout).not.toContain('heuristic');
  });

  it('names fn ids from a --symbols file', async () => {
    const symbols = writeTrace(dir, 'symbols.json', JSON.stringify({ functions: { '20': 'make_level1', '21': 'level1' } }));
    const r = await runCli(['dump', '--symbols', symbols, deep]);
    expect(r.stdout).toContain('op 1: fn 20 make_level1()');
    const bad = writeTrace(dir, 'bad-symbols.json', '{"functions": {"x": "y"}}');
    const b = await runCli(['dump', '--symbols', bad, deep]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/--symbols .*bad-symbols.json: symbols file: "x" is not a fn id/);
  });

  describe('bad input: one clear line each, the records around it survive', () => {
    const good = (seq: number): LineSpec => ({ dir: 'r2j', data: EXAMPLE_A.reservedCountREval, seq });
    const cases: Array<[string, LineSpec | string, RegExp]> = [
      ['bad base64', '@btrace seq=2 dir=r2j data=HAAAAB!AAAA', /:3: bad record \(seq 2\): .*base64/],
      ['no dir', '@btrace seq=2 data=HAAAABwAAAAhAAAAAAAAAAcAAAAAAAAAAwAAAAD+ARARZGl2', /:3: bad record \(seq 2\): .*dir/],
      ['header offsets overlap', { dir: 'r2j', seq: 2, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => (b[4] = 0x10)) }, /error\[invalid-header\] invalid header .*u8_offset is before u16_offset/],
      ['string length past the buffer', { dir: 'r2j', seq: 2, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => (b[24] = 0x30)) }, /error\[decode-error\] op 1: str buffer ran short reading string: needed 48 at str\[0\], 3 left \(byte 33\)/],
      ['unknown type tag', { dir: 'r2j', seq: 2, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => (b[31] = 0x2a)) }, /error\[decode-error\] op 1: unknown type tag 0x2a \(byte 31\)/],
      ['unknown cached type id', { dir: 'r2j', seq: 2, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => ((b[29] = 0xff), (b[20] = 9))) }, /error\[unknown-type-id\] op 1: TYPE_CACHED type id 9 was never defined in this conversation \(byte 29\)/],
    ];
    for (const [name, bad, expected] of cases) {
      it(name, async () => {
        const text = traceLines('rev=reserved-count', [good(1)]) + (typeof bad === 'string' ? `${bad}\n` : traceLines(undefined, [bad])) + traceLines(undefined, [good(3)]);
        const path = writeTrace(dir, `bad-${name.replace(/\W+/g, '-')}.log`, text);
        const r = await runCli(['dump', path]);
        expect(r.stdout + r.stderr).toMatch(expected);
        expect(r.stdout).not.toMatch(/\n\s+at /); // no stack trace
        // both good records are still decoded
        expect(r.stdout.match(/op 1: fn 7\("div"\)/g)?.length).toBe(2);
        expect([0, 1]).toContain(r.code);
      });
    }

    it('a cached type id after a damaged TYPE_FULL is marked as a consequence', async () => {
      const text = traceLines('rev=reserved-count', [
        { dir: 'r2j', seq: 1, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => (b[31] = 0x2a)) },
        { dir: 'r2j', seq: 2, data: withBytes(EXAMPLE_A.reservedCountREval, (b) => (b[29] = 0xff)) },
      ]);
      const r = await runCli(['dump', writeTrace(dir, 'consequence.log', text)]);
      expect(r.stdout).toMatch(/unknown-type-id.*after an earlier damaged record/);
    });
  });

  it('exit 2 with one line when the input cannot be read', async () => {
    const r = await runCli(['dump', `${dir}/missing.log`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.log/);
    expect(r.stderr.trim().split('\n').filter((l) => l.includes('missing.log'))).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exit 2 when every record is bad, 1 when some are', async () => {
    const allBad = await runCli(['dump', writeTrace(dir, 'allbad.log', '@btrace dir=r2j data=!!!!\n@btrace data=AAAA\n')]);
    expect(allBad.code).toBe(2);
    const someBad = await runCli(['dump', writeTrace(dir, 'somebad.log', traceLines('rev=legacy', [{ dir: 'r2j', data: EXAMPLE_A.legacyREval }]) + '@btrace dir=r2j data=!!!!\n')]);
    expect(someBad.code).toBe(1);
  });

  it('usage errors are exit 2 with a one-line message', async () => {
    const r = await runCli(['dump', '--rev', 'nope', deep]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rev.*expected one of legacy-freelist/);
    const none = await runCli(['dump']);
    expect(none.code).toBe(2);
  });
});

describe('dump on damaged binary traces', () => {
  it('a flipped byte in one frame loses that record only; a truncated file ends with one bad record', async () => {
    const sample = new URL('../../traces/spec-deep-nesting.reserved-count.log', import.meta.url).pathname;
    const bin = `${dir}/damaged-source.btrace`;
    expect((await runCli(['convert', sample, '-o', bin])).code).toBe(0);
    const { readFileSync, writeFileSync } = await import('node:fs');
    const bytes = readFileSync(bin);
    // Flip a byte inside the third frame's payload (frames start with the sync marker fb 42 54 46).
    const syncs: number[] = [];
    for (let i = bytes.indexOf(Buffer.from([0xfb, 0x42, 0x54, 0x46])); i >= 0; i = bytes.indexOf(Buffer.from([0xfb, 0x42, 0x54, 0x46]), i + 1)) syncs.push(i);
    const flipped = Buffer.from(bytes);
    flipped[syncs[3]! + 40]! ^= 0x55;
    writeFileSync(`${dir}/flipped.btrace`, flipped);
    const r = await runCli(['dump', `${dir}/flipped.btrace`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`flipped\\.btrace@${syncs[3]}: bad record`));
    expect(r.stderr).toContain('13 messages decoded');
    writeFileSync(`${dir}/truncated.btrace`, bytes.subarray(0, bytes.length - 7));
    const t = await runCli(['dump', `${dir}/truncated.btrace`]);
    expect(t.code).toBe(1);
    expect(t.stdout.match(/bad record/g)).toHaveLength(1);
    expect(t.stderr).toContain('13 messages decoded');
  });
});

describe('dump names the explicit-ids helpers by the same evidence as analyze', () => {
  it('without fn.* meta, the dispose helper reads dispose_rust_function? once the bytes tell it from drop', async () => {
    const file = `${tempDir()}/drops.explicit-ids.nometa.log`;
    const sim = await runCli(['simulate', 'drops', '--rev', 'explicit-ids', '--no-fn-meta', '-o', file]);
    expect(sim.code).toBe(0);
    const dump = await runCli(['dump', file]);
    const names = new Set([...dump.stdout.matchAll(/fn 14 ([a-z_]+\??)/g)].map((m) => m[1]));
    expect(names).toEqual(new Set(['dispose_rust_function?']));
    expect(dump.stdout).toMatch(/fn 12 drop_heap_ref\?/);
  });
});
