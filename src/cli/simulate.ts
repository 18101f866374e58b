import { writeFile } from 'node:fs/promises';
import { FAULTS, SCENARIOS, writeSimulation, type SimMode, type SimSides } from '../sim/index.js';
import type { Revision } from '../protocol/revisions.js';
import type { TraceFormat } from '../trace/source.js';
import { formatForPath } from '../trace/writer.js';
import { EXIT_OK, UsageError, type CliIO } from './io.js';

export interface SimulateOptions {
  rev: Revision;
  mode?: 'batch' | 'nobatch' | 'non-batch';
  seed?: number;
  messages?: number;
  side?: SimSides;
  fault?: string[];
  truth?: string;
  output: string;
  fnMeta?: boolean;
  ctx?: string;
  racy?: boolean;
  format?: TraceFormat;
}

/** The text of `simulate --list`: scenarios and faults with one line each. */
export function describeScenarios(): string {
  const lines = ['scenarios:'];
  for (const s of SCENARIOS) lines.push(`  ${s.name.padEnd(34)} ${s.description}`);
  lines.push('', 'faults (--fault NAME, repeatable):');
  for (const f of FAULTS) lines.push(`  ${f.name.padEnd(34)} ${f.description}`);
  return lines.join('\n') + '\n';
}

/** `bridge-trace simulate`: run a scenario between both simulated peers and record the trace. */
export async function runSimulate(scenario: string, opts: SimulateOptions, io: CliIO): Promise<number> {
  if (!SCENARIOS.some((s) => s.name === scenario)) {
    throw new UsageError(`unknown scenario "${scenario}"; known: ${SCENARIOS.map((s) => s.name).join(', ')} (see simulate --list)`);
  }
  for (const f of opts.fault ?? []) {
    if (!FAULTS.some((x) => x.name === f)) throw new UsageError(`unknown fault "${f}"; known: ${FAULTS.map((x) => x.name).join(', ')}`);
  }
  const mode: SimMode = opts.mode === 'nobatch' || opts.mode === 'non-batch' ? 'non-batch' : 'batch';
  const toStdout = opts.output === '-';
  const implied = toStdout ? { format: 'lines' as const, gzip: false } : formatForPath(opts.output);
  const truth = await writeSimulation(
    {
      scenario,
      revision: opts.rev,
      mode,
      ...(opts.seed !== undefined && { seed: opts.seed }),
      ...(opts.messages !== undefined && { size: opts.messages }),
      ...(opts.side && { sides: opts.side }),
      ...(opts.fault && { faults: opts.fault }),
      ...(opts.fnMeta === false && { helperMeta: false }),
      ...(opts.ctx !== undefined && { ctx: opts.ctx }),
      ...(opts.racy && { racy: true }),
      input: opts.output,
    },
    toStdout ? io.stdout : opts.output,
    { format: opts.format ?? implied.format, gzip: implied.gzip, end: !toStdout },
  );
  if (opts.truth) await writeFile(opts.truth, JSON.stringify(truth, null, 2) + '\n');
  const events = Object.entries(truth.eventCounts).map(([k, v]) => `${k} ×${v}`);
  io.stderr.write(
    `simulated ${scenario} (${opts.rev}, ${mode}) → ${opts.output}: ${truth.messages.total} messages, ${truth.valueCount} JS values, ${truth.mismatchCount} ID mismatch${truth.mismatchCount === 1 ? '' : 'es'}${events.length ? `; ${events.join(', ')}` : ''}\n`,
  );
  return EXIT_OK;
}
