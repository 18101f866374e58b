/**
 * The `@btrace` text container: records embedded as lines in an arbitrary log.
 * Format: docs/trace-lines.md.
 *
 * The reader works on bytes. It looks for the marker with `Buffer.indexOf` and counts
 * newlines with `indexOf(0x0a)`; only the part of a line after a marker is ever decoded
 * to a string, so unrelated log lines cost little more than a memchr.
 */

import { decodeStrictBase64, decodeStrictBase64Bytes, encodeBase64 } from './base64.js';
import {
  badRecord,
  ctxProblem,
  type CtxCache,
  MAX_CTX_BYTES,
  MAX_DECIMAL,
  metaFromFields,
  parseDecimal,
  parseDirection,
  parseSide,
  quote,
  type Salvage,
} from './fields.js';
import type { Direction, MessageRecord, MetaRecord, RecordLocation, Side, TraceRecord } from './record.js';

export const MARKER = '@btrace';
const MARKER_BYTES = Buffer.from(MARKER, 'latin1');
const MARKER_LENGTH = MARKER_BYTES.length;
const NEWLINE = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * Longest part of a line the reader buffers: from just after `@btrace` to the end of the line.
 * 64 MiB + 64 KiB holds the base64 of the largest accepted message (48 MiB) plus every other
 * field at its maximum. Text before the marker is never buffered, so it has no limit.
 */
export const MAX_LINE_BYTES = 64 * 1024 * 1024 + 64 * 1024;

export interface LineReaderOptions {
  /** Overrides MAX_LINE_BYTES (tests use small values). */
  maxLineBytes?: number;
}

/** True when `@btrace` is at `buf[pos]`. */
function markerAtStart(buf: Buffer, pos: number): boolean {
  if (pos + MARKER_LENGTH > buf.length) return false;
  for (let i = 0; i < MARKER_LENGTH; i++) if (buf[pos + i] !== MARKER_BYTES[i]) return false;
  return true;
}

/** A byte that may follow `@btrace` for it to count as the marker: space, tab, CR, LF or ESC (colour codes). */
function endsMarker(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === NEWLINE || byte === 0x1b;
}

/**
 * Every escape sequence a terminal log can hold (ECMA-48), removed whole before fields are read:
 * - CSI `ESC [ params intermediates final` (colours, cursor moves), also as the C1 byte U+009B;
 * - control strings OSC `ESC ]`, DCS `ESC P`, SOS `ESC X`, PM `ESC ^`, APC `ESC _` (also as C1
 *   U+009D, U+0090, U+0098, U+009E, U+009F) up to BEL or ST (`ESC \` or U+009C), or to the line end;
 * - nF sequences `ESC intermediates final`: character-set designation `ESC ( B` (what
 *   `tput sgr0` prints), `ESC ) 0`, `ESC % G`, `ESC # 8`, …;
 * - two-byte Fp/Fe/Fs escapes (`ESC 7`, `ESC =`, `ESC M`, `ESC c`, …);
 * - a lone ESC at the end of the text.
 */
const ANSI_ESCAPE =
  /(?:\x1b\[|\u009b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\u009d\u0090\u0098\u009e\u009f])[^\x07\x1b\u009c]*(?:\x07|\x1b\\|\u009c)?|\x1b(?:[ -/]+[0-~]|[0-~]|$)/g;
const HAS_ESCAPE = /[\x1b\u009b\u009d\u0090\u0098\u009e\u009f]/;
const FIELD_SEPARATOR = /[ \t]+/;

/**
 * Parses the text that follows the marker on one line (line end excluded) into a record.
 * Never throws: anything wrong gives a BadRecord.
 */
export function parseRecordText(text: string, loc: RecordLocation): TraceRecord {
  let body = HAS_ESCAPE.test(text) ? text.replace(ANSI_ESCAPE, '') : text;
  if (body.endsWith('\r')) body = body.slice(0, -1);
  const tokens = body.split(FIELD_SEPARATOR).filter((token) => token.length > 0);
  if (tokens.length === 0) return badRecord('empty record: nothing after @btrace', loc);
  if (tokens[0] === 'meta') return parseMeta(tokens, loc);
  return parseMessage(tokens, loc);
}

