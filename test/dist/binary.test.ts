// The single executable for real: `npm run build:binary` (tsc, esbuild, SEA blob, postject), then run
// dist/bridge-trace on the sample, and a copy of it in an empty directory far from this checkout.
import { copyFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLE, SAMPLE_COMMAND, SAMPLE_EXPECTED, SLOW, describeRun, run, withDistLock } from './helpers.js';

const BINARY = path.join(ROOT, 'dist', 'bridge-trace');

// The executable is built for Linux only (scripts/build-binary.mjs).
const linux = process.platform === 'linux';

let work: string;
let version: string;

describe.runIf(linux)('npm run build:binary → dist/bridge-trace (Node single executable)', () => {
  beforeAll(async () => {
    version = (JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    work = await mkdtemp(path.join(tmpdir(), 'bridge-trace-binary-'));
    const build = await withDistLock(() => run('npm', ['run', 'build:binary'], { cwd: ROOT }));
    expect(build.code, describeRun(build)).toBe(0);
  }, SLOW);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is an executable file of the size of a Node binary', async () => {
    const s = await stat(BINARY);
    expect(s.isFile()).toBe(true);
    expect(s.mode & 0o111).toBe(0o111);
    expect(s.size).toBeGreaterThan(20 * 1024 * 1024);
  });

  it(`dist/bridge-trace ${SAMPLE_COMMAND.join(' ')} <sample> works, without colour or an experimental warning`, async () => {
    const r = await run(BINARY, [...SAMPLE_COMMAND, path.join(ROOT, SAMPLE)], { cwd: ROOT });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain(SAMPLE_EXPECTED);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout + r.stderr).not.toMatch(/\x1b\[/);
    expect(r.stderr).not.toMatch(/ExperimentalWarning|single executable/i);
  });

  it('dist/bridge-trace --version prints the package version', async () => {
    const r = await run(BINARY, ['--version'], { cwd: ROOT });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('a copy runs from an empty directory with a bare environment (no package.json, node_modules or dist/ near it)', async () => {
    const copy = path.join(work, 'bridge-trace');
    await copyFile(BINARY, copy);
    await copyFile(path.join(ROOT, SAMPLE), path.join(work, 'sample.log'));
    const env = { PATH: '/usr/bin:/bin', NO_COLOR: '1' };
    const r = await run(copy, [...SAMPLE_COMMAND, 'sample.log'], { cwd: work, env });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain(SAMPLE_EXPECTED);
    const v = await run(copy, ['--version'], { cwd: work, env });
    expect(v.stdout.trim()).toBe(version);
    // A usage error still exits 2.
    const bad = await run(copy, ['no-such-command'], { cwd: work, env });
    expect(bad.code, describeRun(bad)).toBe(2);
  });
});
