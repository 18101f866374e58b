/**
 * The `.btrace` binary container: a file header, then self-delimiting frames, each with a
 * sync marker, a length and a CRC-32, so a damaged frame costs one BadRecord and reading
 * resumes at the next intact frame. Byte-by-byte layout: docs/binary-container.md.
 */

import { copyBytes } from './bytes.js';
import { crc32 } from './crc32.js';
import {
  badRecord,
  ctxProblem,
  type CtxCache,
  MAX_CTX_BYTES,
  MAX_MESSAGE_BYTES,
  messageRecordProblem,
  metaFromFields,
  metaRecordProblem,
  type Salvage,
} from './fields.js';
import type { Direction, MessageRecord, MetaRecord, RecordLocation, Side, TraceRecord } from './record.js';

/** `\x89 B T R C \r \n \x1a`: a non-ASCII first byte keeps it from passing for text; CR LF and ^Z catch text-mode mangling. */
export const BINARY_MAGIC: Uint8Array = Uint8Array.of(0x89, 0x42, 0x54, 0x52, 0x43, 0x0d, 0x0a, 0x1a);
export const BINARY_FORMAT_VERSION = 1;
/** `\xfb B T F` at the start of every frame. 0xFB never occurs in UTF-8 text. */
export const FRAME_SYNC: Uint8Array = Uint8Array.of(0xfb, 0x42, 0x54, 0x46);
/** Longest protocol revision name the file header holds; a longer or unknown one is stored as empty. */
export const MAX_HEADER_REV_BYTES = 64;

const HEADER_FIXED_BYTES = 12; // magic, version, side, rev length
const HEADER_CRC_BYTES = 4;
const FRAME_PREFIX_BYTES = 8; // sync marker, payload length
const FRAME_CRC_BYTES = 4;
/** kind, flags, dir, side, seq, t, ctx length. */
export const PAYLOAD_FIXED_BYTES = 22;
/**
 * Largest payload a frame may declare: the largest message plus 64 KiB for the fixed part and
 * the ctx. Checked before anything is buffered for the frame. A meta record (at most 1 MiB of
 * keys and values and 4096 fields) always fits.
 */
export const MAX_FRAME_PAYLOAD = MAX_MESSAGE_BYTES + 64 * 1024;

const KIND_MESSAGE = 1;
const KIND_META = 2;
const FLAG_SEQ = 0x01;
const FLAG_T = 0x02;
const FLAG_CTX = 0x04;
const FLAGS_KNOWN = FLAG_SEQ | FLAG_T | FLAG_CTX;

export type RecordingSide = 'rust' | 'js' | 'both' | 'unknown';

/** What the file header says. Informative only: the meta frames are what count (see the doc). */
export interface BinaryTraceHeader {
  version: number;
  /** Protocol revision name, `''` when the writer did not know it. */
  rev: string;
  side: RecordingSide;
}

const RECORDING_SIDES: readonly RecordingSide[] = ['unknown', 'rust', 'js', 'both'];
const DIRECTIONS: readonly (Direction | undefined)[] = [undefined, 'r2j', 'j2r'];
const SIDES: readonly (Side | undefined)[] = [undefined, 'rust', 'js'];

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * Whether the first bytes are the magic, allowing two damaged bytes: a flipped bit in the
 * magic should cost a bad record, not turn the whole file into "text without records".
 * Text never comes close: its first byte is not 0x89 and it rarely holds CR LF ^Z together.
 */
export function looksLikeBinaryTrace(head: Uint8Array): boolean {
  if (head.length < BINARY_MAGIC.length) return false;
  let matching = 0;
  for (let i = 0; i < BINARY_MAGIC.length; i++) if (head[i] === BINARY_MAGIC[i]) matching++;
  return matching >= BINARY_MAGIC.length - 2;
}

/** Why `rev` cannot go in a file header, or undefined: up to 64 printable ASCII characters, no spaces. */
export function headerRevProblem(rev: string): string | undefined {
  if (rev.length > MAX_HEADER_REV_BYTES) return `header rev longer than ${MAX_HEADER_REV_BYTES} characters`;
  if (!/^[\x21-\x7e]*$/.test(rev)) return 'header rev must be printable ASCII without spaces';
  return undefined;
}

