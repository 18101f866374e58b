/**
 * The damage classes of issue 12, each built from the format it damages, for the seeded
 * fuzz test (quick in `npm test`) and `npm run fuzz` (long). Not a test file itself.
 *
 * - payload bit flips: inside the message bytes of a `data=` field, re-encoded, so the line stays valid;
 * - absurd header words: one of the 12-byte message header's offsets, or a word of the u32
 *   buffer (counts, lengths, ids: wire.md §2–§4), set to 0, 0xffffffff, 0x40000000, …;
 * - bad base64: a character outside the alphabet, padding dropped or doubled (RFC 4648 §4);
 * - cut lines and files: a line cut short at any byte, the file cut at any byte;
 * - junk: random bytes or text inserted inside or between lines;
 * - multi-MB lines: a record line of several MiB (junk, or a valid huge message);
 * - damaged gzip: a flipped byte, a cut, junk appended (RFC 1952);
 * - damaged .btrace frames: flipped bytes, absurd or zero frame lengths, a cut (binary-container.md).
 */

import { gzipSync } from 'node:zlib';

export type DamageClass =
  | 'payload-bit-flip'
  | 'absurd-header-word'
  | 'bad-base64'
  | 'cut-line'
  | 'cut-file'
  | 'junk'
  | 'huge-line'
  | 'damaged-gzip'
  | 'damaged-frame';

export const DAMAGE_CLASSES: readonly DamageClass[] = [
  'payload-bit-flip',
  'absurd-header-word',
  'bad-base64',
  'cut-line',
  'cut-file',
  'junk',
  'huge-line',
  'damaged-gzip',
  'damaged-frame',
];

export interface Damaged {
  readonly kind: DamageClass;
  readonly bytes: Buffer;
  /** What was done, to replay a failing case by hand. */
  readonly what: string;
  /** Lines-format damage that keeps every line in its place: the 1-based lines touched. Others must read as before. */
  readonly touchedLines?: ReadonlySet<number>;
}

export const ABSURD_WORDS: readonly number[] = [0, 1, 0xffffffff, 0xfffffffe, 0x80000000, 0x7fffffff, 0x40000000, 0x10000, 0xffff];