/** Finds the marker in one already-split line and parses it; undefined if the line carries no record. */
export function parseTraceLine(line: string, loc: RecordLocation): TraceRecord | undefined {
  let from = 0;
  for (;;) {
    const at = line.indexOf(MARKER, from);
    if (at === -1) return undefined;
    const after = at + MARKER_LENGTH;
    if (after === line.length || endsMarker(line.charCodeAt(after))) {
      return parseRecordText(line.slice(after).replace(/\n$/, ''), loc);
    }
    from = at + 1;
  }
}

function parseMeta(tokens: string[], loc: RecordLocation): TraceRecord {
  const fields: Array<readonly [string, string]> = [];
  for (let i = 1; i < tokens.length; i++) {
    const token = tokens[i];
    const eq = token.indexOf('=');
    if (eq <= 0) {
      const salvage = metaFromFields(fields, loc);
      return badRecord(`malformed field ${quote(token)} (expected key=value)`, loc, {
        side: salvage.side,
        ctx: salvage.ctx,
      });
    }
    fields.push([token.slice(0, eq), token.slice(eq + 1)]);
  }
  return metaFromFields(fields, loc);
}

function parseMessage(tokens: string[], loc: RecordLocation): TraceRecord {
  let dir: Direction | undefined;
  let side: Side | undefined;
  let seq: number | undefined;
  let t: number | undefined;
  let ctx: string | undefined;
  let dataText: string | undefined;
  // Seen-flags separate "absent" from "present but invalid" for the duplicate check.
  let seenDir = false;
  let seenSide = false;
  let seenSeq = false;
  let seenT = false;
  let seenCtx = false;
  let problem: string | undefined;
  // Keep going after the first problem so that a bad record still salvages dir/side/seq/ctx.
  for (const token of tokens) {
    const eq = token.indexOf('=');
    if (eq <= 0) {
      problem ??= `malformed field ${quote(token)} (expected key=value)`;
      continue;
    }
    const key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    switch (key) {
      case 'dir':
        if (seenDir) problem ??= 'duplicate field dir';
        else {
          seenDir = true;
          dir = parseDirection(value);
          if (dir === undefined) problem ??= `bad dir value ${quote(value)} (expected r2j or j2r)`;
        }
        break;
      case 'side':
        if (seenSide) problem ??= 'duplicate field side';
        else {
          seenSide = true;
          side = parseSide(value);
          if (side === undefined) problem ??= `bad side value ${quote(value)} (expected rust or js)`;
        }
        break;
      case 'seq':
        if (seenSeq) problem ??= 'duplicate field seq';
        else {
          seenSeq = true;
          seq = parseDecimal(value);
          if (seq === undefined) problem ??= `bad seq value ${quote(value)} (expected a non-negative decimal integer)`;
        }
        break;
      case 't':
        if (seenT) problem ??= 'duplicate field t';
        else {
          seenT = true;
          t = parseDecimal(value);
          if (t === undefined) problem ??= `bad t value ${quote(value)} (expected a non-negative decimal integer)`;
        }
        break;
      case 'ctx':
        if (seenCtx) problem ??= 'duplicate field ctx';
        else {
          seenCtx = true;
          const why = ctxProblem(value);
          if (why === undefined) ctx = value;
          else problem ??= why;
        }
        break;
      case 'data':
        if (dataText !== undefined) problem ??= 'duplicate field data';
        else dataText = value;
        break;
      default:
        break; // unknown keys are ignored so that later recorders can add fields
    }
  }
  const salvage: Salvage = { dir, side, seq, ctx };
  if (problem !== undefined) return badRecord(problem, loc, salvage);
  if (dir === undefined) return badRecord('missing required field dir', loc, salvage);
  if (dataText === undefined) return badRecord('missing required field data', loc, salvage);
  // Decoding last: it is the expensive step and pointless for an otherwise broken record.
  const decoded = decodeStrictBase64(dataText, 'data');
  if (!decoded.ok) return badRecord(decoded.error, loc, salvage);
  const record: MessageRecord = { kind: 'message', dir, data: decoded.bytes, loc };
  if (side !== undefined) record.side = side;
  if (seq !== undefined) record.seq = seq;
  if (t !== undefined) record.t = t;
  if (ctx !== undefined) record.ctx = ctx;
  return record;
}

