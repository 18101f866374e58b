// Builds dist/bridge-trace: a single executable for machines without a Node project, using Node's
// Single Executable Applications (SEA) and the Node that runs this script. Nothing is downloaded.
//
//   npm run build:binary          (= npm run build && node scripts/build-binary.mjs)
//
// Steps: bundle bin/bridge-trace.js (which imports dist/cli/main.js) and its dependencies into one
// CommonJS file with esbuild (SEA on Node 20 runs one CommonJS script whose require() only loads
// built-in modules); write the SEA blob with `node --experimental-sea-config`; copy this Node's
// executable to dist/bridge-trace; inject the blob with postject. The intermediate files go to
// dist/sea/, which package.json's "files" leaves out of the npm package, as it does the executable.
//
// Linux only for now: macOS needs codesign around the injection and Windows a .exe and signtool,
// which are not set up (or tested) here. The executable is for the platform and Node version that
// built it.

import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const require = createRequire(import.meta.url);
const { inject } = require('postject');

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = path.join(root, 'bin', 'bridge-trace.js');
const compiledMain = path.join(root, 'dist', 'cli', 'main.js');
const seaDir = path.join(root, 'dist', 'sea');
const bundleFile = path.join(seaDir, 'bridge-trace.cjs');
const configFile = path.join(seaDir, 'sea-config.json');
const blobFile = path.join(seaDir, 'sea-prep.blob');
const output = path.join(root, 'dist', 'bridge-trace');

function fail(message) {
  process.stderr.write(`build-binary: ${message}\n`);
  process.exit(1);
}

const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 20) fail(`Node ${process.versions.node} is too old; building the executable needs Node 20 or later.`);
if (process.platform !== 'linux') {
  fail(`building the executable is only set up for Linux (this is ${process.platform}); macOS and Windows need signing steps that are not scripted here.`);
}
if (!existsSync(compiledMain)) fail(`${path.relative(root, compiledMain)} is missing: run \`npm run build\` first (or \`npm run build:binary\`).`);

// 1. One CommonJS file with commander and chalk inside. chalk 5 is ESM-only but uses no import.meta
//    and no top-level await, so it converts cleanly; an import.meta anywhere would be empty in CommonJS,
//    so that is an error here rather than a silent breakage at run time.
mkdirSync(seaDir, { recursive: true });
const result = await build({
  entryPoints: [entry],
  outfile: bundleFile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${nodeMajor}`,
  legalComments: 'inline',
  logLevel: 'warning',
  logOverride: { 'empty-import-meta': 'error' },
  metafile: true,
});
const bundled = Object.keys(result.metafile.inputs);
for (const dep of ['commander', 'chalk']) {
  if (!bundled.some((p) => p.includes(`node_modules/${dep}/`))) fail(`the bundle does not contain ${dep}`);
}
// A SEA main script is compiled as a CommonJS function body: keep the launcher's #! line out of it.
const code = readFileSync(bundleFile, 'utf8').replace(/^#!.*\n/, '');
writeFileSync(bundleFile, code);

// 2. The SEA preparation blob. Paths in the config are resolved from the working directory.
writeFileSync(configFile, `${JSON.stringify({ main: bundleFile, output: blobFile, disableExperimentalSEAWarning: true }, null, 2)}\n`);
execFileSync(process.execPath, ['--experimental-sea-config', configFile], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });

// 3. A copy of this Node with the blob injected. A Node built with a shared libnode (some distribution
//    packages) has no fuse and cannot become a single executable; postject says so.
rmSync(output, { force: true });
copyFileSync(process.execPath, output);
chmodSync(output, 0o755);
// postject's ELF writer (LIEF, through console.warn) warns "Can't find string offset for section name
// '.note…'" for each note section of Node's executable; that is known to be harmless, so it is dropped.
const warn = console.warn;
console.warn = (...args) => {
  if (!/^warning: Can't find string offset for section name '\.note/.test(String(args[0]))) warn(...args);
};
try {
  await inject(output, 'NODE_SEA_BLOB', readFileSync(blobFile), { sentinelFuse: SEA_FUSE });
} catch (e) {
  rmSync(output, { force: true });
  fail(`postject could not inject into a copy of ${process.execPath}: ${e?.message ?? e}`);
} finally {
  console.warn = warn;
}

// 4. A smoke test from a neutral directory, with no NODE_OPTIONS from the caller.
const version = execFileSync(output, ['--version'], { cwd: seaDir, env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' }).trim();
const expected = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
if (version !== expected) fail(`dist/bridge-trace --version printed ${JSON.stringify(version)}, expected ${expected}`);

const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
process.stdout.write(
  `build-binary: ${path.relative(root, output)} (${mib(statSync(output).size)}; Node ${process.versions.node}, ${process.platform}-${process.arch}; bundle ${mib(code.length)}) --version ${version}\n`,
);
