import type { FrameReader } from '../wire/frame.js';
import { WireError } from '../wire/errors.js';

/** Type definitions as they travel in a TYPE_FULL (wire §7). */
export type PrimitiveKind =
  | 'null'
  | 'bool'
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'u128'
  | 'i8'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'i128'
  | 'f32'
  | 'f64'
  | 'usize'
  | 'isize'
  | 'string'
  | 'heapref'
  | 'borrowed'
  | 'u8clamped';

export type TypeDef =
  | { readonly kind: PrimitiveKind }
  | { readonly kind: 'callback'; readonly params: readonly TypeDef[]; readonly ret: TypeDef }
  | { readonly kind: 'option'; readonly inner: TypeDef }
  | { readonly kind: 'result'; readonly ok: TypeDef; readonly err: TypeDef }
  | { readonly kind: 'array'; readonly element: TypeDef }
  | { readonly kind: 'stringenum'; readonly variants: readonly string[] };

export type CallbackType = Extract<TypeDef, { kind: 'callback' }>;

/** A function signature: what one TYPE_FULL defines. `bytes` is its exact encoding. */
export interface Signature {
  readonly params: readonly TypeDef[];
  readonly ret: TypeDef;
  readonly bytes: Uint8Array;
}

const PRIMITIVE_TAGS: readonly PrimitiveKind[] = [
  'null', 'bool', 'u8', 'u16', 'u32', 'u64', 'u128', 'i8', 'i16', 'i32', 'i64', 'i128',
  'f32', 'f64', 'usize', 'isize', 'string', 'heapref',
];
export const TAG = {
  callback: 0x12,
  option: 0x13,
  result: 0x14,
  array: 0x15,
  borrowed: 0x16,
  u8clamped: 0x17,
  stringenum: 0x18,
} as const;

/** Nesting deeper than this is refused: real signatures are a few levels deep. */
export const MAX_TYPE_DEPTH = 32;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

export function tagOf(kind: PrimitiveKind): number {
  if (kind === 'borrowed') return TAG.borrowed;
  if (kind === 'u8clamped') return TAG.u8clamped;
  return PRIMITIVE_TAGS.indexOf(kind);
}

/** Reads one type definition from the u8 buffer. */
export function readTypeDef(r: FrameReader, depth = 0): TypeDef {
  if (depth > MAX_TYPE_DEPTH) {
    throw new WireError(`type definition nested deeper than ${MAX_TYPE_DEPTH}`, r.byteOffsetOf('u8'), 'u8');
  }
  const at = r.byteOffsetOf('u8');
  const tag = r.u8('type tag');
  if (tag < PRIMITIVE_TAGS.length) return { kind: PRIMITIVE_TAGS[tag]! };
  switch (tag) {
    case TAG.callback: {
      const n = r.u8('callback parameter count');
      const params: TypeDef[] = [];
      for (let i = 0; i < n; i++) params.push(readTypeDef(r, depth + 1));
      return { kind: 'callback', params, ret: readTypeDef(r, depth + 1) };
    }
    case TAG.option:
      return { kind: 'option', inner: readTypeDef(r, depth + 1) };
    case TAG.result: {
      const ok = readTypeDef(r, depth + 1);
      return { kind: 'result', ok, err: readTypeDef(r, depth + 1) };
    }
    case TAG.array:
      return { kind: 'array', element: readTypeDef(r, depth + 1) };
    case TAG.borrowed:
      return { kind: 'borrowed' };
    case TAG.u8clamped:
      return { kind: 'u8clamped' };
    case TAG.stringenum: {
      const n = r.u8('string enum variant count');
      const variants: string[] = [];
      for (let i = 0; i < n; i++) {
        const lenBytes = r.u8Bytes(4, 'string enum variant length');
        const len = new DataView(lenBytes.buffer, lenBytes.byteOffset, 4).getUint32(0, true);
        // u8Bytes checks len against what is left before taking a view: no allocation from len.
        variants.push(utf8.decode(r.u8Bytes(len, 'string enum variant')));
      }
      return { kind: 'stringenum', variants };
    }
    default:
      throw new WireError(`unknown type tag 0x${tag.toString(16).padStart(2, '0')}`, at, 'u8');
  }
}