/** How much of a too-long line is parsed to salvage dir/side/seq/ctx. */
const SALVAGE_PREFIX_BYTES = 4096;

/** The first `n` bytes of the concatenation of `parts`, without joining all of them. */
function firstBytes(parts: Buffer[], n: number): Buffer {
  const taken: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    if (size >= n) break;
    taken.push(part.subarray(0, n - size));
    size += taken[taken.length - 1].length;
  }
  return Buffer.concat(taken);
}

/** Reads whatever fields a too-long line's first kilobytes hold, for the bad record. */
function salvageFromPrefix(prefix: string): Salvage {
  const complete = prefix.slice(0, Math.max(0, prefix.lastIndexOf(' ')));
  const parsed = parseRecordText(`${complete} data=`, { input: '' });
  if (parsed.kind === 'meta') return { side: parsed.side, ctx: parsed.ctx };
  return { dir: parsed.dir, side: parsed.side, seq: parsed.seq, ctx: parsed.ctx };
}

function asBuffer(chunk: Uint8Array | string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Last (up to) MARKER_LENGTH - 1 bytes of `head` followed by `body`, copied: a marker may straddle chunks. */
function lineTail(head: Buffer, body: Buffer): Buffer {
  const keep = MARKER_LENGTH - 1;
  if (body.length >= keep) return Buffer.from(body.subarray(body.length - keep));
  const joined = Buffer.concat([head, body]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - keep)));
}

/**
 * Reads `@btrace` records from a byte stream. Lines end at LF (a CR before it is dropped).
 * Yields one record per marker line, BadRecords included, in input order; never throws
 * for bad content.
 */
export async function* readLineRecords(
  chunks: AsyncIterable<Uint8Array | string>,
  input: string,
  options: LineReaderOptions = {},
): AsyncGenerator<TraceRecord> {
  const parser = new LineRecordParser(input, options);
  const out: TraceRecord[] = [];
  for await (const chunk of chunks) {
    parser.push(asBuffer(chunk), out);
    yield* out;
    out.length = 0;
  }
  parser.end(out);
  yield* out;
}

/**
 * The `@btrace` reader as a synchronous push parser: each chunk in, the records it
 * completes appended to `out`. Callers drive it from any source and take records in
 * batches (one await per chunk, not per record).
 */
export class LineRecordParser {
  private readonly maxLineBytes: number;
  private line = 1; // 1-based number of the line the cursor is in
  private mode: 'scan' | 'capture' | 'skip' = 'scan';
  // scan: the last bytes of the current line that came in earlier chunks (empty at a line start).
  private tail: Buffer = EMPTY;
  // capture: bytes after the marker so far, when the line spans chunks.
  private parts: Buffer[] = [];
  private captured = 0;
  private recordLine = 0;
  // capture: the marker ended exactly at a chunk end, so the byte deciding whether it is one is still to come.
  private markerEndPending = false;
  private readonly fields: FieldCache = { ctxBytes: EMPTY, ctx: '' };

  constructor(
    private readonly input: string,
    options: LineReaderOptions = {},
  ) {
    this.maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  }

  /** True while the cursor is inside a record line (after its marker, before its end). */
  get inRecord(): boolean {
    return this.mode === 'capture';
  }

