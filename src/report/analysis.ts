import type { ChalkInstance } from 'chalk';
import { FINDING_INFO, findingTableOf, type AnalysisResult, type AnalysisStream, type AnalysisSummary, type Finding, type FindingTable, type FindingKind, type JsSnapshot, type RustSnapshot, type SessionSummary, type Severity } from '../replay/index.js';
import { FindingIds, findingIds } from './finding-ids.js';
import { JsonArrayStream, JsonLater } from './json-chunks.js';
import { SESSIONS_LISTED, asView, sessionDescription, sessionNotes, type AnalysisView } from './analysis-view.js';
import { FINDING_HELP, findingDocsLink } from './help.js';
import { formatFindingLocation } from './location.js';

/**
 * The text report of `analyze`, readable at any size: the verdict first, then tables by kind
 * and by session, then the root causes grouped by kind (the first in full, a few more places,
 * the rest counted), the first divergence, and what was alive at the end. Every list is capped
 * and says how much it left out.
 */

export interface TextReportOptions {
  /** Only the verdict and one line per group of root causes. */
  readonly quiet?: boolean;
  /** Consequences listed under a root before the rest are only counted. */
  readonly consequencesShown?: number;
  /** Root causes printed in all (in full or as a one-line place); the rest are counted. */
  readonly maxFindings?: number;
  /** Places listed under a group after its first root (default 4; all when filtering). */
  readonly placesPerGroup?: number;
  /** Finding IDs, parallel to `result.findings` (computed when absent). */
  readonly ids?: readonly string[];
  /** Which findings to report (indexes into `result.findings`); all when absent. */
  readonly shown?: ReadonlySet<number>;
  /** Said under the verdict when a filter is active. */
  readonly filterNote?: string;
}

export const DEFAULT_MAX_FINDINGS = 50;
const SEVERITY_ORDER: readonly Severity[] = ['error', 'warning', 'info'];
/** Headlines are kept to about this many columns; the detail goes on the lines under them. */
const HEADLINE = 104;
const TABLE_ROWS = 10;
/** Kinds that say a record could not be read, not that the allocators disagree. */
const UNREADABLE: ReadonlySet<FindingKind> = new Set<FindingKind>(['bad-record', 'records-lost']);

function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}

function paint(color: ChalkInstance, s: Severity): ChalkInstance {
  return s === 'error' ? color.red : s === 'warning' ? color.yellow : color.blue;
}

