import type { Finding, Severity } from '../replay/findings.js';
import { asFindingsBySession, type FindingsBySession, type SessionEntry, type SessionFindings } from './ci-sessions.js';

export type { SessionFindings } from './ci-sessions.js';

/** Escapes a workflow-command message as @actions/core does. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow-command property value as @actions/core does. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const COMMAND: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'notice' };
const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

/** GitHub shows at most 10 annotations of each type per step; bridge-trace writes at most 10 in all. */
export const MAX_ANNOTATIONS = 10;

export interface AnnotationOptions {
  readonly minSeverity?: Severity;
  readonly max?: number;
  /** The finding's stable ID, for `--explain` (collected sessions only: a `FindingsBySession` carries its own). */
  readonly idOf?: (f: Finding) => string | undefined;
}

interface RootGroup {
  kind: string;
  severity: Severity;
  /** Its first root: the index of the finding, and its session. */
  first: { index: number; session: SessionEntry };
  count: number;
  sessions: Set<string>;
}

/** Root findings at or above `minSeverity`, grouped by kind and severity across sessions, in order. */
function rootGroups(t: FindingsBySession, minSeverity: Severity): RootGroup[] {
  const table = t.findings;
  const groups = new Map<string, RootGroup>();
  for (const s of t.sessions) {
    for (const i of s.findings) {
      const severity = table.severity(i);
      if (RANK[severity] < RANK[minSeverity] || table.causedBy(i) !== undefined) continue;
      const kind = table.kind(i);
      const key = `${severity}|${kind}`;
      const g = groups.get(key);
      if (g) {
        g.count++;
        g.sessions.add(s.label);
      } else groups.set(key, { kind, severity, first: { index: i, session: s }, count: 1, sessions: new Set([s.label]) });
    }
  }
  return [...groups.values()].sort((a, b) => RANK[b.severity] - RANK[a.severity]);
}

/**
 * GitHub Actions annotations: `::error file=…,line=…,title=…::message`, one per kind of root
 * finding at or above `minSeverity` (the same kind in several sessions is one annotation, at
 * its first place, with the count), at most `max` (10) in all: when there are more kinds, the
 * last annotation says how many were left out. The step summary and the text report that
 * follows have them all.
 */
export function githubAnnotations(sessions: readonly SessionFindings[] | FindingsBySession, options: Severity | AnnotationOptions = {}): string[] {
  const o: AnnotationOptions = typeof options === 'string' ? { minSeverity: options } : options;
  const t = asFindingsBySession(sessions, o.idOf);
  const max = Math.max(1, o.max ?? MAX_ANNOTATIONS);
  const groups = rootGroups(t, o.minSeverity ?? 'warning');
  const fits = groups.length <= max ? groups.length : max - 1;
  const lines: string[] = [];
  for (const g of groups.slice(0, fits)) {
    const { index, session: s } = g.first;
    const f = t.findings.at(index);
    const props = [`file=${escapeProperty(f.location.input)}`];
    if (f.location.line !== undefined) props.push(`line=${f.location.line}`);
    const where = g.sessions.size > 1 ? ` ×${g.count} in ${g.sessions.size} sessions (first: ${s.label})` : `${g.count > 1 ? ` ×${g.count}` : ''}${s.label !== s.input ? ` (${s.label})` : ''}`;
    props.push(`title=${escapeProperty(`bridge-trace ${f.kind}${where}`)}`);
    const more = f.consequences ? ` (+${f.consequences} consequence${f.consequences === 1 ? '' : 's'})` : '';
    const id = t.idOf?.(index);
    const others = g.count > 1 ? `; ${g.count - 1} more like it: see the step summary and the job log` : '';
    lines.push(`::${COMMAND[f.severity]} ${props.join(',')}::${escapeData(f.message + more + others + (id ? ` [id ${id}]` : ''))}`);
  }
  if (fits < groups.length) {
    const rest = groups.slice(fits);
    const n = rest.reduce((k, g) => k + g.count, 0);
    lines.push(`::${COMMAND[rest[0]!.severity]} title=${escapeProperty(`bridge-trace: ${rest.length} more kinds of finding`)}::${escapeData(`${n} more root findings of ${rest.length} kinds (${rest.slice(0, 5).map((g) => `${g.kind} ×${g.count}`).join(', ')}${rest.length > 5 ? ', …' : ''}): see the step summary and the job log`)}`);
  }
  return lines;
}

/** Largest step summary bridge-trace appends (GitHub allows 1 MiB per step). */
export const MAX_STEP_SUMMARY_BYTES = 64 * 1024;

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Cuts text to at most `max` characters at a word boundary, with an ellipsis when cut. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:]+$/, '')}…`;
}

/**
 * The Markdown for `$GITHUB_STEP_SUMMARY`, cut to a bounded size: a table of the root
 * findings by kind (with the first place of each, where the annotations stop), then one row
 * per session, sessions with errors first.
 */
export function stepSummaryMarkdown(sessions: readonly SessionFindings[] | FindingsBySession, limit = MAX_STEP_SUMMARY_BYTES, idOf?: (f: Finding) => string | undefined): string {
  const t = asFindingsBySession(sessions, idOf);
  const table = t.findings;
  const groups = rootGroups(t, 'info');
  const kindRow = (g: RootGroup): string => {
    const f = table.at(g.first.index);
    const place = `${f.location.input}${f.location.line !== undefined ? `:${f.location.line}` : ''}${g.first.session.label !== g.first.session.input ? ` (${g.first.session.label})` : ''}`;
    const id = t.idOf?.(g.first.index);
    return `| \`${g.kind}\` | ${g.severity} | ${g.count} | ${g.sessions.size} | ${cell(clip(place, 120))}${id ? ` \`${id}\`` : ''} |`;
  };
  const kinds = groups.length ? ['', '| kind | severity | root findings | sessions | first place |', '|---|---|---:|---:|---|', ...groups.slice(0, 50).map(kindRow)] : [];
  if (groups.length > 50) kinds.push('', `${groups.length - 50} more kinds not shown; see the job log.`);
  const head = ['## bridge-trace', ...kinds, '', '| session | errors | warnings | info | first finding |', '|---|---:|---:|---:|---|'];
  const counted = t.sessions.map((s) => {
    const count: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
    let firstError: number | undefined;
    for (const i of s.findings) {
      const severity = table.severity(i);
      count[severity]++;
      if (severity === 'error' && firstError === undefined) firstError = i;
    }
    return { s, count, first: firstError ?? s.findings[0] };
  });
  const ordered = counted.sort((a, b) => (b.count.error > 0 ? 1 : 0) - (a.count.error > 0 ? 1 : 0));
  // A row reads its session's first finding: only the rows that fit are made.
  let out = head.join('\n') + '\n';
  let shown = 0;
  for (const { s, count, first: i } of ordered) {
    const first = i !== undefined ? table.at(i) : undefined;
    const row = `| ${cell(s.label)} | ${count.error} | ${count.warning} | ${count.info} | ${first ? cell(clip(`\`${first.kind}\`: ${first.message}`, 300)) : 'clean'} |`;
    if (Buffer.byteLength(out + row + '\n') > limit - 200) break;
    out += row + '\n';
    shown++;
  }
  if (shown < ordered.length) out += `\n${ordered.length - shown} more session${ordered.length - shown === 1 ? '' : 's'} not shown; see the job log.\n`;
  return out;
}
