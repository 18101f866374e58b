/**
 * Strict standard base64 (RFC 4648 §4, alphabet `A-Z a-z 0-9 + /`, `=` padding required).
 * `Buffer.from(s, 'base64')` silently skips characters outside the alphabet and accepts
 * missing padding, which would turn a damaged record into wrong bytes; so validate first.
 */

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
