import type { ChalkInstance } from 'chalk';
import type { Conversation, DecodeEvent } from '../protocol/stream.js';
import type { DecodeIssue, DecodedMessage, Op } from '../protocol/messages.js';
import { formatSignature, formatType } from '../protocol/types.js';
import { formatLocation, type RecordLocation } from '../trace/record.js';
import { formatCallbackKey, formatValue, valueToJson, type JsonValue } from '../protocol/format.js';

const KIND_LABEL = { 'r-eval': 'R-Eval', 'j-resp': 'J-Resp', 'j-eval': 'J-Eval', 'r-resp': 'R-Resp' } as const;

function locationJson(loc: RecordLocation): Record<string, JsonValue> {
  return {
    input: loc.input,
    ...(loc.line !== undefined && { line: loc.line }),
    ...(loc.offset !== undefined && { offset: loc.offset }),
  };
}

function opName(conversation: Conversation, op: Op): { name?: string; helper?: string } {
  const role = conversation.helpers.roleOf(op);
  const name = conversation.helpers.nameOf(op.fnId) ?? (role?.source === 'heuristic' ? `${role.role}?` : undefined);
  return { ...(name !== undefined && { name }), ...(role && { helper: `${role.role} (${role.source})` }) };
}

function issueJson(i: DecodeIssue): Record<string, JsonValue> {
  return {
    kind: i.kind,
    severity: i.severity,
    message: i.message,
    ...(i.byteOffset !== undefined && { byteOffset: i.byteOffset }),
    ...(i.op !== undefined && { op: i.op }),
    ...(i.consequence && { consequence: true }),
  };
}

/** One NDJSON object for a decoded message (docs/json-schema.md "dump"). */
export function messageToJson(m: DecodedMessage, c: Conversation): Record<string, JsonValue> {
  const r = m.record;
  const out: Record<string, JsonValue> = {
    ...locationJson(r.loc),
    side: r.side ?? null,
    seq: r.seq ?? null,
    t: r.t ?? null,
    ...(r.ctx !== undefined && { ctx: r.ctx }),
    dir: r.dir,
    type: m.kind ?? null,
    rev: c.decoder.revision,
    depth: m.depth,
    bytes: r.data.length,
  };
  const b = m.body;
  if (b?.kind === 'r-eval') {
    if (b.evaluateId !== undefined) out.evaluateId = b.evaluateId;
    if (b.reservedCount !== undefined) out.reservedCount = b.reservedCount;
    if (b.installIds) out.installIds = [...b.installIds];
    if (b.reservedIds) out.reservedIds = [...b.reservedIds];
    out.ops = b.ops.map((op) => ({
      index: op.index,
      fnId: op.fnId,
      ...opName(c, op),
      marker: op.marker,
      typeId: op.typeId,
      signature: formatSignature(op.signature),
      params: op.signature.params.map(formatType),
      ret: formatType(op.signature.ret),
      args: op.args.map(valueToJson),
    }));
  } else if (b?.kind === 'j-resp') {
    if (b.evaluateId !== undefined) out.evaluateId = b.evaluateId;
    out.results = b.results.map((x) => ({ op: x.op, type: formatType(x.type), value: valueToJson(x.value), filledReservation: x.filledReservation }));
  } else if (b?.kind === 'j-eval') {
    const call = b.call;
    out.call =
      call.kind === 'callback'
        ? { kind: 'callback', key: call.key, ...(call.type && { signature: formatType(call.type) }), args: call.args.map(valueToJson) }
        : call.kind === 'drop-native'
          ? { kind: 'drop-native', key: call.key }
          : call.kind === 'export'
            ? { kind: 'export', name: call.name, args: [...call.args] }
            : { kind: 'unknown', fnId: call.fnId };
  } else if (b?.kind === 'r-resp') {
    if (b.installIds) out.installIds = [...b.installIds];
    out.value = b.value ? valueToJson(b.value) : null;
    if (b.type) out.valueType = formatType(b.type);
  }
  if (m.exchange) out.exchange = m.exchange.serial;
  if (m.issues.length) out.issues = m.issues.map(issueJson);
  return out;
}

export function badRecordJson(loc: RecordLocation, message: string, extra: { seq?: number; side?: string } = {}): Record<string, JsonValue> {
  return { error: { ...locationJson(loc), message, ...(extra.seq !== undefined && { seq: extra.seq }), ...(extra.side !== undefined && { side: extra.side }) } };
}