/** Reads `param_count ‖ params ‖ return` and keeps the exact bytes. */
export function readSignature(r: FrameReader): Signature {
  const start = r.byteOffsetOf('u8');
  const count = r.u8('parameter count');
  const params: TypeDef[] = [];
  for (let i = 0; i < count; i++) params.push(readTypeDef(r));
  const ret = readTypeDef(r);
  const end = r.byteOffsetOf('u8');
  return { params, ret, bytes: r.bytes.slice(start, end) };
}

/**
 * The bytes of a signature (`param_count ‖ params ‖ return`), as Rust builds them for its type
 * cache and writes them after TYPE_FULL. The one encoder of type definitions.
 */
export function signatureBytes(params: readonly TypeDef[], ret: TypeDef): Uint8Array {
  const out: number[] = [params.length];
  const push = (t: TypeDef): void => {
    switch (t.kind) {
      case 'callback':
        out.push(TAG.callback, t.params.length);
        t.params.forEach(push);
        push(t.ret);
        return;
      case 'option':
        out.push(TAG.option);
        push(t.inner);
        return;
      case 'result':
        out.push(TAG.result);
        push(t.ok);
        push(t.err);
        return;
      case 'array':
        out.push(TAG.array);
        push(t.element);
        return;
      case 'stringenum': {
        out.push(TAG.stringenum, t.variants.length & 0xff);
        for (const v of t.variants) {
          const b = encoder.encode(v);
          out.push(b.length & 0xff, (b.length >>> 8) & 0xff, (b.length >>> 16) & 0xff, b.length >>> 24);
          out.push(...b);
        }
        return;
      }
      default:
        out.push(tagOf(t.kind));
    }
  };
  params.forEach(push);
  push(ret);
  return Uint8Array.from(out);
}

export function makeSignature(params: readonly TypeDef[], ret: TypeDef): Signature {
  return { params, ret, bytes: signatureBytes(params, ret) };
}

/** Human notation: `(string) -> heapref`, `callback(&ref, heapref) -> null`. */
export function formatType(t: TypeDef): string {
  // Type definitions are immutable and interned with their signature: each is formatted once.
  let text = TYPE_TEXT.get(t);
  if (text === undefined) TYPE_TEXT.set(t, (text = formatTypeUncached(t)));
  return text;
}

const TYPE_TEXT = new WeakMap<TypeDef, string>();
const SIGNATURE_TEXT = new WeakMap<Pick<Signature, 'params' | 'ret'>, string>();

function formatTypeUncached(t: TypeDef): string {
  switch (t.kind) {
    case 'callback':
      return `fn(${t.params.map(formatType).join(', ')}) -> ${formatType(t.ret)}`;
    case 'option':
      return `Option<${formatType(t.inner)}>`;
    case 'result':
      return `Result<${formatType(t.ok)}, ${formatType(t.err)}>`;
    case 'array':
      return `Vec<${formatType(t.element)}>`;
    case 'stringenum':
      return `enum{${t.variants.join('|')}}`;
    case 'heapref':
      return 'JsValue';
    case 'borrowed':
      return '&JsValue';
    case 'string':
      return 'String';
    case 'null':
      return '()';
    case 'u8clamped':
      return 'Clamped<u8>';
    default:
      return t.kind;
  }
}

export function formatSignature(s: Pick<Signature, 'params' | 'ret'>): string {
  let text = SIGNATURE_TEXT.get(s);
  if (text === undefined) SIGNATURE_TEXT.set(s, (text = `(${s.params.map(formatType).join(', ')}) -> ${formatType(s.ret)}`));
  return text;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Hex of short byte strings already formatted, by identity: an interned signature is formatted once. */
const HEX_CACHE = new WeakMap<Uint8Array, string>();
const HEX_CACHE_MAX_BYTES = 1024;
const HEX_DIGITS = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** `de ad be ef`: bytes as space-separated hex pairs. */
export function hex(bytes: Uint8Array): string {
  const cached = HEX_CACHE.get(bytes);
  if (cached !== undefined) return cached;
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += i === 0 ? HEX_DIGITS[bytes[i]!]! : ` ${HEX_DIGITS[bytes[i]!]!}`;
  if (bytes.length <= HEX_CACHE_MAX_BYTES) HEX_CACHE.set(bytes, text);
  return text;
}

/** hex() of at most the first 256 bytes, with how many more there are: for one-line messages. */
export function shortHex(bytes: Uint8Array, max = 256): string {
  if (bytes.length <= max) return hex(bytes);
  return `${hex(bytes.subarray(0, max))} … (${bytes.length - max} more bytes)`;
}

export { utf8, utf8Strict };
