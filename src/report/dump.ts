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

/**
 * One NDJSON object for a decoded message (docs/json-schema.md "dump"): the schema as an
 * object. dump writes the same text straight as bytes (writeMessageJson); a test holds the
 * two to the same output.
 */
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

/**
 * Output text built as UTF-8 bytes. dump --json writes several times the bytes it reads:
 * building strings piece by piece and then encoding them cost most of its time, so lines
 * are written straight into a byte buffer, fixed parts copied from bytes made once.
 */
export class TextBytes {
  private buf: Buffer;
  private pos = 0;

  constructor(private readonly initial = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far, handed over: the next write goes to fresh memory. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.initial);
    this.pos = 0;
    return out;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    const buf = this.buf;
    let pos = this.pos;
    if (n > 12) buf.set(b, pos);
    else for (let i = 0; i < n; i++) buf[pos + i] = b[i]!;
    this.pos = pos + n;
  }

  /** Any text, UTF-8 encoded. */
  text(s: string): void {
    const n = s.length;
    this.room(n * 3);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = pos + buf.write(s.slice(i), pos, 'utf8');
        return;
      }
      buf[pos++] = c;
    }
    this.pos = pos;
  }

  /** A number as JSON.stringify writes it (non-finite numbers are null). */
  number(n: number): void {
    if (n >= 0 && n < 0x80000000 && (n | 0) === n) {
      this.room(10);
      const buf = this.buf;
      if (n < 10) {
        buf[this.pos++] = 0x30 + n;
        return;
      }
      if (n < 100) {
        const tens = (n / 10) | 0;
        buf[this.pos++] = 0x30 + tens;
        buf[this.pos++] = 0x30 + (n - tens * 10);
        return;
      }
      const digits = n < 1e3 ? 3 : n < 1e4 ? 4 : n < 1e5 ? 5 : n < 1e6 ? 6 : n < 1e7 ? 7 : n < 1e8 ? 8 : n < 1e9 ? 9 : 10;
      let at = this.pos + digits;
      this.pos = at;
      for (let x = n; ; ) {
        const q = (x / 10) | 0;
        buf[--at] = 0x30 + (x - q * 10);
        if (q === 0) break;
        x = q;
      }
      return;
    }
    this.text(Number.isFinite(n) ? String(n) : 'null');
  }

  /** A string as JSON.stringify writes it. */
  string(s: string): void {
    const n = s.length;
    this.room(n + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x22;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      // Quote, backslash, control characters and anything not ASCII: JSON.stringify's rules.
      if (c < 0x20 || c >= 0x7f || c === 0x22 || c === 0x5c) {
        this.text(JSON.stringify(s));
        return;
      }
      buf[pos++] = c;
    }
    buf[pos++] = 0x22;
    this.pos = pos;
  }
}

const encoder = new TextEncoder();
const bytesOf = (text: string): Uint8Array => encoder.encode(text);

/** Fixed parts of the lines, as bytes. */
const K = {
  message: bytesOf('{"message":'),
  line: bytesOf(',"line":'),
  offset: bytesOf(',"offset":'),
  sideNull: bytesOf(',"side":null'),
  side: bytesOf(',"side":'),
  seqNull: bytesOf(',"seq":null'),
  seq: bytesOf(',"seq":'),
  tNull: bytesOf(',"t":null'),
  t: bytesOf(',"t":'),
  bytes: bytesOf(',"bytes":'),
  evaluateId: bytesOf(',"evaluateId":'),
  reservedCount: bytesOf(',"reservedCount":'),
  installIds: bytesOf(',"installIds":'),
  reservedIds: bytesOf(',"reservedIds":'),
  ops: bytesOf(',"ops":['),
  opIndex: bytesOf('{"index":'),
  results: bytesOf(',"results":['),
  resultOp: bytesOf('{"op":'),
  value: bytesOf(',"value":'),
  filled: bytesOf(',"filledReservation":true}'),
  notFilled: bytesOf(',"filledReservation":false}'),
  call: bytesOf(',"call":'),
  valueNull: bytesOf(',"value":null'),
  valueType: bytesOf(',"valueType":'),
  exchange: bytesOf(',"exchange":'),
  issues: bytesOf(',"issues":['),
  unit: bytesOf('null'),
  true: bytesOf('true'),
  false: bytesOf('false'),
  heapRefNull: bytesOf('{"heapRef":null}'),
  heapRef: bytesOf('{"heapRef":'),
  borrowedNull: bytesOf('{"borrowed":null}'),
  borrowed: bytesOf('{"borrowed":'),
  cachedString: bytesOf('{"cachedString":'),
  callback: bytesOf('{"callback":'),
  policy: bytesOf(',"policy":'),
  none: bytesOf('{"none":true}'),
  some: bytesOf('{"some":'),
  ok: bytesOf('{"ok":'),
  err: bytesOf('{"err":'),
  clamped: bytesOf('{"clamped":['),
  enum: bytesOf('{"enum":'),
  variant: bytesOf(',"variant":'),
} as const;