function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, '')}…`;
}

function sessionLabel(s: { readonly ctx?: string | undefined }): string {
  return s.ctx !== undefined ? `ctx=${s.ctx}` : '(no ctx)';
}

function countsLine(s: SessionSummary): string {
  return `${plural(s.messages, 'message')}, ${plural(s.ops, 'op')}, heap IDs created rust ${s.heapIdsCreated.rust} / js ${s.heapIdsCreated.js}, freed ${s.heapIdsFreed.rust} / ${s.heapIdsFreed.js}, alive at end ${s.liveAtEnd.rust} / ${s.liveAtEnd.js}, max depth ${s.maxDepth}`;
}

interface Counts {
  roots: number;
  unreadable: number;
  consequences: number;
  bySeverity: Record<Severity, number>;
}

function countOf(findings: FindingTable, shown: ReadonlySet<number> | undefined): Counts {
  const c: Counts = { roots: 0, unreadable: 0, consequences: 0, bySeverity: { error: 0, warning: 0, info: 0 } };
  for (let i = 0; i < findings.length; i++) {
    if (shown && !shown.has(i)) continue;
    c.bySeverity[findings.severity(i)]++;
    if (findings.causedBy(i) !== undefined) c.consequences++;
    else if (UNREADABLE.has(findings.kind(i))) c.unreadable++;
    else c.roots++;
  }
  return c;
}

function asTable(x: AnalysisResult | AnalysisView | FindingTable): FindingTable {
  if ('at' in x) return x;
  return Array.isArray(x.findings) ? findingTableOf(x.findings) : (x.findings as FindingTable);
}

/**
 * The one-line verdict at the top. Records that could not be read are counted as such, not
 * as root causes of a divergence.
 */
export function summaryLine(result: AnalysisResult | AnalysisView, color: ChalkInstance, shown?: ReadonlySet<number>): string {
  return verdictLine(result.summary, asTable(result), color, shown);
}

function verdictLine(s: AnalysisSummary, findings: FindingTable, color: ChalkInstance, shown?: ReadonlySet<number>): string {
  const c = countOf(findings, shown);
  const total = c.bySeverity.error + c.bySeverity.warning + c.bySeverity.info;
  const scope = `in ${plural(s.messages, 'message')}, ${plural(s.sessions, 'session')}`;
  if (total === 0) {
    return shown && findings.length > 0
      ? color.green(`✔ no findings match the filter (${plural(findings.length, 'finding')} ${scope})`)
      : color.green(`✔ no findings: ${plural(s.messages, 'message')} in ${plural(s.sessions, 'session')} replayed, both allocators agree`);
  }
  const mark = c.bySeverity.error ? color.red('✖') : c.bySeverity.warning ? color.yellow('!') : color.blue('i');
  const parts: string[] = [];
  if (c.roots || !c.unreadable) parts.push(plural(c.roots, 'root cause'));
  if (c.consequences) parts.push(plural(c.consequences, 'consequence'));
  if (c.unreadable) parts.push(plural(c.unreadable, 'unreadable record'));
  return `${mark} ${parts.join(', ')} (${plural(c.bySeverity.error, 'error')}, ${plural(c.bySeverity.warning, 'warning')}, ${c.bySeverity.info} info) ${scope}`;
}

/** Root causes of one kind, severity and certainty, in list order across sessions. */
export interface FindingGroup {
  readonly kind: FindingKind;
  readonly severity: Severity;
  readonly certainty: Finding['certainty'];
  /** Indexes into the findings. */
  readonly roots: number[];
  consequences: number;
  readonly sessions: Set<string>;
}

export function groupRoots(result: AnalysisResult | AnalysisView, shown?: ReadonlySet<number>): FindingGroup[] {
  return groupsOf(asTable(result), shown);
}

function groupsOf(findings: FindingTable, shown?: ReadonlySet<number>): FindingGroup[] {
  const groups = new Map<string, FindingGroup>();
  for (let i = 0; i < findings.length; i++) {
    if (shown && !shown.has(i)) continue;
    // Filtered, a consequence whose root is left out is listed as a root of its own.
    const causedBy = findings.causedBy(i);
    if (causedBy !== undefined && (!shown || shown.has(causedBy))) continue;
    const severity = findings.severity(i);
    const kind = findings.kind(i);
    const certainty = findings.certainty(i);
    const key = `${severity}|${kind}|${certainty ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind, severity, certainty, roots: [], consequences: 0, sessions: new Set() }));
    g.roots.push(i);
    g.consequences += findings.consequences(i) ?? 0;
    g.sessions.add(findings.ctx(i) ?? '');
  }
  const order = (s: Severity): number => SEVERITY_ORDER.indexOf(s);
  return [...groups.values()].sort((a, b) => order(a.severity) - order(b.severity) || a.roots[0]! - b.roots[0]!);
}

function headline(f: Finding, color: ChalkInstance, tally?: string): string {
  const sev = paint(color, f.severity);
  const certainty = f.certainty ? ` (${f.certainty})` : '';
  const head = `${f.severity}[${f.kind}]${certainty}: `;
  const after = tally ? ` (${tally})` : '';
  const room = Math.max(30, HEADLINE - head.length - after.length);
  let summary = FINDING_INFO[f.kind].summary;
  // A parenthesis is the first thing to go when the line is too long.
  if (summary.length > room && summary.includes(' (')) summary = summary.slice(0, summary.indexOf(' ('));
  summary = clipText(summary, room);
  return `${sev.bold(`${f.severity}[${f.kind}]`)}${certainty}: ${summary}${after}`;
}