  /** Parses one chunk; records completed by it are appended to `out`. The chunk may be reused afterwards. */
  push(buf: Buffer, out: TraceRecord[]): void {
    const input = this.input;
    let pos = 0;
    while (pos < buf.length) {
      if (this.mode === 'capture') {
        if (this.markerEndPending) {
          this.markerEndPending = false;
          if (!endsMarker(buf[pos]!)) {
            this.mode = 'scan'; // `@btraceX`: not the marker; "btrace" holds no '@', so no tail to keep
            this.tail = EMPTY;
            continue;
          }
        }
        const newline = buf.indexOf(NEWLINE, pos);
        const end = newline === -1 ? buf.length : newline;
        if (this.captured + (end - pos) > this.maxLineBytes) {
          const prefix = firstBytes([...this.parts, buf.subarray(pos, end)], SALVAGE_PREFIX_BYTES).toString('utf8');
          out.push(
            badRecord(
              `line too long: more than ${this.maxLineBytes} bytes after @btrace; skipped to the next line`,
              { input, line: this.recordLine },
              salvageFromPrefix(prefix),
            ),
          );
          this.parts = [];
          this.captured = 0;
          this.mode = 'skip';
          continue;
        }
        if (newline === -1) {
          this.parts.push(Buffer.from(buf.subarray(pos))); // copy: the source may reuse its chunk
          this.captured += buf.length - pos;
          pos = buf.length;
          break;
        }
        // Most lines sit inside one chunk: parse straight from it without copying.
        const loc: RecordLocation = { input, line: this.recordLine };
        if (this.parts.length === 0) out.push(parseRecordBytes(buf, pos, newline, loc, this.fields));
        else {
          const joined = Buffer.concat([...this.parts, buf.subarray(pos, newline)]);
          out.push(parseRecordBytes(joined, 0, joined.length, loc, this.fields));
        }
        this.parts = [];
        this.captured = 0;
        this.mode = 'scan';
        this.tail = EMPTY;
        this.line++;
        pos = newline + 1;
        continue;
      }

      if (this.mode === 'skip') {
        const newline = buf.indexOf(NEWLINE, pos);
        if (newline === -1) {
          pos = buf.length;
          break;
        }
        this.mode = 'scan';
        this.tail = EMPTY;
        this.line++;
        pos = newline + 1;
        continue;
      }

      // scan: first a marker that began in the previous chunk(s), then markers inside this one.
      if (pos === 0 && this.tail.length > 0) {
        const tail = this.tail;
        const joined = Buffer.concat([tail, buf.subarray(0, MARKER_LENGTH - 1)]);
        const at = joined.indexOf(MARKER_BYTES);
        if (at !== -1 && at < tail.length) {
          const after = at + MARKER_LENGTH - tail.length;
          this.tail = EMPTY;
          if (after === buf.length || endsMarker(buf[after]!)) {
            this.mode = 'capture';
            this.recordLine = this.line;
            this.markerEndPending = after === buf.length;
            pos = after;
            continue;
          }
        }
      }
      const scanFrom = pos;
      let lineStart = -1; // start of the current line within buf, if a newline was passed
      // Most lines of a trace start with the marker: seen in place, no search and no newline to count.
      const markerHere = markerAtStart(buf, pos);
      const markerAt = markerHere ? pos : buf.indexOf(MARKER_BYTES, pos);
      const limit = markerAt === -1 ? buf.length : markerAt;
      if (!markerHere) {
        for (let nl = buf.indexOf(NEWLINE, pos); nl !== -1 && nl < limit; nl = buf.indexOf(NEWLINE, nl + 1)) {
          this.line++;
          lineStart = nl + 1;
        }
      }
      if (markerAt === -1) {
        // Keep the line's last bytes: a marker may begin here and end in the next chunk.
        // (After a rejected `@btraceX`, dropping what precedes scanFrom is safe: a marker
        // starts with the only '@' it contains.)
        if (lineStart !== -1) this.tail = lineTail(EMPTY, buf.subarray(lineStart));
        else this.tail = lineTail(scanFrom === 0 ? this.tail : EMPTY, buf.subarray(scanFrom));
        pos = buf.length;
        break;
      }
      const after = markerAt + MARKER_LENGTH;
      if (after < buf.length && !endsMarker(buf[after]!)) {
        pos = markerAt + 1; // `@btraceX` is not the marker; keep scanning this line
        continue;
      }
      this.mode = 'capture';
      this.recordLine = this.line;
      this.markerEndPending = after === buf.length;
      this.tail = EMPTY;
      pos = after;
    }
  }

