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
  return layoutOf(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function layoutOf(bytes: Uint8Array, view: DataView): FrameLayout {
  if (bytes.length < HEADER_SIZE) {
    throw new InvalidHeaderError(`message is ${bytes.length} bytes, shorter than the 12-byte header`, 0);
  }
  const u16Start = view.getUint32(0, true);
  const u8Start = view.getUint32(4, true);
  const strStart = view.getUint32(8, true);
  const end = bytes.length;
  if (u16Start < HEADER_SIZE) invalidHeader(u16Start, u8Start, strStart, end, 'u16_offset is inside the header', 0);
  if (u8Start < u16Start) invalidHeader(u16Start, u8Start, strStart, end, 'u8_offset is before u16_offset', 4);
  if (strStart < u8Start) invalidHeader(u16Start, u8Start, strStart, end, 'str_offset is before u8_offset', 8);
  if (strStart > end) invalidHeader(u16Start, u8Start, strStart, end, 'str_offset is past the end of the message', 8);
  if ((u16Start - HEADER_SIZE) % 4 !== 0) invalidHeader(u16Start, u8Start, strStart, end, 'the u32 buffer is not a whole number of words', 0);
  if ((u8Start - u16Start) % 2 !== 0) invalidHeader(u16Start, u8Start, strStart, end, 'the u16 buffer has an odd length', 4);
  if (u8Start === strStart) invalidHeader(u16Start, u8Start, strStart, end, 'the u8 buffer is empty (no message-type byte)', 4);
  return { u32Start: HEADER_SIZE, u16Start, u8Start, strStart, end };
}

function invalidHeader(u16Start: number, u8Start: number, strStart: number, end: number, why: string, at: number): never {
  throw new InvalidHeaderError(`invalid header (u16_offset=${u16Start} u8_offset=${u8Start} str_offset=${strStart}, length ${end}): ${why}`, at);
}

/**
 * Bounds-checked reader over one message: one cursor per buffer, and every read goes
 * through one check that names the buffer, the element index and the byte offset.
 * Nothing is allocated from a length read off the wire before that check.
 */
export class FrameReader {
  readonly layout: FrameLayout;
  private readonly view: DataView;
  private u32Index = 0;
  private u16Index = 0;
  private u8Index = 0;
  private strIndex = 0;
  readonly u32Count: number;
  readonly u16Count: number;
  readonly u8Count: number;
  readonly strCount: number;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.layout = layoutOf(bytes, this.view);
    const l = this.layout;
    this.u32Count = (l.u16Start - l.u32Start) / 4;
    this.u16Count = (l.u8Start - l.u16Start) / 2;
    this.u8Count = l.strStart - l.u8Start;
    this.strCount = l.end - l.strStart;
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

  hasMoreU32(): boolean {
    return this.u32Index < this.u32Count;
  }

  /** Byte offset in the message of the next element of a buffer. */
  byteOffsetOf(buffer: BufferName): number {
    const l = this.layout;
    switch (buffer) {
      case 'u32': return l.u32Start + this.u32Index * 4;
      case 'u16': return l.u16Start + this.u16Index * 2;
      case 'u8': return l.u8Start + this.u8Index;
      case 'str': return l.strStart + this.strIndex;
    }
  }

  private need(buffer: BufferName, index: number, count: number, total: number, what: string): void {
    if (index + count > total) {
      throw new BufferUnderrunError(what, buffer, index, count, total - index, this.byteOffsetOf(buffer));
    }
  }

  u32(what = 'u32'): number {
    this.need('u32', this.u32Index, 1, this.u32Count, what);
    const v = this.view.getUint32(this.layout.u32Start + this.u32Index * 4, true);
    this.u32Index += 1;
    return v;
  }

  /** Peeks the next u32 word without consuming it. */
  peekU32(ahead = 0): number | undefined {
    const i = this.u32Index + ahead;
    if (i >= this.u32Count) return undefined;
    return this.view.getUint32(this.layout.u32Start + i * 4, true);
  }

  /** Two u32 words, low first, as a bigint (exact). */
  u64(what = 'u64'): bigint {
    this.need('u32', this.u32Index, 2, this.u32Count, what);
    const base = this.layout.u32Start + this.u32Index * 4;
    const lo = this.view.getUint32(base, true);
    const hi = this.view.getUint32(base + 4, true);
    this.u32Index += 2;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  u128(what = 'u128'): bigint {
    const lo = this.u64(what);
    const hi = this.u64(what);
    return (hi << 64n) | lo;
  }

  u16(what = 'u16'): number {
    this.need('u16', this.u16Index, 1, this.u16Count, what);
    const v = this.view.getUint16(this.layout.u16Start + this.u16Index * 2, true);
    this.u16Index += 1;
    return v;
  }

  u8(what = 'u8'): number {
    this.need('u8', this.u8Index, 1, this.u8Count, what);
    const v = this.bytes[this.layout.u8Start + this.u8Index]!;
    this.u8Index += 1;
    return v;
  }

  /** `count` raw bytes from the u8 buffer (a view, not a copy). */
  u8Bytes(count: number, what = 'bytes'): Uint8Array {
    this.need('u8', this.u8Index, count, this.u8Count, what);
    const start = this.layout.u8Start + this.u8Index;
    this.u8Index += count;
    return this.bytes.subarray(start, start + count);
  }

  /** `count` bytes from the str buffer (a view, not a copy). */
  strBytes(count: number, what = 'string bytes'): Uint8Array {
    this.need('str', this.strIndex, count, this.strCount, what);
    const start = this.layout.strStart + this.strIndex;
    this.strIndex += count;
    return this.bytes.subarray(start, start + count);
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