const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

function writeNumberList(w: TextBytes, ids: readonly number[]): void {
  w.byte(OPEN_BRACKET);
  for (let i = 0; i < ids.length; i++) {
    if (i > 0) w.byte(COMMA);
    w.number(ids[i]!);
  }
  w.byte(CLOSE_BRACKET);
}

/** A value as JSON.stringify(valueToJson(v)) writes it, without the intermediate objects. */
export function writeValueJson(w: TextBytes, v: Value): void {
  switch (v.kind) {
    case 'unit':
      return w.bytes(K.unit);
    case 'bool':
      return w.bytes(v.value ? K.true : K.false);
    case 'int':
      if (typeof v.value === 'bigint') return w.text(JSON.stringify(valueToJson(v)));
      return w.number(v.value);
    case 'float':
      if (Number.isFinite(v.value)) return w.number(v.value);
      return w.string(String(v.value));
    case 'string':
      return w.string(v.value);
    case 'cached-string':
      w.bytes(K.cachedString);
      w.number(v.id);
      return w.byte(CLOSE_BRACE);
    case 'heapref':
      if (v.id === undefined) return w.bytes(K.heapRefNull);
      w.bytes(K.heapRef);
      w.number(v.id);
      return w.byte(CLOSE_BRACE);
    case 'borrowed':
      if (v.id === undefined) return w.bytes(K.borrowedNull);
      w.bytes(K.borrowed);
      w.number(v.id);
      return w.byte(CLOSE_BRACE);
    case 'callback':
      w.bytes(K.callback);
      w.number(v.key);
      if (v.policy !== undefined) {
        w.bytes(K.policy);
        w.number(v.policy);
      }
      return w.byte(CLOSE_BRACE);
    case 'option':
      if (v.value === null) return w.bytes(K.none);
      w.bytes(K.some);
      writeValueJson(w, v.value);
      return w.byte(CLOSE_BRACE);
    case 'result':
      w.bytes(v.ok ? K.ok : K.err);
      writeValueJson(w, v.value);
      return w.byte(CLOSE_BRACE);
    case 'array':
      return writeValueList(w, v.items);
    case 'clamped':
      w.bytes(K.clamped);
      for (let i = 0; i < v.bytes.length; i++) {
        if (i > 0) w.byte(COMMA);
        w.number(v.bytes[i]!);
      }
      w.byte(CLOSE_BRACKET);
      return w.byte(CLOSE_BRACE);
    case 'enum':
      w.bytes(K.enum);
      w.number(v.index);
      if (v.variant !== undefined) {
        w.bytes(K.variant);
        w.string(v.variant);
      }
      return w.byte(CLOSE_BRACE);
  }
}

function writeValueList(w: TextBytes, items: readonly Value[]): void {
  w.byte(OPEN_BRACKET);
  for (let i = 0; i < items.length; i++) {
    if (i > 0) w.byte(COMMA);
    writeValueJson(w, items[i]!);
  }
  w.byte(CLOSE_BRACKET);
}

/** JSON bytes of formatType(t), once per (interned) type definition. */
const TYPE_JSON = new WeakMap<TypeDef, Uint8Array>();
function typeJson(t: TypeDef): Uint8Array {
  let bytes = TYPE_JSON.get(t);
  if (bytes === undefined) TYPE_JSON.set(t, (bytes = bytesOf(JSON.stringify(formatType(t)))));
  return bytes;
}

/** An op's `,"signature":…,"params":[…],"ret":…,"args":` part, once per (interned) signature. */
const SIGNATURE_JSON = new WeakMap<Signature, Uint8Array>();
function signatureJson(sig: Signature): Uint8Array {
  let bytes = SIGNATURE_JSON.get(sig);
  if (bytes === undefined) {
    const params = sig.params.map((t) => JSON.stringify(formatType(t))).join(',');
    bytes = bytesOf(`,"signature":${JSON.stringify(formatSignature(sig))},"params":[${params}],"ret":${JSON.stringify(formatType(sig.ret))},"args":`);
    SIGNATURE_JSON.set(sig, bytes);
  }
  return bytes;
}