export function encodeHeader(header: { rev?: string; side?: RecordingSide }): Uint8Array {
  const rev = header.rev ?? '';
  const revProblem = headerRevProblem(rev);
  if (revProblem !== undefined) throw new RangeError(revProblem);
  const sideCode = RECORDING_SIDES.indexOf(header.side ?? 'unknown');
  if (sideCode < 0) throw new RangeError(`bad recording side ${JSON.stringify(header.side)}`);
  const bytes = Buffer.alloc(HEADER_FIXED_BYTES + rev.length + HEADER_CRC_BYTES);
  bytes.set(BINARY_MAGIC, 0);
  bytes.writeUInt16LE(BINARY_FORMAT_VERSION, 8);
  bytes[10] = sideCode;
  bytes[11] = rev.length;
  bytes.write(rev, HEADER_FIXED_BYTES, 'latin1');
  const crcAt = HEADER_FIXED_BYTES + rev.length;
  bytes.writeUInt32LE(crc32(bytes, 0, crcAt), crcAt);
  return bytes;
}

function writeU64(bytes: Buffer, value: number, at: number): void {
  bytes.writeUInt32LE(value % 0x1_0000_0000, at);
  bytes.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

/** u64 little-endian as a number, or undefined above 2^53 - 1. */
function readU64(bytes: Buffer, at: number): number | undefined {
  const low = u32le(bytes, at);
  const high = u32le(bytes, at + 4);
  if (high > 0x1f_ffff) return undefined;
  return high * 0x1_0000_0000 + low;
}

/** The little-endian u32 at `at` (the caller knows four bytes are there): byte arithmetic, without readUInt32LE's checks. */
function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** One record as a complete frame. Throws TypeError for a record the readers would reject. */
export function encodeFrame(record: MessageRecord | MetaRecord): Uint8Array {
  const problem = record.kind === 'meta' ? metaRecordProblem(record) : messageRecordProblem(record);
  if (problem !== undefined) throw new TypeError(`cannot write record: ${problem}`);
  let payloadLength = PAYLOAD_FIXED_BYTES;
  let ctx: Buffer | undefined;
  let fields: Array<readonly [Buffer, Buffer]> = [];
  if (record.kind === 'message') {
    if (record.ctx !== undefined) ctx = Buffer.from(record.ctx, 'utf8');
    payloadLength += (ctx?.length ?? 0) + record.data.byteLength;
  } else {
    fields = record.fields.map(([key, value]) => [Buffer.from(key, 'utf8'), Buffer.from(value, 'utf8')] as const);
    payloadLength += 4;
    for (const [key, value] of fields) payloadLength += 8 + key.length + value.length;
  }
  if (payloadLength > MAX_FRAME_PAYLOAD) throw new RangeError(`record needs a ${payloadLength}-byte frame payload (maximum ${MAX_FRAME_PAYLOAD})`);

  const frame = Buffer.alloc(FRAME_PREFIX_BYTES + payloadLength + FRAME_CRC_BYTES);
  frame.set(FRAME_SYNC, 0);
  frame.writeUInt32LE(payloadLength, 4);
  const p = FRAME_PREFIX_BYTES; // payload start
  if (record.kind === 'message') {
    frame[p] = KIND_MESSAGE;
    frame[p + 1] = (record.seq !== undefined ? FLAG_SEQ : 0) | (record.t !== undefined ? FLAG_T : 0) | (ctx ? FLAG_CTX : 0);
    frame[p + 2] = DIRECTIONS.indexOf(record.dir);
    frame[p + 3] = record.side === undefined ? 0 : SIDES.indexOf(record.side);
    writeU64(frame, record.seq ?? 0, p + 4);
    writeU64(frame, record.t ?? 0, p + 12);
    let at = p + PAYLOAD_FIXED_BYTES;
    if (ctx) {
      frame.writeUInt16LE(ctx.length, p + 20);
      frame.set(ctx, at);
      at += ctx.length;
    }
    frame.set(record.data, at);
  } else {
    frame[p] = KIND_META; // flags, dir, side, seq, t and ctx length stay zero: a meta frame keeps everything in its fields
    let at = p + PAYLOAD_FIXED_BYTES;
    frame.writeUInt32LE(fields.length, at);
    at += 4;
    for (const [key, value] of fields) {
      frame.writeUInt32LE(key.length, at);
      frame.set(key, at + 4);
      at += 4 + key.length;
      frame.writeUInt32LE(value.length, at);
      frame.set(value, at + 4);
      at += 4 + value.length;
    }
  }
  const crcAt = FRAME_PREFIX_BYTES + payloadLength;
  frame.writeUInt32LE(crc32(frame, 4, crcAt), crcAt);
  return frame;
}

/**
 * Decodes the payload of a frame whose CRC matched, `buf[start, end)`: read in place, so the
 * common frame costs no view of its own. Content that breaks the rules gives a BadRecord.
 */
export function decodePayload(buf: Buffer, start: number, end: number, loc: RecordLocation, cache?: CtxCache): TraceRecord {
  const kind = buf[start];
  const flags = buf[start + 1];
  const bad = (why: string): TraceRecord => badPayload(buf.subarray(start, end), loc, why);
  if (kind !== KIND_MESSAGE && kind !== KIND_META) return bad(`unknown record kind ${kind}`);
  if ((flags & ~FLAGS_KNOWN) !== 0) return bad(`reserved flag bits set (flags 0x${flags.toString(16).padStart(2, '0')})`);
  const ctxLength = buf.readUInt16LE(start + 20);
  const bodyStart = start + PAYLOAD_FIXED_BYTES + ctxLength;

  if (kind === KIND_META) {
    for (let i = 1; i < PAYLOAD_FIXED_BYTES; i++) {
      if (buf[start + i] !== 0) return bad(`meta frame has a non-zero byte at payload offset ${i} (meta keeps everything in its fields)`);
    }
    return decodeMetaFields(buf.subarray(start, end), PAYLOAD_FIXED_BYTES, loc);
  }

  const dir = DIRECTIONS[buf[start + 2]];
  if (dir === undefined) return bad(`bad dir code ${buf[start + 2]}`);
  const sideCode = buf[start + 3];
  if (sideCode >= SIDES.length) return bad(`bad side code ${sideCode}`);
  const seq = readU64(buf, start + 4);
  const t = readU64(buf, start + 12);
  if (seq === undefined) return bad('seq larger than 2^53 - 1');
  if (t === undefined) return bad('t larger than 2^53 - 1');
  if (!(flags & FLAG_SEQ) && seq !== 0) return bad('seq bytes set without the seq flag');
  if (!(flags & FLAG_T) && t !== 0) return bad('t bytes set without the t flag');
  if (!(flags & FLAG_CTX) && ctxLength !== 0) return bad('ctx length set without the ctx flag');
  if (flags & FLAG_CTX && ctxLength === 0) return bad('empty ctx value');
  if (ctxLength > MAX_CTX_BYTES) return bad(`ctx length ${ctxLength} exceeds the maximum ${MAX_CTX_BYTES}`);
  if (bodyStart > end) return bad(`ctx length ${ctxLength} runs past the end of the frame`);
  let ctx: string | undefined;
  if (flags & FLAG_CTX) {
    const ctxStart = start + PAYLOAD_FIXED_BYTES;
    ctx = cachedCtx(buf, ctxStart, bodyStart, cache);
    if (ctx === undefined) {
      const text = decodeUtf8(buf, ctxStart, bodyStart);
      if (text === undefined) return bad('ctx is not valid UTF-8');
      const why = ctxProblem(text);
      if (why !== undefined) return bad(why);
      ctx = text;
      if (cache) {
        cache.ctxBytes = Buffer.from(buf.subarray(ctxStart, bodyStart));
        cache.ctx = text;
      }
    }
  }
  const dataLength = end - bodyStart;
  if (dataLength > MAX_MESSAGE_BYTES) return bad(`message of ${dataLength} bytes exceeds the maximum ${MAX_MESSAGE_BYTES}`);
  // A copy (the read window is reused), drawn from shared slabs: far cheaper than one ArrayBuffer each.
  const record: MessageRecord = { kind: 'message', dir, data: copyBytes(buf, bodyStart, end), loc };
  const side = SIDES[sideCode];
  if (side !== undefined) record.side = side;
  if (flags & FLAG_SEQ) record.seq = seq;
  if (flags & FLAG_T) record.t = t;
  if (ctx !== undefined) record.ctx = ctx;
  return record;
}

/** A frame whose payload does not make a record: what could still be read of it, to place it. */
function badPayload(payload: Buffer, loc: RecordLocation, message: string): TraceRecord {
  return badRecord(message, loc, salvagePayload(payload));
}

/** The cached label if `bytes[start, end)` are its bytes, else undefined. */
function cachedCtx(bytes: Buffer, start: number, end: number, cache: CtxCache | undefined): string | undefined {
  if (cache === undefined) return undefined;
  const known = cache.ctxBytes;
  if (known.length !== end - start || known.length === 0) return undefined;
  for (let i = 0; i < known.length; i++) if (known[i] !== bytes[start + i]) return undefined;
  return cache.ctx;
}

function decodeUtf8(bytes: Buffer, start: number, end: number): string | undefined {
  try {
    return utf8Strict.decode(bytes.subarray(start, end));
  } catch {
    return undefined;
  }
}

function decodeMetaFields(payload: Buffer, start: number, loc: RecordLocation): TraceRecord {
  const truncated = (what: string): TraceRecord => badRecord(`meta frame ends inside ${what}`, loc);
  if (start + 4 > payload.length) return truncated('the field count');
  const count = payload.readUInt32LE(start);
  // Each field needs at least 8 bytes, which bounds the count before anything is allocated.
  if (count * 8 > payload.length - start - 4) return badRecord(`meta field count ${count} does not fit in the frame`, loc);
  const fields: Array<readonly [string, string]> = [];
  let at = start + 4;
  for (let i = 0; i < count; i++) {
    const parts: string[] = [];
    for (const what of ['key', 'value'] as const) {
      if (at + 4 > payload.length) return truncated(`the length of field ${i + 1}'s ${what}`);
      const length = payload.readUInt32LE(at);
      if (length > payload.length - at - 4) return truncated(`field ${i + 1}'s ${what}`);
      const text = decodeUtf8(payload, at + 4, at + 4 + length);
      if (text === undefined) return badRecord(`meta field ${i + 1}'s ${what} is not valid UTF-8`, loc);
      parts.push(text);
      at += 4 + length;
    }
    fields.push([parts[0], parts[1]]);
  }
  if (at !== payload.length) return badRecord(`${payload.length - at} stray bytes after the meta fields`, loc);
  return metaFromFields(fields, loc);
}

/** Best-effort dir/side/seq/ctx from a payload that may be damaged, to place a bad record in its conversation. */
function salvagePayload(payload: Buffer): Salvage {
  if (payload.length < PAYLOAD_FIXED_BYTES || payload[0] !== KIND_MESSAGE) return {};
  const flags = payload[1];
  const salvage: Salvage = { dir: DIRECTIONS[payload[2]], side: SIDES[payload[3]] };
  if (flags & FLAG_SEQ) salvage.seq = readU64(payload, 4);
  const ctxLength = payload.readUInt16LE(20);
  if (flags & FLAG_CTX && ctxLength > 0 && PAYLOAD_FIXED_BYTES + ctxLength <= payload.length) {
    const ctx = decodeUtf8(payload, PAYLOAD_FIXED_BYTES, PAYLOAD_FIXED_BYTES + ctxLength);
    if (ctx !== undefined && ctxProblem(ctx) === undefined) salvage.ctx = ctx;
  }
  return salvage;
}

/**
 * Unconsumed input bytes in one contiguous buffer (so a frame and a sync-marker search
 * never straddle chunks), filled from the chunk iterator on demand. Capacity grows to the
 * largest frame seen and shrinks back once that frame is consumed.
 */
class InputWindow {
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_WINDOW);
  private start = 0;
  private end = 0;
  private exhausted = false;
  /** Stream offset of the first unconsumed byte. */
  offset = 0;

  constructor(private readonly chunks: AsyncIterator<Uint8Array | string>) {}

  get length(): number {
    return this.end - this.start;
  }

  /** True once the source has no more chunks. */
  get ended(): boolean {
    return this.exhausted;
  }

  /** Pulls chunks until at least `n` bytes are buffered; false if the input ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.exhausted) {
      const next = await this.chunks.next();
      if (next.done) this.exhausted = true;
      else this.append(typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value);
    }
    return this.length >= n;
  }

  /** View of buffered bytes [from, to) relative to the first unconsumed byte; valid until the next fill. */
  view(from: number, to: number): Buffer {
    return this.buf.subarray(this.start + from, this.start + to);
  }

  /** CRC-32 of buffered bytes [from, to), relative to the first unconsumed byte. */
  crc32(from: number, to: number): number {
    return crc32(this.buf, this.start + from, this.start + to);
  }

  /** decodePayload over buffered bytes [from, to), relative to the first unconsumed byte. */
  decodePayload(from: number, to: number, loc: RecordLocation, cache: CtxCache | undefined): TraceRecord {
    return decodePayload(this.buf, this.start + from, this.start + to, loc, cache);
  }

  byteAt(index: number): number {
    return this.buf[this.start + index];
  }

  u32At(index: number): number {
    return u32le(this.buf, this.start + index);
  }

  /** True if the buffered bytes from `index` begin with `prefix` (or with as much of it as is buffered). */
  startsWith(prefix: Uint8Array, index = 0): boolean {
    const n = Math.min(prefix.length, this.length - index);
    for (let i = 0; i < n; i++) if (this.buf[this.start + index + i] !== prefix[i]) return false;
    return true;
  }

  indexOf(needle: Uint8Array, from: number): number {
    return this.view(0, this.length).indexOf(needle, from);
  }

  /** Lets the source release its resources (a file stream closes its descriptor). */
  async close(): Promise<void> {
    await this.chunks.return?.();
  }

  consume(n: number): void {
    this.start += n;
    this.offset += n;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > SHRINK_ABOVE) this.buf = Buffer.allocUnsafe(INITIAL_WINDOW);
    }
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const needed = this.length + chunk.length;
      if (needed <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(needed, this.buf.length * 2));
        this.buf.copy(grown, 0, this.start, this.end);
        this.buf = grown;
      }
      this.end = this.length;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
}

