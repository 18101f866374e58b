import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir, writeTrace } from '../helpers/trace.js';

const dir = tempDir();
const sample = new URL('../../traces/spec-deep-nesting.reserved-count.log', import.meta.url).pathname;

describe('bridge-trace convert', () => {
  it('lines → binary → lines keeps every record, and both decode the same', async () => {
    const bin = `${dir}/deep.btrace`;
    const a = await runCli(['convert', sample, '-o', bin]);
    expect(a.code).toBe(0);
    expect(a.stderr).toContain('15 records written');
    expect(readFileSync(bin).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x42, 0x54, 0x52]));
    const back = `${dir}/deep.log`;
    const b = await runCli(['convert', bin, '-o', back]);
    expect(b.code).toBe(0);
    const original = await runCli(['dump', '--json', sample]);
    const fromBinary = await runCli(['dump', '--json', bin]);
    const roundTrip = await runCli(['dump', '--json', back]);
    const strip = (s: string): unknown[] =>
      s.trim().split('\n').map((l) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        delete o.input;
        delete o.line;
        delete o.offset;
        if (o.meta) o.meta = (o.meta as { fields: unknown }).fields;
        return o;
      });
    expect(strip(fromBinary.stdout)).toEqual(strip(original.stdout));
    expect(strip(roundTrip.stdout)).toEqual(strip(original.stdout));
  });

  it('binary → lines → binary reproduces the same bytes', async () => {
    const first = `${dir}/one.btrace`;
    await runCli(['convert', sample, '-o', first]);
    const lines = `${dir}/two.log.gz`;
    expect((await runCli(['convert', first, '-o', lines])).code).toBe(0);
    expect(readFileSync(lines).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const second = `${dir}/three.btrace`;
    expect((await runCli(['convert', lines, '-o', second])).code).toBe(0);
    expect(readFileSync(second)).toEqual(readFileSync(first));
  });

  it('reports bad records it leaves out, exit 1', async () => {
    const path = writeTrace(dir, 'some-bad.log', `${readFileSync(sample, 'utf8')}@btrace dir=r2j data=!!\n`);
    const r = await runCli(['convert', path, '-o', `${dir}/x.btrace`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/skipped .*some-bad\.log:16: .*base64/);
  });

  it('writes to stdout with -o -', async () => {
    const r = await runCli(['convert', sample, '-o', '-']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('@btrace'))).toHaveLength(15);
  });
});