/** The last text seen in one place of the line and its bytes: inputs, ctxs and revisions come in long runs. */
class LastBytes {
  private text: string | undefined;
  private bytes: Uint8Array = new Uint8Array(0);
  constructor(private readonly make: (text: string) => string) {}
  get(text: string): Uint8Array {
    if (text !== this.text) {
      this.text = text;
      this.bytes = bytesOf(this.make(text));
    }
    return this.bytes;
  }
}

const INPUT_FIRST = new LastBytes((input) => `{"input":${JSON.stringify(input)}`);
const INPUT_LINE = new LastBytes((input) => `{"input":${JSON.stringify(input)},"line":`);
const INPUT_AFTER = new LastBytes((input) => `,"input":${JSON.stringify(input)}`);
const SIDE_RUST_SEQ = bytesOf(',"side":"rust","seq":');
const SIDE_JS_SEQ = bytesOf(',"side":"js","seq":');

/** `,"ctx":…,"dir":…,"type":…,"rev":…,"depth":`: the same for long runs of messages, a few kinds alternating. */
interface Middle {
  readonly ctx: string | undefined;
  readonly dir: string;
  readonly kind: string | undefined;
  readonly rev: string;
  readonly bytes: Uint8Array;
}
const MIDDLES: Middle[] = [];
const MAX_MIDDLES = 16;
function middleBytes(ctx: string | undefined, dir: string, kind: string | undefined, rev: string): Uint8Array {
  for (let i = 0; i < MIDDLES.length; i++) {
    const x = MIDDLES[i]!;
    if (x.ctx === ctx && x.dir === dir && x.kind === kind && x.rev === rev) return x.bytes;
  }
  let text = ctx !== undefined ? `,"ctx":${JSON.stringify(ctx)}` : '';
  text += `,"dir":${JSON.stringify(dir)},"type":${kind == null ? 'null' : JSON.stringify(kind)},"rev":${JSON.stringify(rev)},"depth":`;
  const bytes = bytesOf(text);
  // The newest first; the oldest goes when a new ctx starts (a log of many sessions moves on).
  MIDDLES.unshift({ ctx, dir, kind, rev, bytes });
  if (MIDDLES.length > MAX_MIDDLES) MIDDLES.pop();
  return bytes;
}

/** What an op's line holds between its index and its type id: the same for every call of one function. */
interface OpHead {
  readonly marker: string;
  readonly name: string | undefined;
  readonly role: string | undefined;
  readonly source: string | undefined;
  readonly bytes: Uint8Array;
  /** The last type id and signature it was written with, and the whole part up to the arguments then: a session keeps them. */
  typeId: number;
  signature: Signature | undefined;
  withType: Uint8Array;
}
const OP_HEADS = new Map<number, OpHead[]>();
/** Bounds on the cache (fn ids come off the wire: a damaged trace can hold any number of them). */
const MAX_OP_HEAD_FNS = 4096;
const MAX_OP_HEADS_PER_FN = 8;

function findOpHead(op: Op, name: string | undefined, role: string | undefined, source: string | undefined): OpHead | undefined {
  let heads = OP_HEADS.get(op.fnId);
  if (!heads && OP_HEADS.size < MAX_OP_HEAD_FNS) OP_HEADS.set(op.fnId, (heads = []));
  if (!heads) return undefined;
  for (let i = 0; i < heads.length; i++) {
    const h = heads[i]!;
    if (h.marker === op.marker && h.name === name && h.role === role && h.source === source) return h;
  }
  if (heads.length >= MAX_OP_HEADS_PER_FN) return undefined;
  const h: OpHead = { marker: op.marker, name, role, source, bytes: opHeadBytes(op, name, role, source), typeId: -1, signature: undefined, withType: new Uint8Array(0) };
  heads.push(h);
  return h;
}

function opHeadBytes(op: Op, name: string | undefined, role: string | undefined, source: string | undefined): Uint8Array {
  let text = `,"fnId":${num(op.fnId)}`;
  if (name !== undefined) text += `,"name":${JSON.stringify(name)}`;
  if (role !== undefined) text += `,"helper":${JSON.stringify(`${role} (${source})`)}`;
  text += `,"marker":${JSON.stringify(op.marker)},"typeId":`;
  return bytesOf(text);
}

