#!/usr/bin/env node
// Benchmark: generate a long stress trace with the simulator, then decode and analyze it,
// each in its own process, reporting messages/s and peak memory (max RSS and sampled heap).
//
//   npm run bench                       # 1,000,000 messages, reserved-count
//   npm run bench -- --messages 200000 --rev explicit-ids
//
// Run `npm run build` first (the benchmark uses dist/).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};

async function child(task) {
  const heap = { peak: 0 };
  const timer = setInterval(() => {
    heap.peak = Math.max(heap.peak, process.memoryUsage().heapUsed);
  }, 50);
  const started = process.hrtime.bigint();
  let messages = 0;
  if (task === 'generate') {
    const { writeSimulation } = await import('../dist/sim/index.js');
    const truth = await writeSimulation(
      { scenario: 'stress', revision: arg('--rev', 'reserved-count'), mode: 'batch', seed: 42, size: Number(arg('--messages', '1000000')), truthLimit: 10 },
      arg('--file'),
    );
    messages = truth.messages.total;
  } else if (task === 'decode') {
    const { openTrace } = await import('../dist/trace/source.js');
    const { decodeRecords } = await import('../dist/protocol/stream.js');
    for await (const e of decodeRecords(openTrace(arg('--file')))) if (e.type === 'message') messages++;
  } else {
    const { openTrace } = await import('../dist/trace/source.js');
    const { analyze } = await import('../dist/replay/index.js');
    const result = await analyze(openTrace(arg('--file')));
    messages = result.summary.messages;
    heap.findings = result.summary.findings;
  }
  clearInterval(timer);
  heap.peak = Math.max(heap.peak, process.memoryUsage().heapUsed);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(JSON.stringify({ task, messages, seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, peakHeapMiB: heap.peak / 2 ** 20, findings: heap.findings }) + '\n');
}

if (args[0] === '--child') {
  await child(args[1]);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-trace-bench-'));
  const file = join(dir, 'stress.btrace');
  const common = ['--file', file, '--messages', arg('--messages', '1000000'), '--rev', arg('--rev', 'reserved-count')];
  try {
    for (const task of ['generate', 'decode', 'analyze']) {
      const run = spawnSync(process.execPath, [self, '--child', task, ...common], { encoding: 'utf8', maxBuffer: 1 << 20 });
      if (run.status !== 0) {
        process.stderr.write(run.stderr);
        process.exitCode = 1;
        break;
      }
      const r = JSON.parse(run.stdout.trim().split('\n').pop());
      const size = task === 'generate' ? `, trace ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB` : '';
      console.log(
        `${task.padEnd(9)} ${r.messages.toLocaleString('en-US')} messages in ${r.seconds.toFixed(1)} s = ${Math.round(r.messages / r.seconds).toLocaleString('en-US')} messages/s; max RSS ${r.maxRssMiB.toFixed(0)} MiB, peak heap ${r.peakHeapMiB.toFixed(0)} MiB${size}${r.findings !== undefined ? `, ${r.findings} findings` : ''}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
