import type { ChalkInstance } from 'chalk';
import type { AnalysisResult, Finding, FindingLocation } from '../replay/index.js';
import { decodeRecords } from '../protocol/stream.js';
import type { SymbolTable } from '../protocol/helpers.js';
import type { Revision } from '../protocol/revisions.js';
import { findingBlock } from '../report/analysis.js';
import { renderEventText } from '../report/dump.js';
import { formatFindingLocation } from '../report/location.js';
import { openTrace } from '../trace/source.js';
import type { CliIO } from './io.js';

/** Records of the finding's side shown either side of it. */
const AROUND = 3;

function sameRecord(a: { input: string; line?: number; offset?: number }, b: FindingLocation): boolean {
  return a.input === b.input && (b.line !== undefined ? a.line === b.line : b.offset !== undefined && a.offset === b.offset);
}

/**
 * `analyze --explain ID`: one finding in full (every consequence), then the records around
 * it on its side (by seq) and the records its provenance names on both sides, decoded as
 * `dump` prints them, the finding's own record marked. Reads the inputs a second time.
 */
export async function explainLines(
  result: AnalysisResult,
  index: number,
  ids: readonly string[],
  inputs: readonly string[],
  io: CliIO,
  color: ChalkInstance,
  decode: { rev?: Revision; symbols?: SymbolTable },
): Promise<string[]> {
  const f: Finding = result.findings[index]!;
  const out = findingBlock(result, index, ids, color, { pad: '', consequencesShown: Number.MAX_SAFE_INTEGER });
  if (f.causedBy !== undefined) out.push(`  caused by: id ${ids[f.causedBy]} (${result.findings[f.causedBy]!.kind} at ${formatFindingLocation(result.findings[f.causedBy]!.location)})`);
  const l = f.location;
  const wanted: FindingLocation[] = [l, ...(f.provenance ?? []).flatMap((p) => [p.createdAt, ...(p.freedAt ? [p.freedAt] : [])])];
  const near = (r: { side?: string; seq?: number; ctx?: string; loc: { input: string } }): boolean =>
    l.seq !== undefined && r.seq !== undefined && r.side === l.side && r.ctx === l.ctx && r.loc.input === l.input && Math.abs(r.seq - l.seq) <= AROUND;
  const shown: string[] = [];
  const seen = new Set<string>();
  if (l.input && !inputs.includes('-')) {
    for (const input of inputs) {
      for await (const e of decodeRecords(openTrace(input, { stdin: io.stdin }), decode)) {
        if (e.type !== 'message') continue;
        const r = e.message.record;
        const here = sameRecord(r.loc, l);
        if (!near(r) && !wanted.some((w) => sameRecord(r.loc, w))) continue;
        const key = `${r.loc.input}:${r.loc.line ?? r.loc.offset}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const lines = renderEventText(e, color);
        shown.push(...lines.map((x, i) => `${i === 0 && here ? color.bold('▶ ') : '  '}${x}`));
      }
    }
  }
  if (shown.length) out.push('', color.bold(`the records around it (${l.side ?? '?'} side, seq ±${AROUND}) and those its provenance names, decoded`), ...shown);
  else if (inputs.includes('-')) out.push('', color.dim('(the records are not shown: the trace came from stdin, which cannot be read twice)'));
  return out;
}