/** An op's `,"fnId":…,"typeId":…,"signature":…,"args":` part. */
function writeOpHead(w: TextBytes, op: Op, name: string | undefined, role: string | undefined, source: string | undefined): void {
  const h = findOpHead(op, name, role, source);
  if (h === undefined) {
    w.bytes(opHeadBytes(op, name, role, source));
    w.number(op.typeId);
    w.bytes(signatureJson(op.signature));
    return;
  }
  if (h.signature !== op.signature || h.typeId !== op.typeId) {
    const typeId = bytesOf(num(op.typeId));
    const sig = signatureJson(op.signature);
    const all = new Uint8Array(h.bytes.length + typeId.length + sig.length);
    all.set(h.bytes, 0);
    all.set(typeId, h.bytes.length);
    all.set(sig, h.bytes.length + typeId.length);
    h.typeId = op.typeId;
    h.signature = op.signature;
    h.withType = all;
  }
  w.bytes(h.withType);
}

/** `,"type":…,"value":null|{"heapRef":null},"filledReservation":…}` by type, for the results whose value is fixed. */
const CONSTANT_RESULT_TAILS = new WeakMap<TypeDef, Uint8Array[]>();
function constantResultTail(t: TypeDef, unit: boolean, filled: boolean): Uint8Array {
  let tails = CONSTANT_RESULT_TAILS.get(t);
  if (!tails) CONSTANT_RESULT_TAILS.set(t, (tails = []));
  const slot = (unit ? 2 : 0) + (filled ? 1 : 0);
  let bytes = tails[slot];
  if (!bytes) {
    const value = unit ? 'null' : '{"heapRef":null}';
    tails[slot] = bytes = bytesOf(`,"type":${JSON.stringify(formatType(t))},"value":${value},"filledReservation":${filled ? 'true' : 'false'}}`);
  }
  return bytes;
}

const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');

/** A result's `,"type":…,"value":` part, once per (interned) type definition. */
const RESULT_TYPE_JSON = new WeakMap<TypeDef, Uint8Array>();
function resultTypeJson(t: TypeDef): Uint8Array {
  let bytes = RESULT_TYPE_JSON.get(t);
  if (bytes === undefined) RESULT_TYPE_JSON.set(t, (bytes = bytesOf(`,"type":${JSON.stringify(formatType(t))},"value":`)));
  return bytes;
}

function writeIssue(w: TextBytes, i: DecodeIssue): void {
  w.text(JSON.stringify(issueJson(i)));
}

function writeCall(w: TextBytes, call: JsCall): void {
  if (call.kind === 'callback') {
    w.text('{"kind":"callback","key":');
    w.number(call.key);
    if (call.type) {
      w.text(',"signature":');
      w.bytes(typeJson(call.type));
    }
    w.text(',"args":');
    writeValueList(w, call.args);
    w.byte(CLOSE_BRACE);
  } else if (call.kind === 'drop-native') {
    w.text('{"kind":"drop-native","key":');
    w.number(call.key);
    w.byte(CLOSE_BRACE);
  } else if (call.kind === 'export') {
    w.text('{"kind":"export","name":');
    w.string(call.name);
    w.text(',"args":');
    writeNumberList(w, call.args);
    w.byte(CLOSE_BRACE);
  } else {
    w.text('{"kind":"unknown","fnId":');
    w.number(call.fnId);
    w.byte(CLOSE_BRACE);
  }
}

/**
 * One dump NDJSON line (without its line end) for a decoded message, written to `w`: byte
 * for byte JSON.stringify(messageToJson(m, c)), or with `"message":n` first when the
 * message number is given.
 */
