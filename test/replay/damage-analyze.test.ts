/**
 * Issue 12, item 3: analyze never drops a bad record that the trace layer (and so `dump`) reports. Over
 * seeded damage of every class on every sample, each bad record the reader gives is one `bad-record`
 * finding of analyze (counted even where the report caps what it prints).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/replay/index.js';
import { openTraceBatches, type MessageRecord, type MetaRecord } from '../../src/trace/index.js';
import { DAMAGE_CLASSES, damage } from '../trace/damage-classes.js';
import { prng, readBytes, writeBinary, writeLines } from '../trace/helpers.js';

const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 6);
const SEED = Number(process.env.FUZZ_SEED ?? 31);
const TRACES = join(import.meta.dirname, '..', '..', 'traces');

const samples = await Promise.all(
  readdirSync(TRACES)
    .filter((f) => f.endsWith('.log') || f.endsWith('.btrace'))
    .sort()
    .map(async (name) => {
      const records = (await readBytes(readFileSync(join(TRACES, name)))).filter((r): r is MessageRecord | MetaRecord => r.kind !== 'bad');
      return { name, text: (await writeLines(records)).toString('utf8'), binary: await writeBinary(records) };
    }),
);

describe('analyze reports every bad record the reader gives', () => {
  for (const kind of DAMAGE_CLASSES) {
    it(kind, async () => {
      const random = prng(SEED + DAMAGE_CLASSES.indexOf(kind));
      for (let round = 0; round < ROUNDS; round++) {
        const sample = samples[Math.floor(random() * samples.length)]!;
        const damaged = damage(kind, sample.text, sample.binary, random);
        const read = await readBytes(damaged.bytes);
        const bad = read.filter((r) => r.kind === 'bad').length;
        const result = await analyze({ batches: openTraceBatches('-', { stdin: Readable.from([damaged.bytes]) }) });
        const reported = result.sessions.reduce((n, s) => n + (s.findingsByKind['bad-record'] ?? 0), 0);
        expect(reported, `${sample.name}: ${damaged.what}`).toBe(bad);
      }
    });
  }
});
