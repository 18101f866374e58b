import type { ChalkInstance } from 'chalk';
import { revisionsOf, type CallView, type DiffResult, type FindingDiff, type ReleaseView, type StepView, type TraceInfo } from '../diff/index.js';
import type { ItemLocation } from '../diff/items.js';
import type { JsonValue } from '../protocol/format.js';

/** Differences listed in text output after the first divergence. */
export const TEXT_LISTED = 20;

const CATEGORY_LABEL = { arguments: 'arguments', 'return-type': 'return type', result: 'result', ids: 'IDs' } as const;

export function formatItemLocation(l: ItemLocation): string {
  const where = l.line !== undefined ? `${l.input}:${l.line}` : l.offset !== undefined ? `${l.input}@${l.offset}` : l.input;
  const seq = l.seq !== undefined ? ` ${l.side ?? ''}#${l.seq}` : ` msg ${l.message}`;
  return `${where}${seq}${l.op !== undefined ? ` op ${l.op}` : ''}${l.ctx !== undefined ? ` ctx=${l.ctx}` : ''}`;
}

function header(label: 'A' | 'B', info: TraceInfo): string {
  const side = info.side ? `${info.side} side` : 'no side';
  return `${label === 'A' ? '---' : '+++'} ${label} ${info.input} (${revisionsOf(info)}, ${side}, ${info.calls} call${info.calls === 1 ? '' : 's'}, ${info.releases} release${info.releases === 1 ? '' : 's'})`;
}

function indent(c: CallView): string {
  return '  '.repeat(c.depth);
}

/** Unified-style lines for one step. */
export function renderStep(s: StepView, color: ChalkInstance): string[] {
  switch (s.type) {
    case 'same':
      return [`  ${indent(s.a!)}${s.a!.text}`];
    case 'only-a':
      return [color.red(`- ${indent(s.a!)}${s.a!.text}`)];
    case 'only-b':
      return [color.green(`+ ${indent(s.b!)}${s.b!.text}`)];
    case 'changed': {
      const pad = indent(s.a!);
      const lines = [color.yellow(`~ ${pad}${s.a!.text}`), color.yellow(`~ ${indent(s.b!)}${s.b!.text}`)];
      for (const d of s.details ?? []) lines.push(color.dim(`  ${pad}  · ${d}`));
      return lines;
    }
  }
}

function stepLocation(s: StepView): string {
  const parts: string[] = [];
  if (s.a) parts.push(`A call ${s.a.index + 1} (${formatItemLocation(s.a.location)})`);
  if (s.b) parts.push(`B call ${s.b.index + 1} (${formatItemLocation(s.b.location)})`);
  return parts.join(', ');
}

function oneLine(s: StepView): string {
  switch (s.type) {
    case 'same':
      return `  ${s.a!.text}`;
    case 'only-a':
      return `- ${s.a!.text}  (${formatItemLocation(s.a!.location)})`;
    case 'only-b':
      return `+ ${s.b!.text}  (${formatItemLocation(s.b!.location)})`;
    case 'changed':
      return `~ ${s.a!.text}  →  ${s.b!.text}  [${(s.categories ?? []).map((c) => CATEGORY_LABEL[c]).join(', ')}]`;
  }
}

function releaseLine(r: ReleaseView): string {
  const verb = r.what === 'native-drop' ? 'native-ref drop of' : r.what === 'dispose' ? 'dispose of' : 'drop of';
  return `${r.side === 'a' ? '-' : '+'} ${verb} ${r.value} (${r.origin}) only in ${r.side.toUpperCase()}  (${formatItemLocation(r.location)})`;
}

function findingLine(f: FindingDiff): string {
  const side = f.a > f.b ? '-' : '+';
  return `${side} ${f.kind}${f.at ? ` at ${f.at}` : ''}: A ${f.a}, B ${f.b}; e.g. ${f.example.message}`;
}

