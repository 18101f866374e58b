import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/sim/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('streaming', () => {
  it('generates 300k stress messages lazily with bounded memory', () => {
    const total = 300_000;
    const sim = simulate({ scenario: 'stress', revision: 'explicit-ids', mode: 'batch', size: total, seed: 5, truthLimit: 100 });
    let messages = 0;
    let bytes = 0;
    let early = 0;
    let late = 0;
    for (const r of sim.records) {
      if (r.kind !== 'message') continue;
      if (r.side === 'rust') messages++;
      bytes += r.data.length;
      if (messages === 30_000 && r.side === 'rust') early = heapAfterGc();
    }
    late = heapAfterGc();
    const truth = sim.truth();
    expect(truth.messages.total).toBeGreaterThanOrEqual(total);
    expect(messages).toBeGreaterThanOrEqual(total);
    // Retaining the records alone would cost more than `bytes` (tens of MB); growth must stay far below.
    expect(bytes).toBeGreaterThan(15_000_000);
    console.log(`heap growth ${late - early} bytes over ${messages} messages`);
    expect(late - early).toBeLessThan(8_000_000);
    expect(truth.values.length).toBeLessThanOrEqual(100);
  }, 60_000);
});
