import type { ChalkInstance } from 'chalk';
import type { AnalysisResult, Finding, JsSnapshot, RustSnapshot, SessionSummary, Severity } from '../replay/index.js';
import { formatFindingLocation } from './location.js';

export interface TextReportOptions {
  /** Only the summary line and the root causes, one line each. */
  readonly quiet?: boolean;
  /** Consequences listed under each root before the rest are only counted. */
  readonly consequencesShown?: number;
}

const SEVERITY_ORDER: readonly Severity[] = ['error', 'warning', 'info'];

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

function paint(color: ChalkInstance, s: Severity): ChalkInstance {
  return s === 'error' ? color.red : s === 'warning' ? color.yellow : color.blue;
}

const REVISION_SOURCE: Record<SessionSummary['revisionSource'], string> = {
  option: 'from --rev',
  meta: 'from the meta record',
  guess: 'guessed from the bytes',
  default: 'assumed: nothing to guess from',
};

function sessionLine(s: SessionSummary): string {
  const label = s.ctx !== undefined ? `session ctx=${s.ctx}` : 'session';
  const sides = s.sides.join('+');
  return `${label}: ${s.revision} (${REVISION_SOURCE[s.revisionSource]}), recorded by ${sides}, helpers ${s.helperSource === 'heuristic' ? 'found by the signature heuristic' : s.helperSource === 'none' ? 'not named (no fn.* meta, no --symbols)' : `named by ${s.helperSource}`}, JS allocator: ${s.allocator === 'model' ? 'built-in model' : 'the --js-heap file'}`;
}

function countsLine(s: SessionSummary): string {
  return `${plural(s.messages, 'message')}, ${plural(s.ops, 'op')}, heap IDs created rust ${s.heapIdsCreated.rust} / js ${s.heapIdsCreated.js}, freed ${s.heapIdsFreed.rust} / ${s.heapIdsFreed.js}, alive at end ${s.liveAtEnd.rust} / ${s.liveAtEnd.js}, max depth ${s.maxDepth}`;
}

/** The one-line verdict at the top (and the whole output with --quiet). */
export function summaryLine(result: AnalysisResult, color: ChalkInstance): string {
  const s = result.summary;
  if (s.findings === 0) return color.green(`✔ no findings: ${plural(s.messages, 'message')} in ${plural(s.sessions, 'session')} replayed, both allocators agree`);
  const mark = s.bySeverity.error ? color.red('✖') : s.bySeverity.warning ? color.yellow('!') : color.blue('i');
  return `${mark} ${plural(s.roots, 'root cause')}, ${plural(s.consequences, 'consequence')} (${plural(s.bySeverity.error, 'error')}, ${plural(s.bySeverity.warning, 'warning')}, ${s.bySeverity.info} info) in ${plural(s.messages, 'message')}, ${plural(s.sessions, 'session')}`;
}

function findingHead(f: Finding, color: ChalkInstance): string {
  const sev = paint(color, f.severity);
  const certainty = f.certainty ? ` (${f.certainty})` : '';
  return `${sev(`${f.severity}[${f.kind}]`)}${certainty} ${color.dim(formatFindingLocation(f.location))}`;
}

function provenanceLines(f: Finding, color: ChalkInstance, pad: string): string[] {
  return (f.provenance ?? []).map(
    (p) => `${pad}${color.dim(`${p.side} #${p.id}: ${p.createdBy} at ${formatFindingLocation(p.createdAt)}${p.freedAt ? `, freed at ${formatFindingLocation(p.freedAt)}` : ''}`)}`,
  );
}

function rustState(s: RustSnapshot): string {
  const parts = [`next id ${s.maxId}`, `live ${s.live}`, `borrow pointer ${s.borrowPointer} (${plural(s.borrowFrames, 'frame')})`];
  if (s.freeList?.length) parts.push(`free list [${s.freeList.slice(-8).join(', ')}]`);
  if (s.pendingInstall) parts.push(`${s.pendingInstall} IDs waiting to be installed`);
  if (s.releasedNotRecycled?.length) parts.push(`released, not recycled [${s.releasedNotRecycled.slice(0, 8).join(', ')}]`);
  parts.push(`open: ${s.openExchanges.map((x) => `${x.kind}@${x.message}`).join(' › ') || 'none'}`);
  return parts.join(', ');
}

function jsState(s: JsSnapshot): string {
  const parts = [s.maxId !== undefined ? `next id ${s.maxId}` : 'no counter (Rust names every ID)', `live ${s.live}`, `borrow pointer ${s.borrowPointer} (${plural(s.borrowFrames, 'frame')})`];
  if (s.freeList?.length) parts.push(`free list [${s.freeList.slice(-8).join(', ')}]`);
  if (s.scopes.length) parts.push(`scopes ${s.scopes.map((x) => `${x.start !== undefined ? `[${x.start},${x.start + x.reserved}) ` : ''}${x.filled}/${x.reserved} filled`).join(' › ')}`);
  if (s.pendingDeferred) parts.push(`${s.pendingDeferred} values awaiting IDs`);
  parts.push(`open: ${s.openExchanges.map((x) => `${x.kind}@${x.message}${x.window ? ` ops ${x.window[0]}..${x.window[1]}` : ''}`).join(' › ') || 'none'}`);
  return parts.join(', ');
}