/** The text report: headers, notes, the first divergence with context, the summary, the lists. */
export function renderDiffText(r: DiffResult, color: ChalkInstance): string[] {
  const lines: string[] = [];
  lines.push(color.bold(header('A', r.a)), color.bold(header('B', r.b)));
  for (const n of r.notes) lines.push(color.yellow(`note: ${n}`));
  lines.push('');
  const ids = r.options.exactIds ? 'raw heap IDs and callback keys' : 'heap IDs and callback keys by creation order';
  if (r.equivalent) {
    lines.push(color.green(`equivalent: ${r.summary.same} calls aligned; no call, release${r.findingsCompared ? ' or finding' : ''} differs (${ids})`));
    return lines;
  }
  const fd = r.firstDivergence;
  if (fd) {
    const first = fd.steps.find((s) => s.type !== 'same');
    lines.push(color.bold(`first divergence: ${first ? stepLocation(first) : ''}`));
    lines.push(color.dim('  (- only in A, + only in B, ~ changed: A\'s form, then B\'s)'));
    for (const s of fd.steps) lines.push(...renderStep(s, color));
    if (fd.more > 0) lines.push(color.dim(`  … ${fd.more} more differing call${fd.more === 1 ? '' : 's'} in this stretch`));
    lines.push('');
  } else if (r.releases.length > 0) {
    lines.push(color.bold('first divergence: every call agrees; releases differ'), '');
  } else if (r.findings.length > 0) {
    lines.push(color.bold('first divergence: every call and release agrees; the replays\' findings differ'), '');
  }
  const s = r.summary;
  lines.push(color.bold('summary: different'));
  lines.push(`  calls: A ${r.a.calls}, B ${r.b.calls}: ${s.same} same, ${s.changed} changed, ${s.onlyA} only in A, ${s.onlyB} only in B`);
  // An argument can differ by its value or only by the heap ID it names (listed as "argument N"
  // either way): both are counted as changed arguments, the second kind also on its own.
  lines.push(`  changed calls: arguments ${s.changedArguments} by value, ${s.changedIds} by heap ID (ID assignments); return types ${s.changedReturnTypes}; results ${s.changedResults}`);
  lines.push(`  releases only in A ${s.releasesOnlyA}, only in B ${s.releasesOnlyB}`);
  lines.push(
    r.findingsCompared ? `  findings only in A ${s.findingsOnlyA}, only in B ${s.findingsOnlyB}` : `  findings not compared${r.options.findings ? '' : ' (--no-findings)'}`,
  );
  const shown = new Set((fd?.steps ?? []).filter((x) => x.type !== 'same').map((x) => `${x.a?.index ?? ''}/${x.b?.index ?? ''}`));
  const rest = r.differences.filter((x) => !shown.has(`${x.a?.index ?? ''}/${x.b?.index ?? ''}`));
  const restTotal = rest.length + r.differencesTruncated;
  if (restTotal > 0) {
    lines.push('', color.bold(`other differences (${restTotal}):`));
    for (const x of rest.slice(0, TEXT_LISTED)) {
      const text = oneLine(x);
      lines.push(x.type === 'only-a' ? color.red(text) : x.type === 'only-b' ? color.green(text) : color.yellow(text));
    }
    if (restTotal > TEXT_LISTED) lines.push(color.dim(`  … ${restTotal - TEXT_LISTED} more (--json)`));
  }
  if (r.releases.length > 0) {
    lines.push('', color.bold(`releases only in one run (${r.releases.length}; compared per value, not by position):`));
    for (const x of r.releases.slice(0, TEXT_LISTED)) lines.push((x.side === 'a' ? color.red : color.green)(releaseLine(x)));
    if (r.releases.length > TEXT_LISTED) lines.push(color.dim(`  … ${r.releases.length - TEXT_LISTED} more (--json)`));
  }
  if (r.findings.length > 0) {
    lines.push('', color.bold(`findings present in one run and not the other (${r.findings.length}):`));
    for (const f of r.findings.slice(0, TEXT_LISTED)) lines.push((f.a > f.b ? color.red : color.green)(findingLine(f)));
    if (r.findings.length > TEXT_LISTED) lines.push(color.dim(`  … ${r.findings.length - TEXT_LISTED} more (--json)`));
  }
  return lines;
}

// ---- JSON (docs/json-schema.md "diff --json", docs/diff.md) ---------------------------------------

function locationJson(l: ItemLocation): Record<string, JsonValue> {
  return {
    input: l.input,
    ...(l.line !== undefined && { line: l.line }),
    ...(l.offset !== undefined && { offset: l.offset }),
    ...(l.side !== undefined && { side: l.side }),
    ...(l.seq !== undefined && { seq: l.seq }),
    ...(l.ctx !== undefined && { ctx: l.ctx }),
    message: l.message,
    ...(l.op !== undefined && { op: l.op }),
  };
}

function callJson(c: CallView): Record<string, JsonValue> {
  return {
    index: c.index,
    kind: c.kind,
    depth: c.depth,
    text: c.text,
    ...(c.fnId !== undefined && { fnId: c.fnId }),
    ...(c.name !== undefined && { name: c.name }),
    params: c.params,
    ret: c.ret,
    status: c.status,
    location: locationJson(c.location),
  };
}

function stepJson(s: StepView): Record<string, JsonValue> {
  return {
    type: s.type,
    a: s.a ? callJson(s.a) : null,
    b: s.b ? callJson(s.b) : null,
    ...(s.categories && { categories: [...s.categories] }),
    ...(s.details && { details: [...s.details] }),
  };
}

function traceJson(t: TraceInfo): Record<string, JsonValue> {
  return {
    input: t.input,
    side: t.side ?? null,
    sidesSeen: [...t.sidesSeen],
    revisions: t.conversations.map((c) => ({
      ...(c.ctx !== undefined && { ctx: c.ctx }),
      revision: c.revision,
      source: c.revisionSource,
      ...(c.tied && { alsoFits: [...c.tied] }),
    })),
    records: t.records,
    messages: t.messages,
    otherSideMessages: t.otherSideMessages,
    badRecords: t.badRecords,
    calls: t.calls,
    releases: t.releases,
  };
}

/** The `diff --json` document. */
export function diffToJson(r: DiffResult): Record<string, JsonValue> {
  const fd = r.firstDivergence;
  return {
    version: 1,
    equivalent: r.equivalent,
    a: traceJson(r.a),
    b: traceJson(r.b),
    options: { ...r.options },
    notes: [...r.notes],
    firstDivergence: fd
      ? {
          a: fd.a ?? null,
          b: fd.b ?? null,
          steps: fd.steps.map(stepJson),
          more: fd.more,
        }
      : null,
    summary: { ...r.summary },
    differences: r.differences.map(stepJson),
    differencesTruncated: r.differencesTruncated,
    releases: r.releases.map((x) => ({ side: x.side, what: x.what, value: x.value, raw: x.raw, origin: x.origin, location: locationJson(x.location) })),
    findingsCompared: r.findingsCompared,
    findings: r.findings.map((f) => ({
      kind: f.kind,
      at: f.at ?? null,
      a: f.a,
      b: f.b,
      example: {
        side: f.example.side,
        message: f.example.message,
        location: Object.fromEntries(Object.entries(f.example.location).filter(([, v]) => v !== undefined)) as Record<string, JsonValue>,
      },
    })),
    stats: { ...r.stats },
  };
}
