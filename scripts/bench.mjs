#!/usr/bin/env node
// Benchmark (issue 11): every figure is a ratio to the "floor", the least any reader of a
// gzipped @btrace log must do: read + gunzip + split lines + find `data=` + base64-decode
// each record, and nothing else. Each task runs in its own child process (best of --runs),
// timed by wall clock from spawn to exit, its max RSS read by the child itself at exit.
//
//   npm run bench                                   # 50k and 200k messages, both traces
//   npm run bench -- --sizes 50000 --runs 2         # shorter
//   npm run bench -- --big                          # also 1,000,000 messages
//   tasks: floor, read (records of the .log.gz), binaryread (.btrace), binarygzread (.btrace.gz),
//          decode (decodeRecords), dump (dump --json), analyze (text), json (analyze --json)
//   npm run bench -- --tasks floor,read,binaryread  # a subset
//
// Traces come from `bridge-trace simulate stress --messages N --seed 7 --rev R` and are kept
// in --dir (default: $TMPDIR/bridge-trace-bench) so that later runs skip generating them.
// The ratio is floor time / task time: 1× is as fast as the floor, 0.5× twice as slow.
// Run `npm run build` first: the tasks run dist/ through bin/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'bridge-trace.js');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};

// The floor: ~20 lines of plain Node, the same streaming shape a real reader needs.
const FLOOR = `
const { createReadStream } = require('node:fs');
const { createGunzip } = require('node:zlib');
(async () => {
  let records = 0, bytes = 0, rest = Buffer.alloc(0);
  const line = (buf, start, end) => {
    const at = buf.indexOf('data=', start);
    if (at === -1 || at >= end) return;
    let stop = buf.indexOf(0x20, at);
    if (stop === -1 || stop > end) stop = end;
    if (buf[stop - 1] === 0x0d) stop--;
    bytes += Buffer.from(buf.latin1Slice(at + 5, stop), 'base64').length;
    records++;
  };
  for await (const chunk of createReadStream(process.argv[1]).pipe(createGunzip())) {
    const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (let nl = buf.indexOf(10); nl !== -1; start = nl + 1, nl = buf.indexOf(10, start)) line(buf, start, nl);
    rest = buf.subarray(start);
  }
  if (rest.length) line(rest, 0, rest.length);
  process.stderr.write(records + ' records, ' + bytes + ' bytes\\n');
})();
`;

// Preloaded into every child: its max RSS, written at exit to the file BENCH_RSS_FILE names.
const RSS_HOOK =
  "data:text/javascript,import{writeFileSync}from'node:fs';process.on('exit',()=>writeFileSync(process.env.BENCH_RSS_FILE,String(process.resourceUsage().maxRSS)))";

// The trace layer alone: every record of the input through openTrace, nothing decoded.
const READ = (file) => [
  '--input-type=module',
  '-e',
  `import { openTrace } from ${JSON.stringify(join(root, 'dist', 'trace', 'source.js'))};
   let n = 0; for await (const r of openTrace(process.argv[1])) n++;
   process.stderr.write(n + ' records\\n');`,
  file,
];

// The decode layer alone: every record decoded to a message, in batches (the library path under dump).
const DECODE = (file) => [
  '--input-type=module',
  '-e',
  `import { openTraceBatches } from ${JSON.stringify(join(root, 'dist', 'trace', 'source.js'))};
   import { decodeRecordBatches } from ${JSON.stringify(join(root, 'dist', 'protocol', 'stream.js'))};
   let n = 0; for await (const b of decodeRecordBatches(openTraceBatches(process.argv[1]))) n += b.length;
   process.stderr.write(n + ' events\\n');`,
  file,
];

const TASKS = {
  floor: { label: 'floor (read+gunzip+lines+base64)', argv: (t) => ['-e', FLOOR, t.gz] },
  read: { label: 'records of .log.gz (openTrace)', argv: (t) => READ(t.gz) },
  binaryread: { label: 'records of .btrace (openTrace)', argv: (t) => READ(t.btrace) },
  decode: { label: 'decoded messages (decodeRecordBatches)', argv: (t) => DECODE(t.gz) },
  dump: { label: 'dump --json', argv: (t) => [cli, 'dump', '--json', t.gz] },
  analyze: { label: 'analyze (text)', argv: (t) => [cli, 'analyze', t.gz] },
  json: { label: 'analyze --json', argv: (t) => [cli, 'analyze', '--json', t.gz] },
  binarygzread: { label: 'records of .btrace.gz (openTrace)', argv: (t) => READ(t.btraceGz) },
};

const revisions = arg('--revs', 'reserved-count,explicit-ids').split(',');
const sizes = arg('--sizes', '50000,200000').split(',').map(Number);
if (args.includes('--big')) sizes.push(1_000_000);
const tasks = arg('--tasks', 'floor,read,binaryread,decode,dump,analyze,json').split(',');
for (const t of tasks) if (!TASKS[t]) throw new Error(`unknown task ${t} (one of ${Object.keys(TASKS).join(', ')})`);
if (!tasks.includes('floor')) tasks.unshift('floor');
const runs = Number(arg('--runs', '3'));
const dir = arg('--dir', join(tmpdir(), 'bridge-trace-bench'));
mkdirSync(dir, { recursive: true });
const rssFile = join(dir, `rss-${process.pid}`);

