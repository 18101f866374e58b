/**
 * CRC-32 (IEEE 802.3; the one of zlib, gzip and PNG): reflected polynomial 0xEDB88320,
 * initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Check value: crc32("123456789") = 0xCBF43926.
 * Node 20 before 20.15 has no zlib.crc32, so this table-driven one stands in for it there.
 */

import * as zlib from 'node:zlib';

const CRC_TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** zlib's native crc32 where this Node has it (20.15 and later). */
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes[start, end)`, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (nativeCrc32 !== undefined && end - start >= 64) {
    return nativeCrc32(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), 0) >>> 0;
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Continues a CRC-32: `crc32Update(crc32Update(0, a), b)` is the CRC-32 of `a` followed by `b` (zlib's crc32(data, value)). */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  if (nativeCrc32 !== undefined) return nativeCrc32(bytes, crc) >>> 0;
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