const INITIAL_WINDOW = 256 * 1024;
const SHRINK_ABOVE = 4 * 1024 * 1024;

export interface BinaryReaderOptions {
  /** Called once, before the first record, with the file header (undefined if it is damaged). */
  onHeader?: (header: BinaryTraceHeader | undefined) => void;
  /** Overrides MAX_FRAME_PAYLOAD downwards (tests). */
  maxFramePayload?: number;
}

type FrameAttempt =
  | { status: 'end' }
  | { status: 'intact'; size: number; record: TraceRecord }
  | { status: 'damaged'; reason: string; salvage: Salvage };

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Reads a `.btrace` byte stream (already decompressed). Yields records in order; every
 * damaged stretch of input (bad header, garbage, failed CRC, impossible length, truncated
 * tail) gives exactly one BadRecord at the offset where it starts, then reading resumes at
 * the next intact frame. Never throws for bad content.
 */
export async function* readBinaryRecords(
  chunks: AsyncIterable<Uint8Array | string>,
  input: string,
  options: BinaryReaderOptions = {},
): AsyncGenerator<TraceRecord> {
  for await (const batch of readBinaryBatches(chunks, input, options)) yield* batch;
}

/**
 * readBinaryRecords in batches: every record of the frames already buffered comes out in
 * one array, so a consumer pays one await per chunk of input rather than one per record.
 * Each array is handed over: the reader never touches it again.
 */
