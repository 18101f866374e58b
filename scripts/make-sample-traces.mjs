#!/usr/bin/env node
// Regenerates the checked-in sample traces under traces/ from the simulator (run `npm run build` first).
// The simulator is deterministic, so running this again reproduces the same bytes.
import { writeFile } from 'node:fs/promises';
import { writeSimulation } from '../dist/sim/index.js';

const samples = [
  { file: 'deep-nesting.legacy.batch.log', scenario: 'deep-nesting', revision: 'legacy' },
  { file: 'deep-nesting.reserved-count.batch.log', scenario: 'deep-nesting', revision: 'reserved-count' },
  { file: 'deep-nesting.reserved-count.nobatch.log', scenario: 'deep-nesting', revision: 'reserved-count', mode: 'non-batch' },
  { file: 'deep-nesting.explicit-ids.batch.log', scenario: 'deep-nesting', revision: 'explicit-ids' },
  { file: 'many-callbacks.legacy-freelist.batch.log', scenario: 'many-callbacks', revision: 'legacy-freelist', size: 10 },
  { file: 'mixed-returns.evaluate-id.batch.log', scenario: 'mixed-returns', revision: 'evaluate-id' },
  { file: 'drops.seq-id.batch.btrace', scenario: 'drops', revision: 'seq-id' },
  { file: 'fault.callback-params-as-placeholders.reserved-count.log', scenario: 'many-callbacks', revision: 'reserved-count', mode: 'non-batch', size: 10, faults: ['callback-params-as-placeholders'] },
  { file: 'fault.unpopped-scope.reserved-count.log', scenario: 'deep-nesting', revision: 'reserved-count', faults: ['unpopped-scope'] },
  { file: 'fault.underfill.reserved-count.log', scenario: 'deep-nesting', revision: 'reserved-count', faults: ['underfill'] },
  { file: 'fault.misrouted-respond.reserved-count.log', scenario: 'mixed-returns', revision: 'reserved-count', faults: ['misrouted-respond'] },
  { file: 'fault.misrouted-respond.evaluate-id.log', scenario: 'mixed-returns', revision: 'evaluate-id', faults: ['misrouted-respond'] },
  { file: 'fault.lost-record.reserved-count.log', scenario: 'deep-nesting', revision: 'reserved-count', faults: ['lost-record'] },
  { file: 'fault.double-drop.reserved-count.log', scenario: 'drops', revision: 'reserved-count', faults: ['double-drop'] },
];

const dir = new URL('../traces/', import.meta.url);
for (const s of samples) {
  const path = new URL(s.file, dir).pathname;
  const truth = await writeSimulation(
    { scenario: s.scenario, revision: s.revision, mode: s.mode ?? 'batch', faults: s.faults ?? [], ...(s.size && { size: s.size }), input: `traces/${s.file}` },
    path,
  );
  await writeFile(`${path.replace(/\.(log|btrace)$/, '')}.truth.json`, JSON.stringify(truth, null, 2) + '\n');
  console.log(`${s.file}: ${truth.messages.total} messages, ${truth.mismatchCount} mismatches`);
}
