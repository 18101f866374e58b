/**
 * The `@btrace` text container: records embedded as lines in an arbitrary log.
 * Format: docs/trace-lines.md.
 *
 * The reader works on bytes. It looks for the marker with `Buffer.indexOf` and counts
 * newlines with `indexOf(0x0a)`; only the part of a line after a marker is ever decoded
 * to a string, so unrelated log lines cost little more than a memchr.
 */

import { decodeStrictBase64, encodeBase64 } from './base64.js';
import {
  badRecord,
  ctxProblem,
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

/** A byte that may follow `@btrace` for it to count as the marker: space, tab, CR, LF or ESC (colour codes). */
function endsMarker(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === NEWLINE || byte === 0x1b;
}

/** CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`) and two-byte escapes. */
const ANSI_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
const FIELD_SEPARATOR = /[ \t]+/;

/**
 * Parses the text that follows the marker on one line (line end excluded) into a record.
 * Never throws: anything wrong gives a BadRecord.
 */
export function parseRecordText(text: string, loc: RecordLocation): TraceRecord {
  let body = text.includes('\x1b') ? text.replace(ANSI_ESCAPE, '') : text;
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
  const maxLineBytes = options.maxLineBytes ?? MAX_LINE_BYTES;
  let line = 1; // 1-based number of the line the cursor is in
  let mode: 'scan' | 'capture' | 'skip' = 'scan';
  // scan: the last bytes of the current line that came in earlier chunks (empty at a line start).
  let tail: Buffer = EMPTY;
  // capture: bytes after the marker so far, when the line spans chunks.
  let parts: Buffer[] = [];
  let captured = 0;
  let recordLine = 0;
  // capture: the marker ended exactly at a chunk end, so the byte deciding whether it is one is still to come.
  let markerEndPending = false;

  for await (const chunk of chunks) {
    const buf = asBuffer(chunk);
    let pos = 0;
    while (pos < buf.length) {
      if (mode === 'capture') {
        if (markerEndPending) {
          markerEndPending = false;
          if (!endsMarker(buf[pos])) {
            mode = 'scan'; // `@btraceX`: not the marker; "btrace" holds no '@', so no tail to keep
            tail = EMPTY;
            continue;
          }
        }
        const newline = buf.indexOf(NEWLINE, pos);
        const end = newline === -1 ? buf.length : newline;
        if (captured + (end - pos) > maxLineBytes) {
          const prefix = firstBytes([...parts, buf.subarray(pos, end)], SALVAGE_PREFIX_BYTES).toString('utf8');
          yield badRecord(
            `line too long: more than ${maxLineBytes} bytes after @btrace; skipped to the next line`,
            { input, line: recordLine },
            salvageFromPrefix(prefix),
          );
          parts = [];
          captured = 0;
          mode = 'skip';
          continue;
        }
        if (newline === -1) {
          parts.push(Buffer.from(buf.subarray(pos))); // copy: the source may reuse its chunk
          captured += buf.length - pos;
          pos = buf.length;
          break;
        }
        // Most lines sit inside one chunk: decode straight from it without copying.
        const text =
          parts.length === 0
            ? buf.toString('utf8', pos, newline)
            : Buffer.concat([...parts, buf.subarray(pos, newline)]).toString('utf8');
        yield parseRecordText(text, { input, line: recordLine });
        parts = [];
        captured = 0;
        mode = 'scan';
        tail = EMPTY;
        line++;
        pos = newline + 1;
        continue;
      }

      if (mode === 'skip') {
        const newline = buf.indexOf(NEWLINE, pos);
        if (newline === -1) {
          pos = buf.length;
          break;
        }
        mode = 'scan';
        tail = EMPTY;
        line++;
        pos = newline + 1;
        continue;
      }

      // scan: first a marker that began in the previous chunk(s), then markers inside this one.
      if (pos === 0 && tail.length > 0) {
        const joined = Buffer.concat([tail, buf.subarray(0, MARKER_LENGTH - 1)]);
        const at = joined.indexOf(MARKER_BYTES);
        if (at !== -1 && at < tail.length) {
          const after = at + MARKER_LENGTH - tail.length;
          tail = EMPTY;
          if (after === buf.length || endsMarker(buf[after])) {
            mode = 'capture';
            recordLine = line;
            markerEndPending = after === buf.length;
            pos = after;
            continue;
          }
        }
      }
      const scanFrom = pos;
      let lineStart = -1; // start of the current line within buf, if a newline was passed
      const markerAt = buf.indexOf(MARKER_BYTES, pos);
      const limit = markerAt === -1 ? buf.length : markerAt;
      for (let nl = buf.indexOf(NEWLINE, pos); nl !== -1 && nl < limit; nl = buf.indexOf(NEWLINE, nl + 1)) {
        line++;
        lineStart = nl + 1;
      }
      if (markerAt === -1) {
        // Keep the line's last bytes: a marker may begin here and end in the next chunk.
        // (After a rejected `@btraceX`, dropping what precedes scanFrom is safe: a marker
        // starts with the only '@' it contains.)
        if (lineStart !== -1) tail = lineTail(EMPTY, buf.subarray(lineStart));
        else tail = lineTail(scanFrom === 0 ? tail : EMPTY, buf.subarray(scanFrom));
        pos = buf.length;
        break;
      }
      const after = markerAt + MARKER_LENGTH;
      if (after < buf.length && !endsMarker(buf[after])) {
        pos = markerAt + 1; // `@btraceX` is not the marker; keep scanning this line
        continue;
      }
      mode = 'capture';
      recordLine = line;
      markerEndPending = after === buf.length;
      tail = EMPTY;
      pos = after;
    }
  }

  if (mode === 'capture') {
    const text = markerEndPending ? '' : Buffer.concat(parts).toString('utf8');
    yield parseRecordText(text, { input, line: recordLine });
  }
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