/** Text lines for one decode event, indented by conversation depth. */
/** `message`: the record's message number in its session, when the caller knows it (from a replay). */
export function renderEventText(e: DecodeEvent, color: ChalkInstance, message?: number): string[] {
  switch (e.type) {
    case 'meta': {
      const fields = e.record.fields.map(([k, v]) => `${k}=${v}`).join(' ');
      const lines = [color.dim(`meta ${fields}  ${formatLocation(e.record.loc)}`)];
      for (const p of e.problems) lines.push(color.yellow(`  warning: ${p}`));
      return lines;
    }
    case 'bad':
      return [color.red(`${formatLocation(e.record.loc)}: bad record${e.record.seq !== undefined ? ` (seq ${e.record.seq})` : ''}: ${e.record.message}`)];
    case 'undecidable':
      return [color.red(`${formatLocation(e.record.loc)}: cannot decode: ${e.reason}`)];
    case 'message':
      return renderMessageText(e.message, e.conversation, color, message);
  }
}

function renderMessageText(m: DecodedMessage, c: Conversation, color: ChalkInstance, message?: number): string[] {
  const r = m.record;
  const pad = '  '.repeat(m.depth);
  const head = [
    message !== undefined ? `msg ${message}` : '',
    r.side ?? '?',
    r.seq !== undefined ? `#${r.seq}` : '',
    r.t !== undefined ? `t=${r.t}` : '',
    r.ctx !== undefined ? `ctx=${r.ctx}` : '',
  ].filter(Boolean).join(' ');
  const kind = m.kind ? KIND_LABEL[m.kind] : 'message';
  const arrow = r.dir === 'r2j' ? 'rust→js' : 'js→rust';
  const lines: string[] = [];
  const b = m.body;
  const prelude: string[] = [];
  if (b?.kind === 'r-eval' || b?.kind === 'j-resp') if (b.evaluateId !== undefined) prelude.push(`id=${b.evaluateId}`);
  if (b?.kind === 'r-eval' && b.reservedCount !== undefined) prelude.push(`reserved=${b.reservedCount}`);
  if ((b?.kind === 'r-eval' || b?.kind === 'r-resp') && b.installIds) prelude.push(`install=[${b.installIds.map((i) => `#${i}`).join(', ')}]`);
  if (b?.kind === 'r-eval' && b.reservedIds) prelude.push(`reserved=[${b.reservedIds.map((i) => `#${i}`).join(', ')}]`);
  const kindColored = m.kind === 'r-eval' || m.kind === 'j-eval' ? color.bold.cyan(kind) : color.bold.magenta(kind);
  lines.push(`${pad}${kindColored} ${color.dim(arrow)} ${prelude.join(' ')}${prelude.length ? ' ' : ''}${color.dim(`${head}  ${formatLocation(r.loc)}`)}`);
  if (b?.kind === 'r-eval') {
    for (const op of b.ops) {
      const { name } = opName(c, op);
      const fn = `fn ${op.fnId}${name ? ` ${color.green(name)}` : ''}`;
      const args = op.args.map(formatValue).join(', ');
      lines.push(`${pad}  op ${op.index}: ${fn}(${args}) ${color.dim(`${op.marker === 'full' ? 'FULL' : 'CACHED'} T${op.typeId} ${formatSignature(op.signature)}`)}`);
    }
  } else if (b?.kind === 'j-resp') {
    const shown = b.results.filter((x) => x.type.kind !== 'null');
    for (const x of shown) {
      lines.push(`${pad}  op ${x.op} → ${x.filledReservation ? color.dim('reserved slot') : formatValue(x.value)} ${color.dim(formatType(x.type))}`);
    }
  } else if (b?.kind === 'j-eval') {
    const call = b.call;
    if (call.kind === 'callback') {
      lines.push(`${pad}  call callback ${formatCallbackKey(call.key)}(${call.args.map(formatValue).join(', ')})${call.type ? ` ${color.dim(formatType(call.type))}` : ''}`);
    } else if (call.kind === 'drop-native') {
      lines.push(`${pad}  drop native ref ${formatCallbackKey(call.key)}`);
    } else if (call.kind === 'export') {
      lines.push(`${pad}  call export ${JSON.stringify(call.name)}(${call.args.join(', ')})`);
    } else {
      lines.push(`${pad}  unknown call kind ${call.fnId}`);
    }
  } else if (b?.kind === 'r-resp') {
    if (b.value) lines.push(`${pad}  → ${formatValue(b.value)} ${color.dim(b.type ? formatType(b.type) : '')}`);
  }
  for (const i of m.issues) {
    const paint = i.severity === 'error' ? color.red : i.severity === 'warning' ? color.yellow : color.blue;
    lines.push(`${pad}  ${paint(`${i.severity}[${i.kind}]`)} ${i.message}${i.byteOffset !== undefined ? ` (byte ${i.byteOffset})` : ''}${i.consequence ? color.dim(' (after an earlier damaged record)') : ''}`);
  }
  return lines;
}