  /** The input ended: a record line without its final newline is still a record. */
  end(out: TraceRecord[]): void {
    if (this.mode === 'capture') {
      const joined = this.markerEndPending ? EMPTY : Buffer.concat(this.parts);
      out.push(parseRecordBytes(joined, 0, joined.length, { input: this.input, line: this.recordLine }, this.fields));
    }
    this.mode = 'scan';
    this.parts = [];
  }
}

type FieldCache = CtxCache;

const KEY_DIR = 0x646972; // "dir"
const KEY_SEQ = 0x736571; // "seq"
const KEY_CTX = 0x637478; // "ctx"
const KEY_SIDE = 0x73696465; // "side"
const KEY_DATA = 0x64617461; // "data"
const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;

/**
 * Parses the bytes after the marker of one line (`buf[start, end)`, line end excluded) into
 * a record. The common case, a message record in plain ASCII whose fields are all valid, is
 * read straight off the bytes; anything else (meta records, escapes, non-ASCII, any problem)
 * goes through parseRecordText, the one place that words the errors.
 */
export function parseRecordBytes(buf: Buffer, start: number, end: number, loc: RecordLocation, cache?: FieldCache): TraceRecord {
  return parseMessageBytes(buf, start, end, loc, cache) ?? parseRecordText(buf.toString('utf8', start, end), loc);
}

