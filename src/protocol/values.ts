import type { FrameReader, FrameWriter } from '../wire/frame.js';
import { WireError } from '../wire/errors.js';
import type { Direction } from '../trace/record.js';
import type { RevisionFeatures } from './revisions.js';
import { formatType, utf8, utf8Strict, type CallbackType, type TypeDef } from './types.js';

export type IntKind =
  | 'u8' | 'u16' | 'u32' | 'u64' | 'u128'
  | 'i8' | 'i16' | 'i32' | 'i64' | 'i128'
  | 'usize' | 'isize';

/**
 * A decoded value. Heap references that occupy no bytes on the wire (JS→Rust HeapRef and
 * BorrowedRef in most revisions) still appear, with no `id`: the receiver assigns it, and
 * the replay decides which.
 */
export type Value =
  | { readonly kind: 'unit' }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly type: IntKind; readonly value: number | bigint }
  | { readonly kind: 'float'; readonly type: 'f32' | 'f64'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string; readonly byteLength: number; readonly nonAscii: boolean }
  | { readonly kind: 'cached-string'; readonly id: number }
  | { readonly kind: 'heapref'; readonly id?: number }
  | { readonly kind: 'borrowed'; readonly id?: number }
  | { readonly kind: 'callback'; readonly key: number; readonly policy?: number; readonly type: CallbackType }
  | { readonly kind: 'option'; readonly value: Value | null }
  | { readonly kind: 'result'; readonly ok: boolean; readonly value: Value }
  | { readonly kind: 'array'; readonly items: readonly Value[] }
  | { readonly kind: 'clamped'; readonly bytes: Uint8Array }
  | { readonly kind: 'enum'; readonly index: number; readonly variant?: string };

/**
 * The values that carry nothing of their own, one frozen copy each: they are most of a
 * J-Resp's results (filled reservations, `()`), and values are never changed once decoded.
 */
export const UNIT_VALUE: Value = Object.freeze({ kind: 'unit' });
export const NEW_HEAPREF: Value = Object.freeze({ kind: 'heapref' });
const NEW_BORROWED: Value = Object.freeze({ kind: 'borrowed' });

/** A string length word with this value marks a cached-string reference (explicit-ids). */
export const CACHED_STRING_MARK = 0xffffffff;

/**
 * Elements of a type that occupies no bytes cannot be bounded by what is left in the
 * buffers, so their count is bounded by this documented limit instead: over the whole
 * message, so that nested arrays (`Vec<Vec<()>>`) cannot multiply it.
 */
export const MAX_ZERO_WIDTH_ELEMENTS = 1 << 20;

/** Zero-width elements each message (reader) has still to give. */
const zeroWidthLeft = new WeakMap<FrameReader, number>();

export interface ValueCodecContext {
  readonly dir: Direction;
  readonly features: RevisionFeatures;
}

/** True when a value of this type takes at least one element of some buffer. */
export function occupiesBytes(t: TypeDef, ctx: ValueCodecContext): boolean {
  switch (t.kind) {
    case 'null':
      return false;
    case 'heapref':
      return ctx.dir === 'r2j' || ctx.features.jsWritesHeapIds;
    case 'borrowed':
      return ctx.dir === 'r2j';
    default:
      return true;
  }
}

/** Combines two u32 words the way the heap-ID readers do (exact below 2^53). */
export function wordsToNumber(lo: number, hi: number): number {
  return hi * 0x1_0000_0000 + lo;
}

function readId(r: FrameReader, what: string): number {
  return r.u64Number(what);
}

/** Scratch memory to reinterpret float bits (one per process: decoding is synchronous). */
const floatBits = new DataView(new ArrayBuffer(8));

