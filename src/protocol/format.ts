/**
 * How decoded values, heap IDs and callback keys read, for a person and as JSON: one place,
 * below every layer that prints them (dump, analyze's messages, diff).
 */
import type { Value } from './values.js';

/** Longest string shown in text output before it is cut. */
export const STRING_CUT = 40;
/** Array items shown in text output before the rest is counted. */
export const ARRAY_CUT = 8;

/** A value for a person: heap refs `#134`, borrowed refs `&127`, strings quoted and cut. */
export function formatValue(v: Value): string {
  switch (v.kind) {
    case 'unit':
      return '()';
    case 'bool':
      return String(v.value);
    case 'int':
      return v.value.toString();
    case 'float':
      return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
    case 'string': {
      const cut = v.value.length > STRING_CUT ? `${v.value.slice(0, STRING_CUT)}…` : v.value;
      return JSON.stringify(cut) + (v.value.length > STRING_CUT ? `(${v.byteLength} bytes)` : '');
    }
    case 'cached-string':
      return `str#${v.id}`;
    case 'heapref':
      return v.id === undefined ? '#new' : formatHeapId(v.id);
    case 'borrowed':
      return v.id === undefined ? '&new' : `&${v.id}`;
    case 'callback':
      return `callback ${formatCallbackKey(v.key)}${v.policy !== undefined ? `/${['rust-owned', 'js-owned', 'js-owned-once'][v.policy] ?? `policy ${v.policy}`}` : ''}`;
    case 'option':
      return v.value === null ? 'None' : `Some(${formatValue(v.value)})`;
    case 'result':
      return `${v.ok ? 'Ok' : 'Err'}(${formatValue(v.value)})`;
    case 'array': {
      const shown = v.items.slice(0, ARRAY_CUT).map(formatValue);
      if (v.items.length > ARRAY_CUT) shown.push(`…${v.items.length - ARRAY_CUT} more`);
      return `[${shown.join(', ')}]`;
    }
    case 'clamped':
      return `clamped[${v.bytes.length}]`;
    case 'enum':
      return v.variant !== undefined ? `${JSON.stringify(v.variant)}(${v.index})` : `invalid(${v.index})`;
  }
}

const CONSTANT_NAMES: Record<number, string> = { 128: 'undefined', 129: 'null', 130: 'true', 131: 'false' };

/** `#134` for a heap slot, `&127` for a borrow slot (1..127), `#128(undefined)` for the constants. */
export function formatHeapId(id: number): string {
  if (id >= 1 && id < 128) return `&${id}`;
  const constant = CONSTANT_NAMES[id];
  return constant ? `#${id}(${constant})` : `#${id}`;
}

/** u64 slotmap keys (legacy*, reserved-count-slotmap) read best as `index v version`. */
export function formatCallbackKey(key: number): string {
  return key >= 0x1_0000_0000 ? `${key % 0x1_0000_0000}v${Math.floor(key / 0x1_0000_0000)}` : String(key);
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A value for machines (docs/json-schema.md "values"). */
export function valueToJson(v: Value): JsonValue {
  switch (v.kind) {
    case 'unit':
      return null;
    case 'bool':
      return v.value;
    case 'int':
      return typeof v.value === 'bigint' ? (Number.isSafeInteger(Number(v.value)) ? Number(v.value) : v.value.toString()) : v.value;
    case 'float':
      return Number.isFinite(v.value) ? v.value : String(v.value);
    case 'string':
      return v.value;
    case 'cached-string':
      return { cachedString: v.id };
    case 'heapref':
      return { heapRef: v.id ?? null };
    case 'borrowed':
      return { borrowed: v.id ?? null };
    case 'callback':
      return v.policy !== undefined ? { callback: v.key, policy: v.policy } : { callback: v.key };
    case 'option':
      return v.value === null ? { none: true } : { some: valueToJson(v.value) };
    case 'result':
      return v.ok ? { ok: valueToJson(v.value) } : { err: valueToJson(v.value) };
    case 'array':
      return v.items.map(valueToJson);
    case 'clamped':
      return { clamped: Array.from(v.bytes) };
    case 'enum':
      return v.variant !== undefined ? { enum: v.index, variant: v.variant } : { enum: v.index };
  }
}