function locationLine(f: Finding, id: string | undefined, color: ChalkInstance): string {
  const l = f.location;
  const msg = l.message !== undefined && l.ranAfter === undefined ? ` (msg ${l.message})` : '';
  const ids = f.rustId !== undefined || f.jsId !== undefined ? `  Rust #${f.rustId ?? '—'}, JS #${f.jsId ?? '—'}` : '';
  return `${color.cyan('-->')} ${formatFindingLocation(l)}${msg}${ids}${id ? `  ${color.dim(`id ${id}`)}` : ''}`;
}

/** Provenance lines: the key information of an ID finding, so never dimmed. */
export function provenanceLines(f: Finding): string[] {
  return (f.provenance ?? []).map((p) => `${p.side} #${p.id}: ${p.createdBy} at ${formatFindingLocation(p.createdAt)}${p.freedAt ? `, freed at ${formatFindingLocation(p.freedAt)}` : ''}`);
}

export function helpLine(kind: FindingKind, color: ChalkInstance): string {
  return `${color.cyan('= help:')} ${FINDING_HELP[kind]} (${findingDocsLink(kind)})`;
}

/** One finding in full: headline, location, message, provenance, consequences, help. */
export function findingBlock(
  result: AnalysisResult | AnalysisView | FindingTable,
  index: number,
  ids: readonly string[],
  color: ChalkInstance,
  opts: { pad: string; consequencesShown: number; tally?: string; help?: boolean },
): string[] {
  const findings = asTable(result);
  const f = findings.at(index);
  const pad = opts.pad;
  const out = [`${pad}${headline(f, color, opts.tally)}`, `${pad}  ${locationLine(f, ids[index], color)}`, `${pad}  ${color.cyan('=')} ${f.message}`];
  for (const p of provenanceLines(f)) out.push(`${pad}    ${p}`);
  if (f.consequences) {
    const consequences: number[] = [];
    for (let i = 0; i < findings.length; i++) if (findings.causedBy(i) === index) consequences.push(i);
    const byKind = new Map<string, number>();
    for (const i of consequences) byKind.set(findings.kind(i), (byKind.get(findings.kind(i)) ?? 0) + 1);
    const kinds = [...byKind].map(([k, n]) => `${k} ×${n}`).join(', ');
    out.push(`${pad}  ↳ ${plural(f.consequences, 'consequence')}${kinds ? `: ${kinds}` : ''}`);
    for (const i of consequences.slice(0, opts.consequencesShown)) {
      const c = findings.at(i);
      out.push(`${pad}    ${color.dim('·')} ${paint(color, c.severity)(`${c.severity}[${c.kind}]`)}${c.certainty ? ` (${c.certainty})` : ''} ${color.dim(formatFindingLocation(c.location))} ${c.message}${ids[i] ? color.dim(`  id ${ids[i]}`) : ''}`);
    }
    if (consequences.length > opts.consequencesShown) out.push(`${pad}    ${color.dim(`· … ${consequences.length - opts.consequencesShown} more (--explain ${ids[index] ?? 'ID'} lists them)`)}`);
  }
  if (opts.help !== false) out.push(`${pad}  ${helpLine(f.kind, color)}`);
  return out;
}

/** Columns whose cells are all numbers (the header aside) are right-aligned. */
function table(rows: string[][], pad: string): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const numeric = rows[0]!.map((_, c) => rows.slice(1).every((r) => /^[\d,]*$/.test(r[c] ?? '')));
  return rows.map((r) => `${pad}${r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ')}`.trimEnd());
}

