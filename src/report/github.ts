import type { Finding, Severity } from '../replay/findings.js';

/** One session's findings, as the CI reporters see them. */
export interface SessionFindings {
  /** What the session is called in reports: its ctx label, or the input name. */
  readonly label: string;
  readonly input: string;
  readonly findings: readonly Finding[];
}

/** Escapes a workflow-command message as @actions/core does. */
export function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a workflow-command property value as @actions/core does. */
export function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

const COMMAND: Record<Severity, string> = { error: 'error', warning: 'warning', info: 'notice' };

/**
 * GitHub Actions annotations: `::error file=…,line=…,title=…::message`, one per finding at
 * or above `minSeverity`. GitHub shows only the first few of a step, so callers print the
 * full report as well.
 */
export function githubAnnotations(sessions: readonly SessionFindings[], minSeverity: Severity = 'warning'): string[] {
  const rank: Record<Severity, number> = { info: 0, warning: 1, error: 2 };
  const lines: string[] = [];
  for (const s of sessions) {
    for (const f of s.findings) {
      if (rank[f.severity] < rank[minSeverity] || f.causedBy !== undefined) continue;
      const props = [`file=${escapeProperty(f.location.input)}`];
      if (f.location.line !== undefined) props.push(`line=${f.location.line}`);
      props.push(`title=${escapeProperty(`bridge-trace ${f.kind}${s.label !== s.input ? ` (${s.label})` : ''}`)}`);
      const more = f.consequences ? ` (+${f.consequences} consequence${f.consequences === 1 ? '' : 's'})` : '';
      lines.push(`::${COMMAND[f.severity]} ${props.join(',')}::${escapeData(f.message + more)}`);
    }
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

/** A Markdown summary table for `$GITHUB_STEP_SUMMARY`, cut to a bounded size. */
export function stepSummaryMarkdown(sessions: readonly SessionFindings[], limit = MAX_STEP_SUMMARY_BYTES): string {
  const head = ['## bridge-trace', '', '| session | errors | warnings | info | first finding |', '|---|---:|---:|---:|---|'];
  const rows: string[] = [];
  for (const s of sessions) {
    const count = (sev: Severity): number => s.findings.filter((f) => f.severity === sev).length;
    const first = s.findings.find((f) => f.severity === 'error') ?? s.findings[0];
    rows.push(`| ${cell(s.label)} | ${count('error')} | ${count('warning')} | ${count('info')} | ${first ? cell(clip(`\`${first.kind}\`: ${first.message}`, 300)) : 'clean'} |`);
  }
  let out = head.join('\n') + '\n';
  let shown = 0;
  for (const row of rows) {
    if (Buffer.byteLength(out + row + '\n') > limit - 200) break;
    out += row + '\n';
    shown++;
  }
  if (shown < rows.length) out += `\n${rows.length - shown} more session${rows.length - shown === 1 ? '' : 's'} not shown; see the job log.\n`;
  return out;
}