function must(run, what) {
  // Exit 1 is "findings" for the CLI, but also what a crash gives: a stack trace on stderr tells them apart.
  if ((run.status !== 0 && run.status !== 1) || /^\s+at |\bError\b/m.test(run.stderr ?? '')) {
    process.stderr.write(run.stderr ?? '');
    throw new Error(`${what} failed with exit status ${run.status}`);
  }
}

/** The trace files for one revision and size, generated once. */
function traceFiles(rev, messages) {
  const base = join(dir, `stress.${rev}.${messages}.seed7`);
  const t = { gz: `${base}.log.gz`, btrace: `${base}.btrace`, btraceGz: `${base}.btrace.gz` };
  if (!existsSync(t.gz)) {
    process.stderr.write(`generating ${t.gz} …\n`);
    const tmp = `${t.gz}.tmp.gz`;
    must(spawnSync(process.execPath, [cli, 'simulate', 'stress', '--messages', String(messages), '--seed', '7', '--rev', rev, '-o', tmp], { encoding: 'utf8' }), 'simulate');
    spawnSync('mv', [tmp, t.gz]);
  }
  for (const out of [t.btrace, ...(tasks.includes('binarygzread') ? [t.btraceGz] : [])]) {
    if (!existsSync(out)) must(spawnSync(process.execPath, [cli, 'convert', t.gz, '-o', out], { encoding: 'utf8' }), 'convert');
  }
  return t;
}

/** One timed run of a task in a fresh child: wall seconds and max RSS in MiB. */
function runOnce(task, files) {
  const devnull = openSync('/dev/null', 'w');
  rmSync(rssFile, { force: true });
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, ['--import', RSS_HOOK, ...TASKS[task].argv(files)], {
    stdio: ['ignore', devnull, 'pipe'],
    env: { ...process.env, BENCH_RSS_FILE: rssFile, NO_COLOR: '1' },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  closeSync(devnull);
  must(run, task);
  const rssMiB = Number(readFileSync(rssFile, 'utf8')) / 1024;
  return { seconds, rssMiB };
}

/** Best time of `runs`; the RSS reported is the largest seen (memory does not vary by luck). */
function measure(task, files) {
  let best = Infinity;
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    const r = runOnce(task, files);
    best = Math.min(best, r.seconds);
    rss = Math.max(rss, r.rssMiB);
  }
  return { seconds: best, rssMiB: rss };
}

const rows = [];
for (const rev of revisions) {
  for (const messages of sizes) {
    const files = traceFiles(rev, messages);
    const mib = (f) => (statSync(f).size / 2 ** 20).toFixed(1);
    const results = {};
    for (const task of tasks) results[task] = measure(task, files);
    const floor = results.floor.seconds;
    const head = `${rev} stress, ${messages.toLocaleString('en-US')} messages (${mib(files.gz)} MiB .log.gz, ${mib(files.btrace)} MiB .btrace)`;
    console.log(`\n${head}`);
    for (const task of tasks) {
      const r = results[task];
      const ratio = floor / r.seconds;
      console.log(`  ${TASKS[task].label.padEnd(34)} ${r.seconds.toFixed(2).padStart(6)} s  ${ratio.toFixed(2).padStart(5)}×  max RSS ${r.rssMiB.toFixed(0).padStart(4)} MiB`);
      rows.push({ rev, messages, task, seconds: r.seconds, ratio, rssMiB: r.rssMiB });
    }
  }
}
rmSync(rssFile, { force: true });

// One Markdown table, ready for the README's Performance section.
const cols = tasks;
console.log(`\n| trace | messages | ${cols.map((t) => TASKS[t].label).join(' | ')} |`);
console.log(`|---|---|${cols.map(() => '---').join('|')}|`);
for (const rev of revisions) {
  for (const messages of sizes) {
    const cells = cols.map((t) => {
      const r = rows.find((x) => x.rev === rev && x.messages === messages && x.task === t);
      return t === 'floor' ? `${r.seconds.toFixed(2)} s, ${r.rssMiB.toFixed(0)} MiB` : `${r.ratio.toFixed(2)}×, ${r.rssMiB.toFixed(0)} MiB`;
    });
    console.log(`| ${rev} | ${messages.toLocaleString('en-US')} | ${cells.join(' | ')} |`);
  }
}

// Memory must follow live state, not trace length: max RSS of the largest size against the smallest.
if (sizes.length > 1) {
  const lo = Math.min(...sizes);
  const hi = Math.max(...sizes);
  console.log(`\nmax RSS growth from ${lo.toLocaleString('en-US')} to ${hi.toLocaleString('en-US')} messages:`);
  for (const rev of revisions) {
    const growth = tasks
      .filter((t) => t !== 'floor')
      .map((t) => {
        const a = rows.find((x) => x.rev === rev && x.messages === lo && x.task === t);
        const b = rows.find((x) => x.rev === rev && x.messages === hi && x.task === t);
        return `${t} ${b.rssMiB - a.rssMiB >= 0 ? '+' : ''}${(b.rssMiB - a.rssMiB).toFixed(0)} MiB`;
      });
    console.log(`  ${rev}: ${growth.join(', ')}`);
  }
}
if (args.includes('--json')) process.stdout.write(JSON.stringify(rows) + '\n');