export async function* readBinaryBatches(
  chunks: AsyncIterable<Uint8Array | string>,
  input: string,
  options: BinaryReaderOptions = {},
): AsyncGenerator<TraceRecord[]> {
  const maxPayload = Math.min(options.maxFramePayload ?? MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD);
  const window = new InputWindow(chunks[Symbol.asyncIterator]());
  const at = (offset: number): RecordLocation => ({ input, offset });
  let damage: { offset: number; reason: string; salvage: Salvage } | undefined;
  let headerReported = false;
  const reportHeader = (header: BinaryTraceHeader | undefined): void => {
    if (!headerReported) options.onHeader?.(header);
    headerReported = true;
  };

  let batch: TraceRecord[] = [];
  const ctxCache: CtxCache = { ctxBytes: Buffer.alloc(0), ctx: '' };
  try {
    // File header.
    await window.fill(HEADER_FIXED_BYTES);
    if (window.length === 0) {
      reportHeader(undefined);
      return;
    }
    const exactMagic = window.startsWith(BINARY_MAGIC) && window.length >= BINARY_MAGIC.length;
    if (!exactMagic && !looksLikeBinaryTrace(window.view(0, Math.min(window.length, BINARY_MAGIC.length)))) {
      reportHeader(undefined);
      yield [badRecord('not a .btrace file: wrong magic bytes', at(0))];
      return;
    }
    if (!exactMagic) {
      damage = { offset: 0, reason: 'damaged file header (wrong magic bytes)', salvage: {} };
    } else if (window.length < HEADER_FIXED_BYTES) {
      reportHeader(undefined);
      yield [badRecord(`truncated file header: ${window.length} bytes`, at(0))];
      return;
    } else {
      const revLength = window.byteAt(11);
      const headerLength = HEADER_FIXED_BYTES + revLength + HEADER_CRC_BYTES;
      const complete = revLength <= MAX_HEADER_REV_BYTES && (await window.fill(headerLength));
      const header = window.view(0, Math.min(window.length, headerLength));
      if (!complete) {
        damage = { offset: 0, reason: `damaged file header (rev length ${revLength})`, salvage: {} };
      } else if (header.readUInt32LE(headerLength - HEADER_CRC_BYTES) !== crc32(header, 0, headerLength - HEADER_CRC_BYTES)) {
        damage = { offset: 0, reason: 'damaged file header (CRC mismatch)', salvage: {} };
      } else {
        const version = header.readUInt16LE(8);
        if (version !== BINARY_FORMAT_VERSION) {
          reportHeader(undefined);
          yield [badRecord(`unsupported .btrace format version ${version} (this reader knows version ${BINARY_FORMAT_VERSION})`, at(0))];
          return;
        }
        const side = RECORDING_SIDES[header[10]];
        const rev = header.toString('latin1', HEADER_FIXED_BYTES, HEADER_FIXED_BYTES + revLength);
        if (side === undefined || headerRevProblem(rev) !== undefined) {
          reportHeader(undefined);
          batch.push(badRecord('file header holds an invalid side or rev; ignoring them', at(0)));
        } else {
          reportHeader({ version, rev, side });
        }
        window.consume(headerLength);
      }
    }
    if (damage) {
      reportHeader(undefined);
      window.consume(BINARY_MAGIC.length); // look for frames right after the magic
    }

    // Frames.
    for (;;) {
      const examined = examineFrame(window, maxPayload, input, ctxCache);
      if (examined.status === 'need' && batch.length > 0) {
        yield batch; // everything buffered is out before waiting for more input
        batch = [];
      }
      const attempt = examined.status === 'need' ? await readFrame(window, maxPayload, input, ctxCache) : examined;
      if (attempt.status === 'end') break;
      if (attempt.status === 'intact') {
        if (damage) {
          batch.push(damagedStretch(damage, window.offset, 'to the next intact frame', input));
          damage = undefined;
        }
        batch.push(attempt.record);
        window.consume(attempt.size);
        continue;
      }
      damage ??= { offset: window.offset, reason: attempt.reason, salvage: attempt.salvage };
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
      await skipToNextSync(window);
    }
    if (damage) batch.push(damagedStretch(damage, window.offset, 'to the end of input', input));
    if (batch.length > 0) yield batch;
  } finally {
    reportHeader(undefined);
    await window.close();
  }
}