/** The analysis for a person: summary, findings by severity, first divergence, leaks. */
export function renderAnalysisText(result: AnalysisResult, inputs: readonly string[], color: ChalkInstance, opts: TextReportOptions = {}): string[] {
  const out: string[] = [];
  const roots = result.findings.filter((f) => f.causedBy === undefined);
  if (opts.quiet) {
    out.push(summaryLine(result, color));
    for (const f of roots) out.push(`${findingHead(f, color)} ${f.message}`);
    return out;
  }
  out.push(color.bold(`bridge-trace analyze ${inputs.join(' ')}`));
  for (const s of result.sessions) {
    out.push(`  ${sessionLine(s)}`);
    out.push(`  ${color.dim(countsLine(s))}`);
    for (const n of s.notes) out.push(`  ${color.yellow('note:')} ${n}`);
    if (s.readings.truncated) out.push(`  ${color.yellow('note:')} more readings of an ambiguous stretch than followed (${s.readings.max}); some findings may be possible rather than definite`);
    for (const [kind, n] of Object.entries(s.suppressed)) out.push(`  ${color.yellow('note:')} ${n} more ${kind} findings not listed`);
  }
  out.push('');
  out.push(summaryLine(result, color));
  const shown = opts.consequencesShown ?? 5;
  for (const sev of SEVERITY_ORDER) {
    const list = roots.filter((f) => f.severity === sev);
    if (!list.length) continue;
    out.push('', paint(color, sev).bold(`${sev === 'error' ? 'errors' : sev === 'warning' ? 'warnings' : 'info'} (${list.length})`));
    for (const f of list) {
      out.push(`  ${findingHead(f, color)}`);
      out.push(`    ${f.message}`);
      if (f.rustId !== undefined || f.jsId !== undefined) {
        out.push(`    ${color.dim(`Rust ID ${f.rustId ?? '—'}, JS ID ${f.jsId ?? '—'}`)}`);
      }
      out.push(...provenanceLines(f, color, '    '));
      const index = result.findings.indexOf(f);
      const consequences = result.findings.filter((c) => c.causedBy === index);
      if (f.consequences) {
        const byKind = new Map<string, number>();
        for (const c of consequences) byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + 1);
        const kinds = [...byKind].map(([k, n]) => `${k} ×${n}`).join(', ');
        out.push(`    ${color.dim(`↳ ${plural(f.consequences, 'consequence')}${kinds ? `: ${kinds}` : ''}`)}`);
        for (const c of consequences.slice(0, shown)) out.push(`      ${color.dim('·')} ${findingHead(c, color)} ${c.message}`);
        if (consequences.length > shown) out.push(`      ${color.dim(`· … ${consequences.length - shown} more`)}`);
      }
    }
  }
  const first = result.firstDivergence;
  if (first) {
    const f = result.findings[first.finding];
    out.push('', color.bold(`first divergence${f ? `: ${f.kind} at message ${first.message}` : ''}`));
    for (const m of first.window) {
      const here = m.message === first.message;
      out.push(`  ${here ? color.bold('▶') : ' '} ${`msg ${m.message}`.padEnd(8)} ${'  '.repeat(Math.min(m.depth, 12))}${m.text} ${color.dim(formatFindingLocation(m.location))}`);
    }
    const after = (n: number): string => (n === first.message ? '' : ` (after msg ${n}: msg ${first.message} is not replayed on this side)`);
    out.push(`  Rust model after msg ${first.message}: ${rustState(first.rustState)}${after(first.stateAfter.rust)}`);
    out.push(`  JS model after msg ${first.message}:   ${jsState(first.jsState)}${after(first.stateAfter.js)}`);
  }
  const leaks = result.sessions.filter((s) => s.leaks.rust.length || s.leaks.js.length);
  if (leaks.length) {
    out.push('', color.bold('alive at the end (by creating function)'));
    for (const s of leaks) {
      for (const side of ['rust', 'js'] as const) {
        const groups = s.leaks[side];
        if (!groups.length) continue;
        out.push(`  ${s.ctx !== undefined ? `ctx=${s.ctx} ` : ''}${side}: ${groups.slice(0, 8).map((g) => `${g.fn} ×${g.count}`).join(', ')}${groups.length > 8 ? `, … ${groups.length - 8} more` : ''}`);
      }
    }
  }
  return out;
}

/** The `analyze --json` document (docs/json-schema.md "analyze"). */
export function analysisToJson(result: AnalysisResult, inputs: readonly string[]): Record<string, unknown> {
  return {
    version: 1,
    inputs: [...inputs],
    summary: result.summary,
    sessions: result.sessions,
    findings: result.findings,
    ...(result.firstDivergence && { firstDivergence: result.firstDivergence }),
  };
}
