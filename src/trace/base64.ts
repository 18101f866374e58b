/**
 * Strict standard base64 (RFC 4648 §4, alphabet `A-Z a-z 0-9 + /`, `=` padding required).
 * `Buffer.from(s, 'base64')` silently skips characters outside the alphabet and accepts
 * missing padding, which would turn a damaged record into wrong bytes; so validate first.
 */

import { takeBytes } from './bytes.js';

/** Value of each ASCII code in the standard alphabet, -1 for anything else (including `=`). */
const ALPHABET_VALUE: Int8Array = buildAlphabet();

function buildAlphabet(): Int8Array {
  const values = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
}

const PAD = 0x3d; // '='

export type Base64Result = { ok: true; bytes: Uint8Array } | { ok: false; error: string };

/**
 * Decodes `text` as strict base64. Errors name the field and, where one character is to
 * blame, its 1-based position in the value, e.g. `invalid base64 in data at character 17`.
 * Rules, checked in this order: every character before the padding is in the alphabet;
 * the length is a multiple of 4; the bits the padding leaves unused are zero (so each byte
 * string has exactly one accepted encoding).
 */
export function decodeStrictBase64(text: string, field: string): Base64Result {
  const n = text.length;
  let pad = 0;
  if (n > 0 && text.charCodeAt(n - 1) === PAD) pad = n > 1 && text.charCodeAt(n - 2) === PAD ? 2 : 1;
  for (let i = 0; i < n - pad; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || ALPHABET_VALUE[c] < 0) {
      return { ok: false, error: `invalid base64 in ${field} at character ${i + 1}` };
    }
  }
  if (n % 4 !== 0) {
    return { ok: false, error: `invalid base64 in ${field}: length ${n} is not a multiple of 4 (missing or extra padding)` };
  }
  if (pad > 0) {
    // The last character before the padding carries 2 (pad=2) or 4 (pad=1) meaningful bits.
    const last = n - pad - 1;
    const unusedMask = pad === 2 ? 0x0f : 0x03;
    if ((ALPHABET_VALUE[text.charCodeAt(last)] & unusedMask) !== 0) {
      return { ok: false, error: `invalid base64 padding in ${field}: unused bits of character ${last + 1} are not zero` };
    }
  }
  const decoded = Buffer.from(text, 'base64');
  // A plain Uint8Array view (no copy), so records compare equal whichever container they came from.
  return { ok: true, bytes: new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength) };
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * The fast path of decodeStrictBase64: decodes the ASCII bytes `src[start, end)` straight
 * into fresh memory, without building a string. Returns undefined for anything
 * decodeStrictBase64 would reject (the caller then asks it for the exact message).
 */
export function decodeStrictBase64Bytes(src: Uint8Array, start: number, end: number): Uint8Array | undefined {
  const n = end - start;
  if (n % 4 !== 0) return undefined;
  if (n === 0) return new Uint8Array(0);
  let pad = 0;
  if (src[end - 1] === PAD) pad = src[end - 2] === PAD ? 2 : 1;
  const out = takeBytes((n / 4) * 3 - pad);
  const whole = end - (pad > 0 ? 4 : 0);
  let o = 0;
  let i = start;
  for (; i < whole; i += 4) {
    const a = src[i]!;
    const b = src[i + 1]!;
    const c = src[i + 2]!;
    const d = src[i + 3]!;
    // Bytes >= 128 index past the table (undefined | 0 = 0 is not enough: check the OR of raw bytes).
    if ((a | b | c | d) >= 128) return undefined;
    const va = ALPHABET_VALUE[a]!;
    const vb = ALPHABET_VALUE[b]!;
    const vc = ALPHABET_VALUE[c]!;
    const vd = ALPHABET_VALUE[d]!;
    if ((va | vb | vc | vd) < 0) return undefined;
    const bits = (va << 18) | (vb << 12) | (vc << 6) | vd;
    out[o++] = bits >>> 16;
    out[o++] = (bits >>> 8) & 0xff;
    out[o++] = bits & 0xff;
  }
  if (pad > 0) {
    const a = src[i]!;
    const b = src[i + 1]!;
    const c = pad === 1 ? src[i + 2]! : 0x41; // 'A' = 0 stands in for the padded character
    if ((a | b | c) >= 128) return undefined;
    const va = ALPHABET_VALUE[a]!;
    const vb = ALPHABET_VALUE[b]!;
    const vc = ALPHABET_VALUE[c]!;
    if ((va | vb | vc) < 0) return undefined;
    // The bits the padding leaves unused must be zero (one accepted encoding per byte string).
    if (pad === 2 ? (vb & 0x0f) !== 0 : (vc & 0x03) !== 0) return undefined;
    const bits = (va << 18) | (vb << 12) | (vc << 6);
    out[o++] = bits >>> 16;
    if (pad === 1) out[o++] = (bits >>> 8) & 0xff;
  }
  return out;
}