export function writeMessageJson(w: TextBytes, m: DecodedMessage, c: Conversation, message?: number): void {
  const r = m.record;
  const loc = r.loc;
  if (message !== undefined) {
    w.bytes(K.message);
    w.number(message);
    w.bytes(INPUT_AFTER.get(loc.input));
    if (loc.line !== undefined) {
      w.bytes(K.line);
      w.number(loc.line);
    }
  } else if (loc.line !== undefined) {
    w.bytes(INPUT_LINE.get(loc.input));
    w.number(loc.line);
  } else w.bytes(INPUT_FIRST.get(loc.input));
  if (loc.offset !== undefined) {
    w.bytes(K.offset);
    w.number(loc.offset);
  }
  if (r.seq != null && (r.side === 'rust' || r.side === 'js')) {
    w.bytes(r.side === 'rust' ? SIDE_RUST_SEQ : SIDE_JS_SEQ);
    w.number(r.seq);
  } else {
    if (r.side == null) w.bytes(K.sideNull);
    else {
      w.bytes(K.side);
      w.string(r.side);
    }
    if (r.seq == null) w.bytes(K.seqNull);
    else {
      w.bytes(K.seq);
      w.number(r.seq);
    }
  }
  if (r.t == null) w.bytes(K.tNull);
  else {
    w.bytes(K.t);
    w.number(r.t);
  }
  w.bytes(middleBytes(r.ctx, r.dir, m.kind, c.decoder.revision));
  w.number(m.depth);
  w.bytes(K.bytes);
  w.number(r.data.length);
  const b = m.body;
  if (b?.kind === 'r-eval') {
    if (b.evaluateId !== undefined) {
      w.bytes(K.evaluateId);
      w.number(b.evaluateId);
    }
    if (b.reservedCount !== undefined) {
      w.bytes(K.reservedCount);
      w.number(b.reservedCount);
    }
    if (b.installIds) {
      w.bytes(K.installIds);
      writeNumberList(w, b.installIds);
    }
    if (b.reservedIds) {
      w.bytes(K.reservedIds);
      writeNumberList(w, b.reservedIds);
    }
    w.bytes(K.ops);
    const ops = b.ops;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      if (i > 0) w.byte(COMMA);
      w.bytes(K.opIndex);
      w.number(op.index);
      // In opName's order: the role first (asking may note that the heuristic was relied on), then the name.
      const role = c.helpers.roleOf(op);
      const name = c.helpers.nameOf(op.fnId) ?? (role?.source === 'heuristic' ? `${role.role}?` : undefined);
      writeOpHead(w, op, name, role?.role, role?.source);
      writeValueList(w, op.args);
      w.byte(CLOSE_BRACE);
    }
    w.byte(CLOSE_BRACKET);
  } else if (b?.kind === 'j-resp') {
    if (b.evaluateId !== undefined) {
      w.bytes(K.evaluateId);
      w.number(b.evaluateId);
    }
    w.bytes(K.results);
    const results = b.results;
    for (let i = 0; i < results.length; i++) {
      const x = results[i]!;
      if (i > 0) w.byte(COMMA);
      w.bytes(K.resultOp);
      w.number(x.op);
      const v = x.value;
      if (v.kind === 'unit' || (v.kind === 'heapref' && v.id === undefined)) {
        // A value with nothing of its own to write (a filled reservation, a `()`): the rest of the result is fixed by its type.
        w.bytes(constantResultTail(x.type, v.kind === 'unit', x.filledReservation));
      } else {
        w.bytes(resultTypeJson(x.type));
        writeValueJson(w, v);
        w.bytes(x.filledReservation ? K.filled : K.notFilled);
      }
    }
    w.byte(CLOSE_BRACKET);
  } else if (b?.kind === 'j-eval') {
    w.bytes(K.call);
    writeCall(w, b.call);
  } else if (b?.kind === 'r-resp') {
    if (b.installIds) {
      w.bytes(K.installIds);
      writeNumberList(w, b.installIds);
    }
    if (b.value) {
      w.bytes(K.value);
      writeValueJson(w, b.value);
    } else w.bytes(K.valueNull);
    if (b.type) {
      w.bytes(K.valueType);
      w.bytes(typeJson(b.type));
    }
  }
  if (m.exchange) {
    w.bytes(K.exchange);
    w.number(m.exchange.serial);
  }
  if (m.issues.length) {
    w.bytes(K.issues);
    for (let i = 0; i < m.issues.length; i++) {
      if (i > 0) w.byte(COMMA);
      writeIssue(w, m.issues[i]!);
    }
    w.byte(CLOSE_BRACKET);
  }
  w.byte(CLOSE_BRACE);
}

const lineDecoder = new TextDecoder();

/** writeMessageJson as a string (one line, no line end). */
export function messageJsonLine(m: DecodedMessage, c: Conversation, message?: number): string {
  const w = new TextBytes(1024);
  writeMessageJson(w, m, c, message);
  return lineDecoder.decode(w.take());
}

/** writeValueJson as a string. */
export function valueJsonText(v: Value): string {
  const w = new TextBytes(64);
  writeValueJson(w, v);
  return lineDecoder.decode(w.take());
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