type Random = () => number;
const pick = <T>(random: Random, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const int = (random: Random, n: number): number => Math.floor(random() * n);

/** Lines of a `@btrace` log that carry a `data=` field, with where the field's value is. */
function dataFields(lines: string[]): Array<{ line: number; start: number; end: number }> {
  const out: Array<{ line: number; start: number; end: number }> = [];
  lines.forEach((text, i) => {
    const at = text.indexOf(' data=');
    if (at === -1 || !text.includes('@btrace')) return;
    const start = at + 6;
    const space = text.indexOf(' ', start);
    out.push({ line: i + 1, start, end: space === -1 ? text.length : space });
  });
  return out;
}

/** Rewrites the message bytes of one `data=` field; the line stays a valid record line. */
function rewriteMessage(lines: string[], random: Random, change: (bytes: Buffer) => string): { line: number; what: string } | undefined {
  const fields = dataFields(lines);
  if (fields.length === 0) return undefined;
  const f = pick(random, fields);
  const text = lines[f.line - 1]!;
  const bytes = Buffer.from(text.slice(f.start, f.end), 'base64');
  if (bytes.length === 0) return undefined;
  const what = change(bytes);
  lines[f.line - 1] = text.slice(0, f.start) + bytes.toString('base64') + text.slice(f.end);
  return { line: f.line, what };
}

/** One damaged variant of a `@btrace` log (`text`) or of its `.btrace` form (`binary`). */
export function damage(kind: DamageClass, text: string, binary: Buffer, random: Random): Damaged {
  const lines = text.split('\n');
  const linesOut = (touched: number[], what: string): Damaged => ({ kind, bytes: Buffer.from(lines.join('\n'), 'utf8'), what, touchedLines: new Set(touched) });
  switch (kind) {
    case 'payload-bit-flip': {
      const done = rewriteMessage(lines, random, (bytes) => {
        const at = int(random, bytes.length);
        const bit = int(random, 8);
        bytes[at]! ^= 1 << bit;
        return `bit ${bit} of message byte ${at}`;
      });
      return linesOut(done ? [done.line] : [], done ? `line ${done.line}: ${done.what}` : 'no data field');
    }
    case 'absurd-header-word': {
      const done = rewriteMessage(lines, random, (bytes) => {
        const words = Math.floor(bytes.length / 4);
        // The header's three offsets (wire §2) or any word after them: counts, lengths, ids.
        const index = random() < 0.5 ? int(random, Math.min(3, words)) : int(random, words);
        const value = random() < 0.8 ? pick(random, ABSURD_WORDS) : Math.floor(random() * 2 ** 32);
        bytes.writeUInt32LE(value >>> 0, index * 4);
        return `u32 word ${index} = 0x${(value >>> 0).toString(16)}`;
      });
      return linesOut(done ? [done.line] : [], done ? `line ${done.line}: ${done.what}` : 'no data field');
    }
    case 'bad-base64': {
      const fields = dataFields(lines);
      if (fields.length === 0) return linesOut([], 'no data field');
      const f = pick(random, fields);
      const t = lines[f.line - 1]!;
      const value = t.slice(f.start, f.end);
      const op = int(random, 4);
      let changed: string;
      if (op === 0 && value.length > 0) {
        const at = int(random, value.length);
        changed = value.slice(0, at) + pick(random, ['-', '_', '*', '.', '\u00e9', '~', '!']) + value.slice(at + 1);
      } else if (op === 1) changed = value.replace(/=+$/, '');
      else if (op === 2) changed = `${value}==`;
      else changed = value.slice(0, Math.max(0, value.length - 1 - int(random, 3)));
      lines[f.line - 1] = t.slice(0, f.start) + changed + t.slice(f.end);
      return linesOut([f.line], `line ${f.line}: base64 damage ${op}`);
    }
    case 'cut-line': {
      const i = int(random, lines.length);
      lines[i] = lines[i]!.slice(0, int(random, lines[i]!.length + 1));
      return linesOut([i + 1], `line ${i + 1} cut`);
    }
    case 'cut-file': {
      const bytes = Buffer.from(text, 'utf8');
      const at = int(random, bytes.length + 1);
      return { kind, bytes: bytes.subarray(0, at), what: `file cut at byte ${at}` };
    }
    case 'junk': {
      const i = int(random, lines.length);
      const junk =
        random() < 0.5
          ? Buffer.from(Array.from({ length: 1 + int(random, 64) }, () => int(random, 256)).filter((b) => b !== 0x0a)).toString('latin1')
          : pick(random, ['@btrace', '@btrace meta', ' data=', ' dir=j2r', '\u001b[31m', '\r', '\u0000\u0000', '@btrace dir=r2j data=AAAA']);
      const at = int(random, lines[i]!.length + 1);
      lines[i] = lines[i]!.slice(0, at) + junk + lines[i]!.slice(at);
      return linesOut([i + 1], `junk ${JSON.stringify(junk.slice(0, 20))} in line ${i + 1} at ${at}`);
    }
    case 'huge-line': {
      const i = int(random, lines.length);
      const size = (1 + int(random, 4)) * 1024 * 1024;
      const huge =
        random() < 0.5
          ? `@btrace side=js seq=1 dir=r2j data=${Buffer.alloc((size / 4) * 3, 0x41).toString('base64')}`
          : `@btrace ${'x'.repeat(size)}`;
      lines.splice(i, 0, huge);
      return { kind, bytes: Buffer.from(lines.join('\n'), 'utf8'), what: `${size} byte line before line ${i + 1}` };
    }
    case 'damaged-gzip': {
      const gz = gzipSync(Buffer.from(text, 'utf8'));
      const op = int(random, 4);
      const at = int(random, gz.length);
      let bytes: Buffer;
      if (op === 0) {
        bytes = Buffer.from(gz);
        bytes[at]! ^= 1 + int(random, 255);
      } else if (op === 1) bytes = gz.subarray(0, at);
      else if (op === 2) bytes = Buffer.concat([gz, Buffer.from(Array.from({ length: 1 + int(random, 32) }, () => 1 + int(random, 255)))]);
      else bytes = Buffer.concat([gz.subarray(0, at), gzipSync(Buffer.from(text.slice(0, 100)))]);
      return { kind, bytes, what: `gzip damage ${op} at ${at}` };
    }
    case 'damaged-frame': {
      const bytes = Buffer.from(binary);
      const op = int(random, 4);
      // Frame starts: after the header (12 + rev length + 4), each frame 12 + payload length bytes.
      const starts: number[] = [];
      for (let at = 16 + bytes[11]!; at + 8 <= bytes.length; at += 12 + bytes.readUInt32LE(at + 4)) starts.push(at);
      const frame = starts.length ? pick(random, starts) : 16;
      if (op === 0) {
        for (let n = 1 + int(random, 3); n > 0; n--) bytes[int(random, bytes.length)]! ^= 1 + int(random, 255);
        return { kind, bytes, what: 'flipped bytes' };
      }
      if (op === 1 && frame + 8 <= bytes.length) {
        const value = pick(random, [0, 1, 21, 0xffffffff, 0x7fffffff, 48 * 1024 * 1024 + 64 * 1024 + 1, 0x40000000]);
        bytes.writeUInt32LE(value >>> 0, frame + 4);
        return { kind, bytes, what: `frame at ${frame}: length ${value}` };
      }
      if (op === 2) {
        const zero = Buffer.from([0xfb, 0x42, 0x54, 0x46, 0, 0, 0, 0]);
        return { kind, bytes: Buffer.concat([bytes.subarray(0, frame), zero, bytes.subarray(frame)]), what: `zero-length frame inserted at ${frame}` };
      }
      const at = int(random, bytes.length + 1);
      return { kind, bytes: bytes.subarray(0, at), what: `cut at ${at}` };
    }
  }
}