function parseMessageBytes(buf: Buffer, start: number, end: number, loc: RecordLocation, cache: FieldCache | undefined): MessageRecord | undefined {
  if (end > start && buf[end - 1] === 0x0d) end--;
  let dir: Direction | undefined;
  let side: Side | undefined;
  let seq: number | undefined;
  let t: number | undefined;
  let ctx: string | undefined;
  let dataStart = -1;
  let dataEnd = -1;
  let seenT = false;
  let i = start;
  for (;;) {
    while (i < end && (buf[i] === SPACE || buf[i] === TAB)) i++;
    if (i === end) break;
    const tokenStart = i;
    if (dataStart === -1 && buf[i] === 0x64 && buf[i + 1] === 0x61 && buf[i + 2] === 0x74 && buf[i + 3] === 0x61 && buf[i + 4] === EQUALS && i + 5 <= end) {
      // The long field: its end found by memchr. Anything odd inside it (a tab, a control byte,
      // non-ASCII) fails the strict base64 decode below and sends the line to parseRecordText.
      dataStart = i + 5;
      const space = buf.indexOf(SPACE, dataStart);
      dataEnd = space === -1 || space > end ? end : space;
      i = dataEnd;
      continue;
    }
    let eq = -1;
    for (; i < end; i++) {
      const b = buf[i]!;
      if (b === SPACE || b === TAB) break;
      // Control characters, DEL and non-ASCII need the full rules (escapes, UTF-8, errors).
      if (b < 0x20 || b >= 0x7f) return undefined;
      if (b === EQUALS && eq === -1) eq = i;
    }
    const keyLength = eq - tokenStart;
    if (keyLength <= 0) return undefined; // `meta`, a token without `=` or with an empty key
    const v = eq + 1;
    const vLength = i - v;
    if (keyLength === 3) {
      const key = (buf[tokenStart]! << 16) | (buf[tokenStart + 1]! << 8) | buf[tokenStart + 2]!;
      if (key === KEY_DIR) {
        if (dir !== undefined || vLength !== 3 || buf[v + 1] !== 0x32) return undefined; // "?2?"
        if (buf[v] === 0x72 && buf[v + 2] === 0x6a) dir = 'r2j';
        else if (buf[v] === 0x6a && buf[v + 2] === 0x72) dir = 'j2r';
        else return undefined;
      } else if (key === KEY_SEQ) {
        if (seq !== undefined) return undefined;
        seq = decimalAt(buf, v, i);
        if (seq === undefined) return undefined;
      } else if (key === KEY_CTX) {
        if (ctx !== undefined || vLength === 0 || vLength > MAX_CTX_BYTES) return undefined;
        ctx = cachedCtx(buf, v, i, cache);
      }
    } else if (keyLength === 4) {
      const key = ((buf[tokenStart]! << 24) | (buf[tokenStart + 1]! << 16) | (buf[tokenStart + 2]! << 8) | buf[tokenStart + 3]!) >>> 0;
      if (key === KEY_SIDE) {
        if (side !== undefined) return undefined;
        if (vLength === 4 && buf[v] === 0x72 && buf[v + 1] === 0x75 && buf[v + 2] === 0x73 && buf[v + 3] === 0x74) side = 'rust';
        else if (vLength === 2 && buf[v] === 0x6a && buf[v + 1] === 0x73) side = 'js';
        else return undefined;
      } else if (key === KEY_DATA) {
        if (dataStart !== -1) return undefined;
        dataStart = v;
        dataEnd = i;
      }
    } else if (keyLength === 1 && buf[tokenStart] === 0x74) {
      if (seenT) return undefined;
      seenT = true;
      t = decimalAt(buf, v, i);
      if (t === undefined) return undefined;
    }
    // Any other key is ignored, as parseRecordText does.
  }
  if (dir === undefined || dataStart === -1) return undefined;
  const data = decodeStrictBase64Bytes(buf, dataStart, dataEnd);
  if (data === undefined) return undefined;
  const record: MessageRecord = { kind: 'message', dir, data, loc };
  if (side !== undefined) record.side = side;
  if (seq !== undefined) record.seq = seq;
  if (t !== undefined) record.t = t;
  if (ctx !== undefined) record.ctx = ctx;
  return record;
}

/** parseDecimal over bytes: 1 to 16 ASCII digits, at most 2^53 - 1. */
function decimalAt(buf: Buffer, start: number, end: number): number | undefined {
  const n = end - start;
  if (n < 1 || n > 16) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 0x30;
    if (d < 0 || d > 9) return undefined;
    value = value * 10 + d;
  }
  return value <= MAX_DECIMAL ? value : undefined;
}

function cachedCtx(buf: Buffer, start: number, end: number, cache: FieldCache | undefined): string {
  if (cache === undefined) return buf.toString('latin1', start, end);
  const known = cache.ctxBytes;
  let same = known.length === end - start;
  for (let i = 0; same && i < known.length; i++) same = known[i] === buf[start + i];
  if (!same) {
    cache.ctxBytes = Buffer.from(buf.subarray(start, end));
    cache.ctx = buf.toString('latin1', start, end);
  }
  return cache.ctx;
}

/** One record as a `@btrace` line, without the line end. Fields come out in a fixed order. */
export function formatTraceLine(record: MessageRecord | MetaRecord): string {
  if (record.kind === 'meta') {
    let line = `${MARKER} meta`;
    for (const [key, value] of record.fields) line += ` ${key}=${value}`;
    return line;
  }
  let line = MARKER;
  if (record.side !== undefined) line += ` side=${record.side}`;
  if (record.seq !== undefined) line += ` seq=${record.seq}`;
  if (record.t !== undefined) line += ` t=${record.t}`;
  if (record.ctx !== undefined) line += ` ctx=${record.ctx}`;
  return `${line} dir=${record.dir} data=${encodeBase64(record.data)}`;
}
