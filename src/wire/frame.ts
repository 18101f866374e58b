import { BufferUnderrunError, InvalidHeaderError, type BufferName } from './errors.js';

export const HEADER_SIZE = 12;

/** Byte ranges of the four buffers of one message (wire §2). */
export interface FrameLayout {
  readonly u32Start: number;
  readonly u16Start: number;
  readonly u8Start: number;
  readonly strStart: number;
  readonly end: number;
}

/** Validates the 12-byte header exactly as the spec's "invalid header" rule says. */
export function parseFrameLayout(bytes: Uint8Array): FrameLayout {
  checkHeader(bytes);
  return { u32Start: HEADER_SIZE, u16Start: wordAt(bytes, 0), u8Start: wordAt(bytes, 4), strStart: wordAt(bytes, 8), end: bytes.length };
}

/** The little-endian u32 at byte `at` (the caller has checked that four bytes are there). */
function wordAt(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function checkHeader(bytes: Uint8Array): void {
  if (bytes.length < HEADER_SIZE) {
    throw new InvalidHeaderError(`message is ${bytes.length} bytes, shorter than the 12-byte header`, 0);
  }
  const u16Start = wordAt(bytes, 0);
  const u8Start = wordAt(bytes, 4);
  const strStart = wordAt(bytes, 8);
  const end = bytes.length;
  if (u16Start < HEADER_SIZE) invalidHeader(u16Start, u8Start, strStart, end, 'u16_offset is inside the header', 0);
  if (u8Start < u16Start) invalidHeader(u16Start, u8Start, strStart, end, 'u8_offset is before u16_offset', 4);
  if (strStart < u8Start) invalidHeader(u16Start, u8Start, strStart, end, 'str_offset is before u8_offset', 8);
  if (strStart > end) invalidHeader(u16Start, u8Start, strStart, end, 'str_offset is past the end of the message', 8);
  if ((u16Start - HEADER_SIZE) % 4 !== 0) invalidHeader(u16Start, u8Start, strStart, end, 'the u32 buffer is not a whole number of words', 0);
  if ((u8Start - u16Start) % 2 !== 0) invalidHeader(u16Start, u8Start, strStart, end, 'the u16 buffer has an odd length', 4);
  if (u8Start === strStart) invalidHeader(u16Start, u8Start, strStart, end, 'the u8 buffer is empty (no message-type byte)', 4);
}

function invalidHeader(u16Start: number, u8Start: number, strStart: number, end: number, why: string, at: number): never {
  throw new InvalidHeaderError(`invalid header (u16_offset=${u16Start} u8_offset=${u8Start} str_offset=${strStart}, length ${end}): ${why}`, at);
}

/**
 * Bounds-checked reader over one message: one cursor per buffer, and every read goes
 * through one check that names the buffer, the element index and the byte offset.
 * Nothing is allocated from a length read off the wire before that check. Numbers are
 * read straight off the bytes: a reader is made for every message, and nothing but its
 * cursors is allocated for it.
 */
export class FrameReader {
  private readonly u16Start: number;
  private readonly u8Start: number;
  private readonly strStart: number;
  private u32Index = 0;
  private u16Index = 0;
  private u8Index = 0;
  private strIndex = 0;
  readonly u32Count: number;
  readonly u16Count: number;
  readonly u8Count: number;
  readonly strCount: number;

  constructor(readonly bytes: Uint8Array) {
    checkHeader(bytes);
    this.u16Start = wordAt(bytes, 0);
    this.u8Start = wordAt(bytes, 4);
    this.strStart = wordAt(bytes, 8);
    this.u32Count = (this.u16Start - HEADER_SIZE) / 4;
    this.u16Count = (this.u8Start - this.u16Start) / 2;
    this.u8Count = this.strStart - this.u8Start;
    this.strCount = bytes.length - this.strStart;
  }

  /** Byte ranges of the four buffers. */
  get layout(): FrameLayout {
    return { u32Start: HEADER_SIZE, u16Start: this.u16Start, u8Start: this.u8Start, strStart: this.strStart, end: this.bytes.length };
  }

  /** Cursor positions, in elements, for error messages and for rewinding. */
  position(): ReaderPosition {
    return { u32: this.u32Index, u16: this.u16Index, u8: this.u8Index, str: this.strIndex };
  }

  restore(p: ReaderPosition): void {
    this.u32Index = p.u32;
    this.u16Index = p.u16;
    this.u8Index = p.u8;
    this.strIndex = p.str;
  }

  remaining(): ReaderPosition {
    return {
      u32: this.u32Count - this.u32Index,
      u16: this.u16Count - this.u16Index,
      u8: this.u8Count - this.u8Index,
      str: this.strCount - this.strIndex,
    };
  }

  /** Elements left in all four buffers together (what remaining() adds up, without the object). */
  remainingElements(): number {
    return this.u32Count - this.u32Index + (this.u16Count - this.u16Index) + (this.u8Count - this.u8Index) + (this.strCount - this.strIndex);
  }

  /** u32 words left. */
  remainingU32(): number {
    return this.u32Count - this.u32Index;
  }

  /** True when every buffer has been read to its end. */
  atEnd(): boolean {
    return this.u32Index === this.u32Count && this.u16Index === this.u16Count && this.u8Index === this.u8Count && this.strIndex === this.strCount;
  }

  hasMoreU32(): boolean {
    return this.u32Index < this.u32Count;
  }

  /** Byte offset in the message of the next element of a buffer. */
  byteOffsetOf(buffer: BufferName): number {
    switch (buffer) {
      case 'u32': return HEADER_SIZE + this.u32Index * 4;
      case 'u16': return this.u16Start + this.u16Index * 2;
      case 'u8': return this.u8Start + this.u8Index;
      case 'str': return this.strStart + this.strIndex;
    }
  }

  private underrun(buffer: BufferName, index: number, count: number, total: number, what: string): never {
    throw new BufferUnderrunError(what, buffer, index, count, total - index, this.byteOffsetOf(buffer));
  }

  u32(what = 'u32'): number {
    const i = this.u32Index;
    if (i + 1 > this.u32Count) this.underrun('u32', i, 1, this.u32Count, what);
    this.u32Index = i + 1;
    return wordAt(this.bytes, HEADER_SIZE + i * 4);
  }

  /** Peeks the next u32 word without consuming it. */
  peekU32(ahead = 0): number | undefined {
    const i = this.u32Index + ahead;
    if (i >= this.u32Count) return undefined;
    return wordAt(this.bytes, HEADER_SIZE + i * 4);
  }

  /** Two u32 words, low first, as a number (exact below 2^53: what the heap-ID readers do). */
  u64Number(what = 'u64'): number {
    const i = this.u32Index;
    if (i + 2 > this.u32Count) this.underrun('u32', i, 2, this.u32Count, what);
    this.u32Index = i + 2;
    const base = HEADER_SIZE + i * 4;
    return wordAt(this.bytes, base + 4) * 0x1_0000_0000 + wordAt(this.bytes, base);
  }

  /** Two u32 words, low first, as a bigint (exact). */
  u64(what = 'u64'): bigint {
    const i = this.u32Index;
    if (i + 2 > this.u32Count) this.underrun('u32', i, 2, this.u32Count, what);
    this.u32Index = i + 2;
    const base = HEADER_SIZE + i * 4;
    const hi = wordAt(this.bytes, base + 4);
    // Below 2^53 the number converts exactly: one bigint made instead of three.
    if (hi < 0x20_0000) return BigInt(hi * 0x1_0000_0000 + wordAt(this.bytes, base));
    return (BigInt(hi) << 32n) | BigInt(wordAt(this.bytes, base));
  }

  u128(what = 'u128'): bigint {
    const lo = this.u64(what);
    const hi = this.u64(what);
    return (hi << 64n) | lo;
  }

  u16(what = 'u16'): number {
    const i = this.u16Index;
    if (i + 1 > this.u16Count) this.underrun('u16', i, 1, this.u16Count, what);
    this.u16Index = i + 1;
    const at = this.u16Start + i * 2;
    return this.bytes[at]! | (this.bytes[at + 1]! << 8);
  }

  u8(what = 'u8'): number {
    const i = this.u8Index;
    if (i + 1 > this.u8Count) this.underrun('u8', i, 1, this.u8Count, what);
    this.u8Index = i + 1;
    return this.bytes[this.u8Start + i]!;
  }

  /** `count` raw bytes from the u8 buffer (a view, not a copy). */
  u8Bytes(count: number, what = 'bytes'): Uint8Array {
    const i = this.u8Index;
    if (i + count > this.u8Count) this.underrun('u8', i, count, this.u8Count, what);
    const start = this.u8Start + i;
    this.u8Index = i + count;
    return this.bytes.subarray(start, start + count);
  }

  /** `count` bytes from the str buffer (a view, not a copy). */
  strBytes(count: number, what = 'string bytes'): Uint8Array {
    const start = this.takeStr(count, what);
    return this.bytes.subarray(start, start + count);
  }

  /** Takes `count` bytes of the str buffer and gives the message offset of the first (no view made). */
  takeStr(count: number, what = 'string bytes'): number {
    const i = this.strIndex;
    if (i + count > this.strCount) this.underrun('str', i, count, this.strCount, what);
    this.strIndex = i + count;
    return this.strStart + i;
  }
}

export interface ReaderPosition {
  u32: number;
  u16: number;
  u8: number;
  str: number;
}

/**
 * Builds a message from four independently growing buffers, the way both peers'
 * encoders do, and lays them out behind the 12-byte header.
 */
export class FrameWriter {
  private u32Words: number[] = [];
  private u16Words: number[] = [];
  private u8Bytes: number[] = [];
  private strChunks: Uint8Array[] = [];
  private strLength = 0;

  get u32Length(): number {
    return this.u32Words.length;
  }

  u32(v: number): this {
    this.u32Words.push(v >>> 0);
    return this;
  }

  /** Inserts words at the front of the u32 buffer (a prelude added after the ops). */
  prependU32(words: readonly number[]): this {
    this.u32Words = [...words.map((w) => w >>> 0), ...this.u32Words];
    return this;
  }

  u64(v: bigint | number): this {
    const b = BigInt.asUintN(64, BigInt(v));
    this.u32Words.push(Number(b & 0xffffffffn), Number(b >> 32n));
    return this;
  }

  u128(v: bigint): this {
    const b = BigInt.asUintN(128, v);
    this.u64(b & 0xffffffffffffffffn);
    this.u64(b >> 64n);
    return this;
  }

  u16(v: number): this {
    this.u16Words.push(v & 0xffff);
    return this;
  }

  u8(v: number): this {
    this.u8Bytes.push(v & 0xff);
    return this;
  }

  rawU8(bytes: Uint8Array): this {
    for (const b of bytes) this.u8Bytes.push(b);
    return this;
  }

  str(bytes: Uint8Array): this {
    this.strChunks.push(bytes);
    this.strLength += bytes.length;
    return this;
  }

  finish(): Uint8Array {
    const u16Start = HEADER_SIZE + this.u32Words.length * 4;
    const u8Start = u16Start + this.u16Words.length * 2;
    const strStart = u8Start + this.u8Bytes.length;
    const out = new Uint8Array(strStart + this.strLength);
    const view = new DataView(out.buffer);
    view.setUint32(0, u16Start, true);
    view.setUint32(4, u8Start, true);
    view.setUint32(8, strStart, true);
    this.u32Words.forEach((w, i) => view.setUint32(HEADER_SIZE + i * 4, w, true));
    this.u16Words.forEach((w, i) => view.setUint16(u16Start + i * 2, w, true));
    out.set(this.u8Bytes, u8Start);
    let at = strStart;
    for (const chunk of this.strChunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}
