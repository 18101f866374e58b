/**
 * Memory for record payloads. Small ones share slabs (as Node's Buffer pool does for
 * Buffer.from), so a trace of millions of small messages costs few allocations; a large
 * one gets its own memory. A slab lives as long as any record cut from it.
 */

const SLAB_BYTES = 8 * 1024;
const SLAB_MAX_PIECE = SLAB_BYTES / 2;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** `n` bytes of fresh memory for one record's payload: a view into the current slab, or its own buffer. */
export function takeBytes(n: number): Uint8Array {
  if (n > SLAB_MAX_PIECE) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  // The constructor, not subarray: no species lookup, for one view per record.
  const piece = new Uint8Array(slab.buffer, slabUsed, n);
  // 8-byte aligned pieces: a DataView over one starts on a word boundary.
  slabUsed += (n + 7) & ~7;
  return piece;
}

/** A copy of `bytes[start, end)` in fresh memory (a plain Uint8Array, whatever `bytes` is). */
export function copyBytes(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const out = takeBytes(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}
