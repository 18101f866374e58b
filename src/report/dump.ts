import type { ChalkInstance } from 'chalk';
import type { Conversation, DecodeEvent } from '../protocol/stream.js';
import type { DecodeIssue, DecodedMessage, JsCall, Op } from '../protocol/messages.js';
import { formatSignature, formatType, type Signature, type TypeDef } from '../protocol/types.js';
import type { Value } from '../protocol/values.js';
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

/** JSON text of a number as JSON.stringify writes it (non-finite numbers are null). */
const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** JSON text of the short strings that recur on every line (sides, directions, kinds, markers), each made once. */
const LITERAL_JSON = new Map<string, string>();
function literal(text: string): string {
  let json = LITERAL_JSON.get(text);
  if (json === undefined) {
    json = JSON.stringify(text);
    if (LITERAL_JSON.size < 256) LITERAL_JSON.set(text, json);
  }
  return json;
}

/** JSON text of an id list, as JSON.stringify writes the array. */
function numberListJson(ids: readonly number[]): string {
  let s = '[';
  for (let i = 0; i < ids.length; i++) s += i === 0 ? num(ids[i]!) : `,${num(ids[i]!)}`;
  return `${s}]`;
}

/** JSON text of a value: exactly JSON.stringify(valueToJson(v)), without the intermediate objects. */
export function valueJsonText(v: Value): string {
  switch (v.kind) {
    case 'unit':
      return 'null';
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'int':
      if (typeof v.value === 'bigint') return JSON.stringify(valueToJson(v));
      return num(v.value);
    case 'float':
      return Number.isFinite(v.value) ? String(v.value) : `"${String(v.value)}"`;
    case 'string':
      return JSON.stringify(v.value);
    case 'cached-string':
      return `{"cachedString":${num(v.id)}}`;
    case 'heapref':
      return v.id === undefined ? '{"heapRef":null}' : `{"heapRef":${num(v.id)}}`;
    case 'borrowed':
      return v.id === undefined ? '{"borrowed":null}' : `{"borrowed":${num(v.id)}}`;
    case 'callback':
      return v.policy !== undefined ? `{"callback":${num(v.key)},"policy":${num(v.policy)}}` : `{"callback":${num(v.key)}}`;
    case 'option':
      return v.value === null ? '{"none":true}' : `{"some":${valueJsonText(v.value)}}`;
    case 'result':
      return v.ok ? `{"ok":${valueJsonText(v.value)}}` : `{"err":${valueJsonText(v.value)}}`;
    case 'array':
      return valueListJson(v.items);
    case 'clamped': {
      let s = '{"clamped":[';
      for (let i = 0; i < v.bytes.length; i++) s += i === 0 ? String(v.bytes[i]!) : `,${v.bytes[i]!}`;
      return `${s}]}`;
    }
    case 'enum':
      return v.variant !== undefined ? `{"enum":${num(v.index)},"variant":${JSON.stringify(v.variant)}}` : `{"enum":${num(v.index)}}`;
  }
}

function valueListJson(items: readonly Value[]): string {
  let s = '[';
  for (let i = 0; i < items.length; i++) s += i === 0 ? valueJsonText(items[i]!) : `,${valueJsonText(items[i]!)}`;
  return `${s}]`;
}

/** JSON.stringify(formatType(t)), once per (interned) type definition. */
const TYPE_JSON = new WeakMap<TypeDef, string>();
function typeJson(t: TypeDef): string {
  let text = TYPE_JSON.get(t);
  if (text === undefined) TYPE_JSON.set(t, (text = JSON.stringify(formatType(t))));
  return text;
}

/** An op's `"signature":…,"params":[…],"ret":…,"args":[` part, once per (interned) signature. */
const SIGNATURE_JSON = new WeakMap<Signature, string>();
function signatureJson(sig: Signature): string {
  let text = SIGNATURE_JSON.get(sig);
  if (text === undefined) {
    text = `,"signature":${JSON.stringify(formatSignature(sig))},"params":[${sig.params.map(typeJson).join(',')}],"ret":${typeJson(sig.ret)},"args":`;
    SIGNATURE_JSON.set(sig, text);
  }
  return text;
}

/** The last input name and revision seen, as JSON text: one input and one revision serve run after run of records. */
let lastInput: string | undefined;
let lastInputJson = '';
let lastRev: string | undefined;
let lastRevJson = '';

function issueJsonText(i: DecodeIssue): string {
  let s = `{"kind":${JSON.stringify(i.kind)},"severity":${JSON.stringify(i.severity)},"message":${JSON.stringify(i.message)}`;
  if (i.byteOffset !== undefined) s += `,"byteOffset":${num(i.byteOffset)}`;
  if (i.op !== undefined) s += `,"op":${num(i.op)}`;
  if (i.consequence) s += ',"consequence":true';
  return `${s}}`;
}

