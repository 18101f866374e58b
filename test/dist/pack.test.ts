// The npm package for real: `npm pack` this checkout (which runs `prepare`, i.e. tsc), install the
// tarball into an empty project, and run the installed command on the packaged sample trace.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, SAMPLE, SAMPLE_COMMAND, SAMPLE_EXPECTED, SLOW, childEnv, describeRun, run, withDistLock } from './helpers.js';

interface PackedFile {
  path: string;
  size: number;
  mode: number;
}
interface PackResult {
  name: string;
  version: string;
  filename: string;
  files: PackedFile[];
}

let work: string;
let project: string;
let packed: PackResult;
let packLog: string;

describe('npm pack, install the tarball, run it', () => {
  beforeAll(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'bridge-trace-pack-'));
    const pack = await withDistLock(() => run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT }));
    expect(pack.code, describeRun(pack)).toBe(0);
    packLog = pack.stderr;
    const json = JSON.parse(pack.stdout) as PackResult[];
    expect(json).toHaveLength(1);
    packed = json[0]!;

    // An empty project; dependencies (commander, chalk) come from the npm cache when they are in it,
    // from the registry otherwise.
    project = path.join(work, 'project');
    await mkdir(project);
    await writeFile(path.join(project, 'package.json'), `${JSON.stringify({ name: 'bridge-trace-pack-test', private: true }, null, 2)}\n`);
    const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], { cwd: project });
    expect(install.code, describeRun(install)).toBe(0);
  }, SLOW);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('npm pack runs prepare (tsc) first', () => {
    expect(packLog).toMatch(/> bridge-trace@[^ ]+ prepare\n> tsc -p tsconfig\.json/);
  });

  it('the tarball holds bin/, dist/, docs/, traces/ and nothing else of the checkout', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
    expect(packed.name).toBe(pkg.name);
    expect(packed.version).toBe(pkg.version);
    const paths = packed.files.map((f) => f.path);
    for (const p of ['package.json', 'README.md', 'bin/bridge-trace.js', 'dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'docs/protocol.md', SAMPLE]) {
      expect(paths, p).toContain(p);
    }
    const unexpected = paths.filter((p) => !/^(bin|dist|docs|traces)\//.test(p) && !/^(package\.json|README\.md|LICENSE)$/i.test(p));
    expect(unexpected).toEqual([]);
    // The single executable and its intermediate files (npm run build:binary) stay out.
    expect(paths.filter((p) => p === 'dist/bridge-trace' || p.startsWith('dist/sea/'))).toEqual([]);
  });

  it('bin/bridge-trace.js is executable in the tarball and starts with a node shebang', async () => {
    const bin = packed.files.find((f) => f.path === 'bin/bridge-trace.js')!;
    expect(bin.mode & 0o111).toBe(0o111);
    const installed = await readFile(path.join(project, 'node_modules', 'bridge-trace', 'bin', 'bridge-trace.js'), 'utf8');
    expect(installed.split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it(`node_modules/.bin/bridge-trace ${SAMPLE_COMMAND.join(' ')} <sample> works`, async () => {
    const r = await run(path.join(project, 'node_modules', '.bin', 'bridge-trace'), [...SAMPLE_COMMAND, path.join('node_modules', 'bridge-trace', SAMPLE)], { cwd: project });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain(SAMPLE_EXPECTED);
  });

  it(`npx bridge-trace ${SAMPLE_COMMAND.join(' ')} <sample> works`, async () => {
    const r = await run('npx', ['--no-install', 'bridge-trace', ...SAMPLE_COMMAND, path.join('node_modules', 'bridge-trace', SAMPLE)], { cwd: project });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain(SAMPLE_EXPECTED);
    // eslint-disable-next-line no-control-regex
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it('npx bridge-trace --version prints the package version', async () => {
    const r = await run('npx', ['--no-install', 'bridge-trace', '--version'], { cwd: project });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim()).toBe(packed.version);
  });

  it('the installed package is importable as a library', async () => {
    const script = "const m = await import('bridge-trace'); console.log(typeof m.openTrace, typeof m.decodeRecords);";
    const r = await run('node', ['--input-type=module', '-e', script], { cwd: project, env: childEnv() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim()).toBe('function function');
  });
});
