/**
 * Field rules and limits shared by both containers. The `@btrace` reader, the `.btrace`
 * reader and both writers validate through these functions, so a record accepted by one
 * container can always be written to the other and read back unchanged.
 */

import type { BadRecord, Direction, MessageRecord, MetaRecord, RecordLocation, Side } from './record.js';

/** Largest message (decoded bytes) either container accepts: 48 MiB, whose base64 is exactly 64 MiB. */
export const MAX_MESSAGE_BYTES = 48 * 1024 * 1024;
/** Largest `ctx` label, in UTF-8 bytes. */
export const MAX_CTX_BYTES = 4096;
/** Most `key=value` fields in one meta record. */
export const MAX_META_FIELDS = 4096;
/** Largest meta record: the sum of the UTF-8 lengths of all its keys and values. */
export const MAX_META_BYTES = 1024 * 1024;
/** Largest integer accepted for `seq` and `t` (2^53 - 1: exact in a JS number). */
export const MAX_DECIMAL = Number.MAX_SAFE_INTEGER;

/** Meta keys naming the bridge's helper functions; their values are decimal fn ids. */
export const FN_META_KEYS: readonly string[] = [
  'fn.drop_heap_ref',
  'fn.clone_heap_ref',
  'fn.dispose_rust_function',
  'fn.cast',
];

export function parseDirection(value: string): Direction | undefined {
  return value === 'r2j' || value === 'j2r' ? value : undefined;
}

export function parseSide(value: string): Side | undefined {
  return value === 'rust' || value === 'js' ? value : undefined;
}

const DECIMAL = /^[0-9]{1,16}$/;

/** A non-negative decimal integer no larger than MAX_DECIMAL (leading zeros allowed), else undefined. */
export function parseDecimal(value: string): number | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_DECIMAL ? n : undefined;
}

export function isDecimalInRange(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Space, tab and every C0 control or DEL: none of them may appear in a key or value. */
const FORBIDDEN_IN_TOKEN = /[\x00-\x20\x7f]/;

export function hasForbiddenChar(value: string): boolean {
  return FORBIDDEN_IN_TOKEN.test(value);
}

/** Why `value` is not an acceptable ctx label, or undefined if it is. */
export function ctxProblem(value: string): string | undefined {
  if (value.length === 0) return 'empty ctx value';
  if (hasForbiddenChar(value)) return 'bad ctx value: contains a space or control character';
  if (Buffer.byteLength(value, 'utf8') > MAX_CTX_BYTES) return `bad ctx value: longer than ${MAX_CTX_BYTES} bytes`;
  return undefined;
}

/** Shortens a value quoted in an error message so that a 64 MiB junk value gives a one-line message. */
export function quote(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

/**
 * Builds a meta record from its fields (in order, `rev`/`side`/`ctx` included), or a bad
 * record saying what is wrong. Rules: at most MAX_META_FIELDS fields and MAX_META_BYTES of
 * keys and values; keys non-empty without `=`, spaces or control characters; values without
 * spaces or control characters; no key twice; `rev` present and non-empty; `side` rust|js;
 * `ctx` a valid label; the `fn.*` keys decimal.
 */
export function metaFromFields(
  fields: ReadonlyArray<readonly [string, string]>,
  loc: RecordLocation,
): MetaRecord | BadRecord {
  let rev: string | undefined;
  let side: Side | undefined;
  let ctx: string | undefined;
  let problem: string | undefined;
  let bytes = 0;
  const seen = new Set<string>();
  if (fields.length > MAX_META_FIELDS) problem = `meta record has ${fields.length} fields (maximum ${MAX_META_FIELDS})`;
  for (const [key, value] of fields) {
    bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(value, 'utf8');
    if (key.length === 0 || key.includes('=') || hasForbiddenChar(key)) {
      problem ??= `malformed meta key ${quote(key)}`;
      continue;
    }
    if (seen.has(key)) {
      problem ??= `duplicate field ${key}`;
      continue;
    }
    seen.add(key);
    if (hasForbiddenChar(value)) {
      problem ??= `bad ${key} value: contains a space or control character`;
      continue;
    }
    if (key === 'rev') {
      if (value.length === 0) problem ??= 'empty rev value';
      else rev = value;
    } else if (key === 'side') {
      side = parseSide(value);
      if (side === undefined) problem ??= `bad side value ${quote(value)} (expected rust or js)`;
    } else if (key === 'ctx') {
      const why = ctxProblem(value);
      if (why === undefined) ctx = value;
      else problem ??= why;
    } else if (FN_META_KEYS.includes(key) && parseDecimal(value) === undefined) {
      problem ??= `bad ${key} value ${quote(value)} (expected a decimal fn id)`;
    }
  }
  if (bytes > MAX_META_BYTES) problem ??= `meta record too large: ${bytes} bytes of keys and values (maximum ${MAX_META_BYTES})`;
  if (problem === undefined && rev === undefined) problem = 'missing required field rev';
  if (problem !== undefined) return badRecord(problem, loc, { side, ctx });
  const record: MetaRecord = { kind: 'meta', rev, fields: fields.map(([k, v]) => [k, v] as const), loc };
  if (side !== undefined) record.side = side;
  if (ctx !== undefined) record.ctx = ctx;
  return record;
}

/** The last valid ctx label a reader met, so that a session's label is checked and built once. */
export interface CtxCache {
  ctxBytes: Buffer;
  ctx: string;
}

/** What a bad record could still tell about its place in the conversation. */
export interface Salvage {
  dir?: Direction;
  side?: Side;
  seq?: number;
  ctx?: string;
}

/** A bad record carrying only the salvaged fields that are defined (no `undefined` keys). */
export function badRecord(message: string, loc: RecordLocation, salvage: Salvage = {}): BadRecord {
  const bad: BadRecord = { kind: 'bad', message, loc };
  if (salvage.dir !== undefined) bad.dir = salvage.dir;
  if (salvage.side !== undefined) bad.side = salvage.side;
  if (salvage.seq !== undefined) bad.seq = salvage.seq;
  if (salvage.ctx !== undefined) bad.ctx = salvage.ctx;
  return bad;
}

/** Why a message record cannot be written (the readers' rules, applied to values), or undefined. */
export function messageRecordProblem(record: MessageRecord): string | undefined {
  if (parseDirection(record.dir) === undefined) return `bad dir ${quote(String(record.dir))}`;
  if (record.side !== undefined && parseSide(record.side) === undefined) return `bad side ${quote(String(record.side))}`;
  if (record.seq !== undefined && !isDecimalInRange(record.seq)) return `bad seq ${record.seq}`;
  if (record.t !== undefined && !isDecimalInRange(record.t)) return `bad t ${record.t}`;
  if (record.ctx !== undefined) {
    const why = ctxProblem(record.ctx);
    if (why !== undefined) return why;
  }
  if (!(record.data instanceof Uint8Array)) return 'data is not a Uint8Array';
  if (record.data.byteLength > MAX_MESSAGE_BYTES) {
    return `message of ${record.data.byteLength} bytes exceeds the maximum ${MAX_MESSAGE_BYTES}`;
  }
  return undefined;
}

/** Why a meta record cannot be written, or undefined. `fields` is what gets written; rev/side/ctx must agree with it. */
export function metaRecordProblem(record: MetaRecord): string | undefined {
  const rebuilt = metaFromFields(record.fields, record.loc);
  if (rebuilt.kind === 'bad') return rebuilt.message;
  if (rebuilt.rev !== record.rev || rebuilt.side !== record.side || rebuilt.ctx !== record.ctx) {
    return 'meta record rev/side/ctx disagree with its fields';
  }
  return undefined;
}