export function decodeValue(r: FrameReader, t: TypeDef, ctx: ValueCodecContext): Value {
  switch (t.kind) {
    case 'null':
      return UNIT_VALUE;
    case 'bool':
      return { kind: 'bool', value: r.u8('bool') !== 0 };
    case 'u8':
      return { kind: 'int', type: 'u8', value: r.u8('u8') };
    case 'i8':
      return { kind: 'int', type: 'i8', value: (r.u8('i8') << 24) >> 24 };
    case 'u16':
      return { kind: 'int', type: 'u16', value: r.u16('u16') };
    case 'i16':
      return { kind: 'int', type: 'i16', value: (r.u16('i16') << 16) >> 16 };
    case 'u32':
      return { kind: 'int', type: 'u32', value: r.u32('u32') };
    case 'i32':
      return { kind: 'int', type: 'i32', value: r.u32('i32') | 0 };
    case 'f32': {
      floatBits.setUint32(0, r.u32('f32'), true);
      return { kind: 'float', type: 'f32', value: floatBits.getFloat32(0, true) };
    }
    case 'u64':
    case 'usize':
      return { kind: 'int', type: t.kind, value: r.u64(t.kind) };
    case 'i64':
    case 'isize':
      return { kind: 'int', type: t.kind, value: BigInt.asIntN(64, r.u64(t.kind)) };
    case 'f64': {
      const bits = r.u64('f64');
      floatBits.setBigUint64(0, bits, true);
      return { kind: 'float', type: 'f64', value: floatBits.getFloat64(0, true) };
    }
    case 'u128':
      return { kind: 'int', type: 'u128', value: r.u128('u128') };
    case 'i128':
      return { kind: 'int', type: 'i128', value: BigInt.asIntN(128, r.u128('i128')) };
    case 'string':
      return decodeString(r, ctx);
    case 'heapref':
      if (!occupiesBytes(t, ctx)) return NEW_HEAPREF;
      return { kind: 'heapref', id: readId(r, 'heap ID') };
    case 'borrowed':
      if (ctx.dir === 'j2r') return NEW_BORROWED;
      return { kind: 'borrowed', id: readId(r, 'borrowed ID') };
    case 'callback': {
      const key = ctx.features.callbackKeyWords === 2 ? readId(r, 'callback key') : r.u32('callback handle');
      if (ctx.dir === 'r2j' && ctx.features.callbackPolicyWord) {
        return { kind: 'callback', key, policy: r.u32('callback policy'), type: t };
      }
      return { kind: 'callback', key, type: t };
    }
    case 'option': {
      const some = r.u8('Option flag') !== 0;
      return { kind: 'option', value: some ? decodeValue(r, t.inner, ctx) : null };
    }
    case 'result': {
      const flag = r.u8('Result flag');
      // JS reads "= 1 is Ok", Rust reads "≠ 0 is Ok" (wire §8).
      const ok = ctx.dir === 'r2j' ? flag === 1 : flag !== 0;
      return { kind: 'result', ok, value: decodeValue(r, ok ? t.ok : t.err, ctx) };
    }
    case 'array': {
      const count = r.u32('array length');
      checkCount(r, count, t.element, ctx);
      const items: Value[] = [];
      for (let i = 0; i < count; i++) items.push(decodeValue(r, t.element, ctx));
      return { kind: 'array', items };
    }
    case 'u8clamped': {
      const count = r.u32('clamped array length');
      return { kind: 'clamped', bytes: r.u8Bytes(count, 'clamped array') };
    }
    case 'stringenum': {
      const index = r.u32('string enum discriminant');
      const variant = t.variants[index];
      return variant === undefined ? { kind: 'enum', index } : { kind: 'enum', index, variant };
    }
  }
}

function checkCount(r: FrameReader, count: number, element: TypeDef, ctx: ValueCodecContext): void {
  const at = r.byteOffsetOf('u32') - 4;
  if (!occupiesBytes(element, ctx)) {
    const left = zeroWidthLeft.get(r) ?? MAX_ZERO_WIDTH_ELEMENTS;
    if (count > left) {
      throw new WireError(
        count > MAX_ZERO_WIDTH_ELEMENTS
          ? `array of ${count} ${formatType(element)} elements exceeds the limit of ${MAX_ZERO_WIDTH_ELEMENTS} for elements that occupy no bytes`
          : `array of ${count} ${formatType(element)} elements takes the message past the limit of ${MAX_ZERO_WIDTH_ELEMENTS} elements that occupy no bytes`,
        at,
        'u32',
      );
    }
    zeroWidthLeft.set(r, left - count);
    return;
  }
  const budget = r.remainingElements();
  if (count > budget) {
    throw new WireError(
      `array length ${count} is more than the ${budget} buffer elements left in the message`,
      at,
      'u32',
    );
  }
}

function decodeString(r: FrameReader, ctx: ValueCodecContext): Value {
  const len = r.u32('string length');
  // Only JS reads the cached-string form; Rust's reader has no such case.
  if (len === CACHED_STRING_MARK && ctx.features.cachedStrings && ctx.dir === 'r2j') {
    return { kind: 'cached-string', id: readId(r, 'cached string ID') };
  }
  const start = r.takeStr(len, 'string');
  const all = r.bytes;
  const end = start + len;
  let nonAscii = false;
  for (let i = start; i < end; i++) {
    if (all[i]! >= 0x80) {
      nonAscii = true;
      break;
    }
  }
  let value: string;
  if (!nonAscii) {
    // ASCII reads the same in every decoder: short ones are cheaper made from char codes than through TextDecoder.
    value = len <= SHORT_ASCII ? asciiString(all, start, end) : utf8.decode(all.subarray(start, end));
  } else if (ctx.dir === 'j2r') {
    // Rust rejects invalid UTF-8 in a string it reads (InvalidUtf8).
    try {
      value = utf8Strict.decode(all.subarray(start, end));
    } catch {
      throw new WireError(`string is not valid UTF-8`, r.byteOffsetOf('str') - len, 'str');
    }
  } else {
    value = utf8.decode(all.subarray(start, end));
  }
  return { kind: 'string', value, byteLength: len, nonAscii };
}

