/**
 * Seeded fuzz test of the trace and decode layers over the sample traces, one block per
 * damage class of issue 12 (test/trace/damage-classes.ts). Quick by default; `npm run fuzz`
 * runs it long (FUZZ_ROUNDS cases per class, FUZZ_SEED to replay a run).
 *
 * For every damaged input: reading and decoding never throw and finish in bounded time;
 * every bad record has a line or byte offset; the decode layer passes on every bad record
 * the trace layer gave it; lines not touched by the damage read exactly as before; and a
 * damaged .btrace never yields a message that was not in the original (its frames carry CRCs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { decodeRecordBatches } from '../../src/protocol/stream.js';
import { openTraceBatches, type MessageRecord, type MetaRecord, type TraceRecord } from '../../src/trace/index.js';
import { DAMAGE_CLASSES, damage, type DamageClass } from './damage-classes.js';
import { content, prng, readBytes, writeBinary, writeLines } from './helpers.js';

const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 24);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
/** Per input; the slowest honest case (a 4 MiB line) takes a small fraction of it. */
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 3000);

const TRACES = join(import.meta.dirname, '..', '..', 'traces');

interface Sample {
  name: string;
  text: string;
  binary: Buffer;
}

async function loadSamples(): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (const name of readdirSync(TRACES).filter((f) => f.endsWith('.log') || f.endsWith('.btrace')).sort()) {
    const records = (await readBytes(readFileSync(join(TRACES, name)))).filter((r): r is MessageRecord | MetaRecord => r.kind !== 'bad');
    samples.push({ name, text: (await writeLines(records)).toString('utf8'), binary: await writeBinary(records) });
  }
  return samples;
}

async function readAndDecode(bytes: Buffer): Promise<{ records: TraceRecord[]; badEvents: number; ms: number }> {
  const started = performance.now();
  const records: TraceRecord[] = [];
  const batches = openTraceBatches('-', { stdin: Readable.from([bytes]) });
  async function* tee(): AsyncGenerator<TraceRecord[]> {
    for await (const batch of batches) {
      records.push(...batch);
      yield batch;
    }
  }
  let badEvents = 0;
  for await (const events of decodeRecordBatches(tee())) for (const e of events) if (e.type === 'bad') badEvents++;
  return { records, badEvents, ms: performance.now() - started };
}

const samples = await loadSamples();
const originals = new Map<string, Map<number, TraceRecord>>();
for (const s of samples) {
  const byLine = new Map<number, TraceRecord>();
  for (const r of await readBytes(Buffer.from(s.text))) if (r.loc.line !== undefined) byLine.set(r.loc.line, r);
  originals.set(s.name, byLine);
}
const key = (r: TraceRecord): string => JSON.stringify(content(r), (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));

describe(`seeded damage fuzz (seed ${SEED}, ${ROUNDS} inputs per class)`, () => {
  for (const kind of DAMAGE_CLASSES) {
    const rounds = kind === 'huge-line' ? Math.max(2, Math.ceil(ROUNDS / 8)) : ROUNDS;
    it(`${kind}: ${rounds} inputs`, async () => {
      const random = prng(SEED * 1000 + DAMAGE_CLASSES.indexOf(kind));
      for (let round = 0; round < rounds; round++) {
        const sample = samples[Math.floor(random() * samples.length)]!;
        const d = damage(kind as DamageClass, sample.text, sample.binary, random);
        const label = `${kind} #${round} on ${sample.name}: ${d.what}`;
        const { records, badEvents, ms } = await readAndDecode(d.bytes);
        expect(ms, label).toBeLessThan(TIME_LIMIT_MS);
        const bad = records.filter((r) => r.kind === 'bad');
        expect(
          bad.every((r) => r.loc.line !== undefined || r.loc.offset !== undefined),
          label,
        ).toBe(true);
        expect(badEvents, `${label}: the decode layer passes every bad record on`).toBe(bad.length);

        if (d.touchedLines) {
          const before = originals.get(sample.name)!;
          const after = new Map(records.filter((r) => r.loc.line !== undefined).map((r) => [r.loc.line!, r]));
          for (const [line, record] of before) {
            if (d.touchedLines.has(line)) continue;
            expect(after.has(line), `${label}: line ${line} lost`).toBe(true);
            expect(key(after.get(line)!), `${label}: line ${line}`).toBe(key(record));
          }
        }
        if (kind === 'damaged-frame') {
          const known = new Set([...originals.get(sample.name)!.values()].map(key));
          for (const r of records) if (r.kind !== 'bad') expect(known.has(key(r)), `${label}: a record not in the original`).toBe(true);
        }
        if (kind === 'damaged-gzip') {
          expect(bad.filter((r) => r.message.startsWith('damaged gzip stream: ')).length, label).toBeLessThanOrEqual(2);
        }
      }
    });
  }
});