function kindTable(findings: FindingTable, shown?: ReadonlySet<number>): string[] {
  const byKind = new Map<string, { severity: Severity; roots: number; consequences: number; sessions: Set<string> }>();
  for (let i = 0; i < findings.length; i++) {
    if (shown && !shown.has(i)) continue;
    const key = findings.kind(i);
    const severity = findings.severity(i);
    let e = byKind.get(key);
    if (!e) byKind.set(key, (e = { severity, roots: 0, consequences: 0, sessions: new Set() }));
    if (findings.causedBy(i) === undefined) e.roots++;
    else e.consequences++;
    e.sessions.add(findings.ctx(i) ?? '');
    if (SEVERITY_ORDER.indexOf(severity) < SEVERITY_ORDER.indexOf(e.severity)) e.severity = severity;
  }
  const entries = [...byKind].sort((a, b) => SEVERITY_ORDER.indexOf(a[1].severity) - SEVERITY_ORDER.indexOf(b[1].severity) || b[1].roots - a[1].roots || b[1].consequences - a[1].consequences);
  const rows = [['kind', 'roots', 'consequences', 'sessions', 'severity']];
  for (const [kind, e] of entries.slice(0, TABLE_ROWS * 2)) rows.push([kind, String(e.roots), String(e.consequences), String(e.sessions.size), e.severity]);
  const out = ['by kind', ...table(rows, '  ')];
  if (entries.length > TABLE_ROWS * 2) out.push(`  … ${entries.length - TABLE_ROWS * 2} more kinds`);
  return out;
}

function sessionTable(v: AnalysisView, ids: readonly string[], shown?: ReadonlySet<number>): string[] {
  const findings = v.findings;
  const per = new Map<string, { errors: number; warnings: number; first?: number }>();
  for (let i = 0; i < findings.length; i++) {
    if (shown && !shown.has(i)) continue;
    const key = findings.ctx(i) ?? '';
    const severity = findings.severity(i);
    let e = per.get(key);
    if (!e) per.set(key, (e = { errors: 0, warnings: 0 }));
    if (severity === 'error') e.errors++;
    else if (severity === 'warning') e.warnings++;
    if (e.first === undefined && findings.causedBy(i) === undefined && severity !== 'info') e.first = i;
  }
  // Only sessions whose ctx has findings can have errors or warnings here.
  const withFindings = v.sessions.withFindings.map((s) => ({ s, n: s.n, e: per.get(s.ctx ?? '') ?? { errors: 0, warnings: 0 } })).filter((x) => x.e.errors + x.e.warnings > 0);
  withFindings.sort((a, b) => b.e.errors - a.e.errors || b.e.warnings - a.e.warnings || a.n - b.n);
  const rows = [['#', 'session', 'messages', 'errors', 'warnings', 'first root cause']];
  for (const x of withFindings.slice(0, TABLE_ROWS)) {
    const f = x.e.first !== undefined ? findings.at(x.e.first) : undefined;
    rows.push([String(x.n), sessionLabel(x.s), String(x.s.messages), String(x.e.errors), String(x.e.warnings), f ? `${f.kind} msg ${f.location.message ?? '?'} (id ${ids[x.e.first!]})` : '']);
  }
  const clean = v.sessions.count - withFindings.length;
  const out = [`by session (${withFindings.length > TABLE_ROWS ? `the ${TABLE_ROWS} with the most errors of ` : ''}${plural(withFindings.length, 'session')} with findings; ${clean} clean)`];
  if (withFindings.length) out.push(...table(rows, '  '));
  if (withFindings.length > TABLE_ROWS) out.push(`  … ${withFindings.length - TABLE_ROWS} more sessions with findings (--session N or --ctx LABEL shows one)`);
  return out;
}

/** Identical lines tallied: `text` once, with how many sessions gave it. */
function tally(lines: Iterable<string>, max: number): Array<{ text: string; n: number }> & { more?: number } {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return capped(counts, max);
}

/** The first `max` of counted lines, and how many more there are. */
function capped(counts: ReadonlyMap<string, number>, max: number): Array<{ text: string; n: number }> & { more?: number } {
  const all = [...counts].map(([text, n]) => ({ text, n }));
  const shown: Array<{ text: string; n: number }> & { more?: number } = all.slice(0, max);
  if (all.length > max) shown.more = all.length - max;
  return shown;
}

