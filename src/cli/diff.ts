import { diffTraces } from '../diff/index.js';
import type { Revision } from '../protocol/revisions.js';
import type { Side } from '../trace/record.js';
import { openTrace } from '../trace/source.js';
import { diffToJson, renderDiffText } from '../report/diff.js';
import { jsonDocument } from '../report/json-chunks.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, UsageError, asLines, colorFor, writeChunks, type CliIO } from './io.js';
import { loadSymbols } from './options.js';
import { onlyCtx } from './ctx-filter.js';
import type { TraceRecord } from '../trace/record.js';

export interface DiffCliOptions {
  json?: boolean;
  exactIds?: boolean;
  side?: Side;
  context?: number;
  window?: number;
  rev?: Revision;
  symbols?: string;
  findings?: boolean;
  color?: boolean;
  /** Compare only the session with this ctx label in both traces. */
  ctx?: string;
  format?: 'text' | 'json';
}

/** `bridge-trace diff A B`: where two recorded conversations part. Exit 0 equivalent, 1 different, 2 error. */
export async function runDiff(a: string, b: string, opts: DiffCliOptions, io: CliIO): Promise<number> {
  if (a === '-' && b === '-') throw new UsageError('diff reads stdin (-) for at most one of A and B');
  const symbols = await loadSymbols(opts.symbols);
  const scoped = (r: AsyncIterable<TraceRecord>): AsyncIterable<TraceRecord> => (opts.ctx !== undefined ? onlyCtx(r, opts.ctx) : r);
  const result = await diffTraces(
    { name: a, records: scoped(openTrace(a, { stdin: io.stdin })) },
    { name: b, records: scoped(openTrace(b, { stdin: io.stdin })) },
    {
      ...(opts.side && { side: opts.side }),
      ...(opts.exactIds && { exactIds: true }),
      ...(opts.window !== undefined && { window: opts.window }),
      ...(opts.context !== undefined && { context: opts.context }),
      ...(opts.rev && { rev: opts.rev }),
      ...(symbols && { symbols }),
      findings: opts.findings !== false,
    },
  );
  const err = colorFor(io, 'stderr', opts.color);
  const problems: string[] = [];
  for (const [label, info] of [['A', result.a], ['B', result.b]] as const) {
    if (info.records === 0) problems.push(`${label} ${info.input}: no @btrace records${opts.ctx !== undefined ? ` of ctx=${opts.ctx}` : ''}`);
    else if (info.messages === 0) problems.push(`${label} ${info.input}: no message records${opts.side ? ` of the ${opts.side} side` : ''} to compare`);
  }
  if (problems.length > 0) {
    for (const p of problems) io.stderr.write(`${err.red('error:')} ${p}\n`);
    return EXIT_BAD_INPUT;
  }
  if (opts.json || opts.format === 'json') {
    await writeChunks(io.stdout, jsonDocument(diffToJson(result)));
  } else {
    const color = colorFor(io, 'stdout', opts.color);
    await writeChunks(io.stdout, asLines(renderDiffText(result, color)));
  }
  return result.equivalent ? EXIT_OK : EXIT_FINDINGS;
}