/** ASCII strings up to this many bytes are built from char codes. */
const SHORT_ASCII = 32;

function asciiString(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

const textEncoder = new TextEncoder();

/** Writes a value as the sending peer of `ctx.dir` does; the inverse of `decodeValue`. */
export function encodeValue(w: FrameWriter, t: TypeDef, v: Value, ctx: ValueCodecContext): void {
  const mismatch = (): never => {
    throw new TypeError(`cannot encode a ${v.kind} value as ${formatType(t)}`);
  };
  switch (t.kind) {
    case 'null':
      return;
    case 'bool':
      if (v.kind !== 'bool') return mismatch();
      w.u8(v.value ? 1 : 0);
      return;
    case 'u8':
    case 'i8':
      if (v.kind !== 'int') return mismatch();
      w.u8(Number(v.value));
      return;
    case 'u16':
    case 'i16':
      if (v.kind !== 'int') return mismatch();
      w.u16(Number(v.value));
      return;
    case 'u32':
    case 'i32':
      if (v.kind !== 'int') return mismatch();
      w.u32(Number(v.value));
      return;
    case 'f32': {
      if (v.kind !== 'float') return mismatch();
      const dv = new DataView(new ArrayBuffer(4));
      dv.setFloat32(0, v.value, true);
      w.u32(dv.getUint32(0, true));
      return;
    }
    case 'u64':
    case 'i64':
    case 'usize':
    case 'isize':
      if (v.kind !== 'int') return mismatch();
      w.u64(BigInt(v.value));
      return;
    case 'f64': {
      if (v.kind !== 'float') return mismatch();
      const dv = new DataView(new ArrayBuffer(8));
      dv.setFloat64(0, v.value, true);
      w.u64(dv.getBigUint64(0, true));
      return;
    }
    case 'u128':
    case 'i128':
      if (v.kind !== 'int') return mismatch();
      w.u128(BigInt(v.value));
      return;
    case 'string':
      if (v.kind === 'cached-string') {
        w.u32(CACHED_STRING_MARK).u64(v.id);
        return;
      }
      if (v.kind !== 'string') return mismatch();
      {
        const bytes = textEncoder.encode(v.value);
        w.u32(bytes.length).str(bytes);
      }
      return;
    case 'heapref':
      if (v.kind !== 'heapref') return mismatch();
      if (occupiesBytes(t, ctx)) w.u64(v.id ?? 0);
      return;
    case 'borrowed':
      if (v.kind !== 'borrowed') return mismatch();
      if (ctx.dir === 'r2j') w.u64(v.id ?? 0);
      return;
    case 'callback':
      if (v.kind !== 'callback') return mismatch();
      if (ctx.features.callbackKeyWords === 2) w.u64(v.key);
      else w.u32(v.key);
      if (ctx.dir === 'r2j' && ctx.features.callbackPolicyWord) w.u32(v.policy ?? 0);
      return;
    case 'option':
      if (v.kind !== 'option') return mismatch();
      w.u8(v.value === null ? 0 : 1);
      if (v.value !== null) encodeValue(w, t.inner, v.value, ctx);
      return;
    case 'result':
      if (v.kind !== 'result') return mismatch();
      w.u8(v.ok ? 1 : 0);
      encodeValue(w, v.ok ? t.ok : t.err, v.value, ctx);
      return;
    case 'array':
      if (v.kind !== 'array') return mismatch();
      w.u32(v.items.length);
      v.items.forEach((item) => encodeValue(w, t.element, item, ctx));
      return;
    case 'u8clamped':
      if (v.kind !== 'clamped') return mismatch();
      w.u32(v.bytes.length).rawU8(v.bytes);
      return;
    case 'stringenum':
      if (v.kind !== 'enum') return mismatch();
      w.u32(v.index);
      return;
  }
}

/** Calls `visit` for every heap reference in a value, in wire (decode) order. */
export function forEachRef(v: Value, visit: (ref: Extract<Value, { kind: 'heapref' | 'borrowed' }>) => void): void {
  switch (v.kind) {
    case 'heapref':
    case 'borrowed':
      visit(v);
      return;
    case 'option':
      if (v.value) forEachRef(v.value, visit);
      return;
    case 'result':
      forEachRef(v.value, visit);
      return;
    case 'array':
      v.items.forEach((i) => forEachRef(i, visit));
      return;
    default:
      return;
  }
}

/** Calls `visit` for every callback value (Rust passing a closure to JS). */
export function forEachCallback(v: Value, visit: (cb: Extract<Value, { kind: 'callback' }>) => void): void {
  switch (v.kind) {
    case 'callback':
      visit(v);
      return;
    case 'option':
      if (v.value) forEachCallback(v.value, visit);
      return;
    case 'result':
      forEachCallback(v.value, visit);
      return;
    case 'array':
      v.items.forEach((i) => forEachCallback(i, visit));
      return;
    default:
      return;
  }
}
