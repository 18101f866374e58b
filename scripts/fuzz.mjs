#!/usr/bin/env node
// The long run of the seeded damage fuzz test (test/trace/fuzz-damage.test.ts): every damage
// class of issue 12 over every sample trace, through the trace and decode layers.
//
//   npm run fuzz                          # 2,000 inputs per class, seed 1
//   npm run fuzz -- --rounds 10000 --seed 42
//
// A failure names the class, the round, the sample and the damage; rerun with the same
// --seed to replay it.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const rounds = arg('--rounds', '2000');
const seed = arg('--seed', '1');
console.log(`damage fuzz: ${rounds} inputs per class, seed ${seed}`);
const run = spawnSync(process.execPath, [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/trace/fuzz-damage.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, FUZZ_ROUNDS: rounds, FUZZ_SEED: seed, FUZZ_TIME_LIMIT_MS: arg('--time-limit-ms', '3000') },
});
process.exitCode = run.status ?? 1;