function sessionLines(v: AnalysisView, color: ChalkInstance): string[] {
  const out: string[] = [];
  if (v.sessions.count <= SESSIONS_LISTED) {
    for (const s of v.sessions.first) {
      out.push(`  ${s.ctx !== undefined ? `session ctx=${s.ctx}` : 'session'}: ${sessionDescription(s)}`);
      out.push(`  ${color.dim(countsLine(s))}`);
      for (const n of tally(sessionNotes(s), 20)) out.push(`  ${color.yellow('note:')} ${n.text}`);
    }
    return out;
  }
  const descriptions = capped(v.sessions.descriptions, 5);
  for (const d of descriptions) out.push(`  ${plural(d.n, 'session')}: ${d.text}`);
  if (descriptions.more) out.push(`  … ${descriptions.more} more kinds of session`);
  const notes = capped(v.sessions.notes, 8);
  for (const n of notes) out.push(`  ${color.yellow('note:')} ${n.n > 1 ? `(${plural(n.n, 'session')}) ` : ''}${n.text}`);
  if (notes.more) out.push(`  ${color.yellow('note:')} … ${notes.more} more distinct notes (--json lists them per session)`);
  return out;
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

function firstDivergenceLines(v: AnalysisView, ids: readonly string[], color: ChalkInstance): string[] {
  const first = v.firstDivergence;
  if (!first) return [];
  const f = first.finding < v.findings.length ? v.findings.at(first.finding) : undefined;
  const out = ['', color.bold(`first divergence${f ? `: ${f.kind} at message ${first.message}${f.location.ctx !== undefined ? ` of ctx=${f.location.ctx}` : ''} (id ${ids[first.finding]})` : ''}`)];
  for (const m of first.window) {
    const here = m.message === first.message;
    out.push(`  ${here ? color.bold('▶') : ' '} ${`msg ${m.message}`.padEnd(8)} ${'  '.repeat(Math.min(m.depth, 12))}${m.text} ${color.dim(formatFindingLocation(m.location))}`);
  }
  const after = (n: number): string => (n === first.message ? '' : ` (taken after msg ${n}: this side's state at msg ${first.message} was not kept, or it never replayed that message)`);
  out.push(`  Rust model after msg ${first.message}: ${rustState(first.rustState)}${after(first.stateAfter.rust)}`);
  out.push(`  JS model after msg ${first.message}:   ${jsState(first.jsState)}${after(first.stateAfter.js)}`);
  return out;
}

function leakLines(v: AnalysisView, color: ChalkInstance): string[] {
  const leaking = v.sessions.leaking;
  if (!leaking) return [];
  const out = ['', color.bold('alive at the end (by creating function)')];
  const line = (groups: ReadonlyArray<{ fn: string; count: number }>): string => `${groups.slice(0, 8).map((g) => `${g.fn} ×${g.count}`).join(', ')}${groups.length > 8 ? `, … ${groups.length - 8} more` : ''}`;
  if (leaking <= SESSIONS_LISTED) {
    for (const s of v.sessions.firstLeaking) {
      for (const side of ['rust', 'js'] as const) {
        if (s.leaks[side].length) out.push(`  ${s.ctx !== undefined ? `ctx=${s.ctx} ` : ''}${side}: ${line(s.leaks[side])}`);
      }
    }
    return out;
  }
  for (const side of ['rust', 'js'] as const) {
    const groups = [...v.sessions.leaksBy[side]].map(([fn, count]) => ({ fn, count })).sort((a, b) => b.count - a.count);
    if (groups.length) out.push(`  ${side}, over ${plural(leaking, 'session')}: ${line(groups)}`);
  }
  return out;
}

/** The analysis for a person (see the module comment for the order). */
export function renderAnalysisText(result: AnalysisResult | AnalysisView, inputs: readonly string[], color: ChalkInstance, opts: TextReportOptions = {}): string[] {
  const v = asView(result);
  const findings = v.findings;
  const ids = opts.ids ?? tableIds(findings);
  const shown = opts.shown;
  const groups = groupsOf(findings, shown);
  const max = opts.maxFindings ?? DEFAULT_MAX_FINDINGS;
  const places = opts.placesPerGroup ?? 4;
  const out: string[] = [];
  const rootsShown = groups.reduce((n, g) => n + g.roots.length, 0);
  if (opts.quiet) {
    out.push(verdictLine(v.summary, findings, color, shown));
    if (opts.filterNote) out.push(color.dim(opts.filterNote));
    for (const g of groups.slice(0, max)) {
      const f = findings.at(g.roots[0]!);
      const many = g.roots.length > 1 ? ` ×${g.roots.length}${g.sessions.size > 1 ? ` in ${plural(g.sessions.size, 'session')}` : ''}, first` : '';
      out.push(`${paint(color, f.severity)(`${f.severity}[${f.kind}]`)}${f.certainty ? ` (${f.certainty})` : ''}${many} ${formatFindingLocation(f.location)} id ${ids[g.roots[0]!]}: ${f.message}`);
    }
    if (groups.length > max) out.push(`… ${groups.length - max} more kinds of root cause (--max-findings ${groups.length} shows them)`);
    return out;
  }
  out.push(color.bold(`bridge-trace analyze ${inputs.join(' ')}`));
  out.push(verdictLine(v.summary, findings, color, shown));
  if (opts.filterNote) out.push(color.dim(opts.filterNote));
  const multi = v.sessions.count > 1;
  const kinds = new Set(groups.map((g) => g.kind)).size;
  if (multi || kinds > 1 || rootsShown > 1) out.push('', ...kindTable(findings, shown));
  if (multi) out.push('', ...sessionTable(v, ids, shown));
  out.push('', ...sessionLines(v, color));

  let budget = max;
  let left = 0;
  const leftKinds = new Map<string, number>();
  for (const sev of SEVERITY_ORDER) {
    const list = groups.filter((g) => g.severity === sev);
    if (!list.length) continue;
    const n = list.reduce((k, g) => k + g.roots.length, 0);
    out.push('', paint(color, sev).bold(`${sev === 'error' ? 'errors' : sev === 'warning' ? 'warnings' : 'info'} (${plural(n, 'root cause')}${list.length > 1 ? ` of ${list.length} kinds` : ''})`));
    for (const g of list) {
      if (budget <= 0) {
        left += g.roots.length;
        leftKinds.set(g.kind, (leftKinds.get(g.kind) ?? 0) + g.roots.length);
        continue;
      }
      const tallyText = g.roots.length > 1 ? `×${g.roots.length}${g.sessions.size > 1 ? ` in ${plural(g.sessions.size, 'session')}` : ''}` : undefined;
      out.push(...findingBlock(findings, g.roots[0]!, ids, color, { pad: '  ', consequencesShown: opts.consequencesShown ?? 5, help: false, ...(tallyText && { tally: tallyText }) }));
      budget--;
      const rest = g.roots.slice(1);
      const listed = rest.slice(0, Math.min(places, budget));
      if (listed.length) out.push(`    also at:`);
      for (const i of listed) {
        const f = findings.at(i);
        out.push(`      ${formatFindingLocation(f.location)}${f.location.message !== undefined ? ` msg ${f.location.message}` : ''}${f.consequences ? ` (+${f.consequences})` : ''}  ${color.dim(`id ${ids[i]}`)}`);
      }
      budget -= listed.length;
      const unlisted = rest.length - listed.length;
      if (unlisted > 0) {
        out.push(`    … ${plural(unlisted, `more ${g.kind}`, `more ${g.kind}`)} (--kind ${g.kind} lists them)`);
      }
      out.push(`    ${helpLine(g.kind, color)}`);
    }
  }
  if (left > 0) {
    const kindsText = [...leftKinds].slice(0, 6).map(([k, n]) => `${k} ×${n}`).join(', ');
    out.push('', `… ${plural(left, 'more root cause')} not shown: ${kindsText}${leftKinds.size > 6 ? ', …' : ''} (--max-findings N shows more; --json lists every finding)`);
  }
  if (!shown || (v.firstDivergence && shown.has(v.firstDivergence.finding))) out.push(...firstDivergenceLines(v, ids, color));
  out.push(...leakLines(v, color));
  return out;
}

/** The IDs of a table's findings (each read once, in order). */
export function tableIds(findings: FindingTable): string[] {
  const maker = new FindingIds();
  const ids: string[] = [];
  for (let i = 0; i < findings.length; i++) ids.push(maker.next(findings.at(i)));
  return ids;
}

/** The `analyze --json` document (docs/json-schema.md "analyze"). */
export function analysisToJson(result: AnalysisResult, inputs: readonly string[], ids: readonly string[] = findingIds(result.findings), shown?: ReadonlySet<number>): Record<string, unknown> {
  const findings = [...findingsJson(findingTableOf(result.findings), ids, shown)];
  const first = result.firstDivergence;
  return analysisDocument(inputs, result.summary, result.sessions, findings, first && { ...first, id: ids[first.finding] }, shown && { shown: shown.size, of: result.findings.length });
}

/**
 * The same document as `analysisToJson`, of a view, for `jsonDocument` to write: each finding
 * (only those `shown`, if given) read in full as it is written. A view keeps only a digest
 * of the sessions: `sessions` are the summaries to list, in order.
 */
export function analysisViewToJson(view: AnalysisView, sessions: readonly SessionSummary[], inputs: readonly string[], ids: readonly string[], shown?: ReadonlySet<number>): Record<string, unknown> {
  const table = view.findings;
  const findings = new JsonArrayStream(shown ? shown.size : table.length, findingsJson(table, ids, shown));
  const first = view.firstDivergence;
  return analysisDocument(inputs, view.summary, sessions, findings, first && { ...first, id: ids[first.finding] }, shown && { shown: shown.size, of: table.length });
}

/** The findings of the document (only those `shown`, if given), in list order. */
function* findingsJson(table: FindingTable, ids: readonly string[], shown?: ReadonlySet<number>): Generator<Record<string, unknown>> {
  for (let i = 0; i < table.length; i++) {
    if (shown && !shown.has(i)) continue;
    yield findingJson(table.at(i), ids[i]!, ids);
  }
}

/**
 * The same document as `analysisToJson` of the collected result, for `jsonDocument` to write
 * as the analysis is read back: sessions and findings one at a time, each finding's ID made
 * as it is reached (an ID depends only on the findings before it).
 */
export function analysisStreamToJson(stream: AnalysisStream, inputs: readonly string[]): Record<string, unknown> {
  const ids: string[] = [];
  const maker = new FindingIds();
  function* findings(): Generator<Record<string, unknown>> {
    for (const f of stream.findings) {
      const id = maker.next(f);
      ids.push(id);
      yield findingJson(f, id, ids);
    }
  }
  const first = stream.firstDivergence;
  return analysisDocument(
    inputs,
    stream.summary,
    new JsonArrayStream(stream.summary.sessions, stream.sessions),
    new JsonArrayStream(stream.summary.findings, findings()),
    first && new JsonLater(() => ({ ...first, id: ids[first.finding] })),
  );
}

/** A finding in the document: its ID first, and the ID of the root it follows from. */
function findingJson(f: Finding, id: string, ids: readonly string[]): Record<string, unknown> {
  return { id, ...f, ...(f.causedBy !== undefined && { causedById: ids[f.causedBy] }) };
}

/** The keys of the document, in their order (docs/json-schema.md). */
function analysisDocument(inputs: readonly string[], summary: AnalysisSummary, sessions: unknown, findings: unknown, firstDivergence: unknown, filtered?: { shown: number; of: number }): Record<string, unknown> {
  return {
    version: 1,
    inputs: [...inputs],
    summary,
    sessions,
    ...(filtered && { filtered }),
    findings,
    ...(firstDivergence !== undefined && { firstDivergence }),
  };
}