function damagedStretch(
  damage: { offset: number; reason: string; salvage: Salvage },
  resumeOffset: number,
  where: string,
  input: string,
): TraceRecord {
  const skipped = resumeOffset - damage.offset;
  return badRecord(`${damage.reason}; skipped ${skipped} bytes ${where}`, { input, offset: damage.offset }, damage.salvage);
}

/**
 * Examines the bytes at the window's start: an intact frame, the end of input, damage, or
 * (while the input has not ended) how many bytes are needed to decide. Synchronous, so the
 * common case of a frame already buffered costs no promise.
 */
function examineFrame(window: InputWindow, maxPayload: number, input: string, cache?: CtxCache): FrameAttempt | { status: 'need'; bytes: number } {
  const have = window.length;
  const ended = window.ended;
  if (have < FRAME_PREFIX_BYTES && !ended) return { status: 'need', bytes: FRAME_PREFIX_BYTES };
  if (have === 0) return { status: 'end' };
  if (!window.startsWith(FRAME_SYNC)) {
    const found = hex(window.view(0, Math.min(have, FRAME_SYNC.length)));
    return { status: 'damaged', reason: `no frame sync marker (found ${found})`, salvage: {} };
  }
  if (have < FRAME_PREFIX_BYTES) {
    return { status: 'damaged', reason: `truncated frame: ${have} bytes at the end of input`, salvage: {} };
  }
  const payloadLength = window.u32At(4);
  // Checked before any buffering for this frame: a corrupt length must not allocate gigabytes.
  if (payloadLength > maxPayload) {
    return { status: 'damaged', reason: `frame length ${payloadLength} exceeds the maximum ${maxPayload}`, salvage: {} };
  }
  if (payloadLength < PAYLOAD_FIXED_BYTES) {
    return { status: 'damaged', reason: `frame length ${payloadLength} is below the minimum ${PAYLOAD_FIXED_BYTES}`, salvage: {} };
  }
  const size = FRAME_PREFIX_BYTES + payloadLength + FRAME_CRC_BYTES;
  if (have < size) {
    if (!ended) return { status: 'need', bytes: size };
    return {
      status: 'damaged',
      reason: `truncated frame: needs ${size} bytes, input ends after ${have}`,
      salvage: salvagePayload(window.view(FRAME_PREFIX_BYTES, have)),
    };
  }
  // Read in place in the window: the CRC covers the length word and the payload.
  const stored = window.u32At(FRAME_PREFIX_BYTES + payloadLength);
  const computed = window.crc32(4, FRAME_PREFIX_BYTES + payloadLength);
  if (stored !== computed) {
    const show = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;
    return {
      status: 'damaged',
      reason: `frame CRC mismatch (stored ${show(stored)}, computed ${show(computed)})`,
      salvage: salvagePayload(window.view(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + payloadLength)),
    };
  }
  return { status: 'intact', size, record: window.decodePayload(FRAME_PREFIX_BYTES, FRAME_PREFIX_BYTES + payloadLength, { input, offset: window.offset }, cache) };
}

async function readFrame(window: InputWindow, maxPayload: number, input: string, cache: CtxCache): Promise<FrameAttempt> {
  for (;;) {
    const attempt = examineFrame(window, maxPayload, input, cache);
    if (attempt.status !== 'need') return attempt;
    await window.fill(attempt.bytes);
  }
}

/**
 * Resync rule: drop the first byte, then everything up to the next sync marker (which
 * readFrame then checks like any frame). Keeps at most 3 bytes while searching, so a long
 * stretch of garbage costs no memory.
 */
async function skipToNextSync(window: InputWindow): Promise<void> {
  window.consume(1);
  for (;;) {
    const found = window.indexOf(FRAME_SYNC, 0);
    if (found !== -1) {
      window.consume(found);
      return;
    }
    const keep = Math.min(window.length, FRAME_SYNC.length - 1); // a marker may straddle the next chunk
    window.consume(window.length - keep);
    if (!(await window.fill(keep + 1))) {
      window.consume(window.length);
      return;
    }
  }
}