function callJsonText(call: JsCall): string {
  switch (call.kind) {
    case 'callback':
      return `{"kind":"callback","key":${num(call.key)}${call.type ? `,"signature":${typeJson(call.type)}` : ''},"args":${valueListJson(call.args)}}`;
    case 'drop-native':
      return `{"kind":"drop-native","key":${num(call.key)}}`;
    case 'export':
      return `{"kind":"export","name":${JSON.stringify(call.name)},"args":${numberListJson(call.args)}}`;
    case 'unknown':
      return `{"kind":"unknown","fnId":${num(call.fnId)}}`;
  }
}

/**
 * One dump NDJSON line (without its line end) for a decoded message: byte for byte
 * JSON.stringify(messageToJson(m, c)), or with `"message":n` first when the message number
 * is given. Written straight to text because dump --json writes several times the bytes it
 * reads: building and then stringifying the objects cost most of its time.
 */
export function messageJsonLine(m: DecodedMessage, c: Conversation, message?: number): string {
  const r = m.record;
  const loc = r.loc;
  if (loc.input !== lastInput) {
    lastInput = loc.input;
    lastInputJson = JSON.stringify(loc.input);
  }
  const rev = c.decoder.revision;
  if (rev !== lastRev) {
    lastRev = rev;
    lastRevJson = JSON.stringify(rev);
  }
  let s = message !== undefined ? `{"message":${num(message)},"input":${lastInputJson}` : `{"input":${lastInputJson}`;
  if (loc.line !== undefined) s += `,"line":${num(loc.line)}`;
  if (loc.offset !== undefined) s += `,"offset":${num(loc.offset)}`;
  s += r.side == null ? ',"side":null' : `,"side":${literal(r.side)}`;
  s += r.seq == null ? ',"seq":null' : `,"seq":${num(r.seq)}`;
  s += r.t == null ? ',"t":null' : `,"t":${num(r.t)}`;
  if (r.ctx !== undefined) s += `,"ctx":${JSON.stringify(r.ctx)}`;
  s += `,"dir":${literal(r.dir)},"type":${m.kind == null ? 'null' : literal(m.kind)},"rev":${lastRevJson},"depth":${num(m.depth)},"bytes":${r.data.length}`;
  const b = m.body;
  if (b?.kind === 'r-eval') {
    if (b.evaluateId !== undefined) s += `,"evaluateId":${num(b.evaluateId)}`;
    if (b.reservedCount !== undefined) s += `,"reservedCount":${num(b.reservedCount)}`;
    if (b.installIds) s += `,"installIds":${numberListJson(b.installIds)}`;
    if (b.reservedIds) s += `,"reservedIds":${numberListJson(b.reservedIds)}`;
    s += ',"ops":[';
    const ops = b.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (i > 0) s += ',';
      s += `{"index":${num(op.index)},"fnId":${num(op.fnId)}`;
      // The order of opName: the role first (it may note that the heuristic was relied on), then the name.
      const role = c.helpers.roleOf(op);
      const name = c.helpers.nameOf(op.fnId) ?? (role?.source === 'heuristic' ? `${role.role}?` : undefined);
      if (name !== undefined) s += `,"name":${JSON.stringify(name)}`;
      if (role) s += `,"helper":${JSON.stringify(`${role.role} (${role.source})`)}`;
      s += `,"marker":${literal(op.marker)},"typeId":${num(op.typeId)}${signatureJson(op.signature)}${valueListJson(op.args)}}`;
    }
    s += ']';
  } else if (b?.kind === 'j-resp') {
    if (b.evaluateId !== undefined) s += `,"evaluateId":${num(b.evaluateId)}`;
    s += ',"results":[';
    const results = b.results;
    for (let i = 0; i < results.length; i++) {
      const x = results[i]!;
      if (i > 0) s += ',';
      s += `{"op":${num(x.op)},"type":${typeJson(x.type)},"value":${valueJsonText(x.value)},"filledReservation":${x.filledReservation ? 'true' : 'false'}}`;
    }
    s += ']';
  } else if (b?.kind === 'j-eval') {
    s += `,"call":${callJsonText(b.call)}`;
  } else if (b?.kind === 'r-resp') {
    if (b.installIds) s += `,"installIds":${numberListJson(b.installIds)}`;
    s += `,"value":${b.value ? valueJsonText(b.value) : 'null'}`;
    if (b.type) s += `,"valueType":${typeJson(b.type)}`;
  }
  if (m.exchange) s += `,"exchange":${num(m.exchange.serial)}`;
  if (m.issues.length) {
    s += ',"issues":[';
    for (let i = 0; i < m.issues.length; i++) s += i === 0 ? issueJsonText(m.issues[i]!) : `,${issueJsonText(m.issues[i]!)}`;
    s += ']';
  }
  return `${s}}`;
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
