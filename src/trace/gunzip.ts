/**
 * gzip (RFC 1952) decompression as a stream that keeps what it read. Members are framed
 * here and only their deflate bodies go to zlib, so that:
 * - every byte inflated before damage is delivered (zlib's own gunzip throws away the
 *   output of the call that fails its trailer check);
 * - damage is placed at its compressed byte offset;
 * - concatenated members read as one stream, as gzip(1) reads them, and a CRC or length
 *   mismatch in one member's trailer is reported without losing the members after it;
 * - a missing or cut trailer, or junk after the last member, is reported, never silently clean.
 * Memory: a few slices of compressed input in flight, whose output is bounded by deflate's
 * maximum ratio (about 1032:1), so a "gzip bomb" cannot make one step huge.
 */

import { createInflateRaw, type InflateRaw } from 'node:zlib';

import { crc32Update } from './crc32.js';

/** What gunzip yields: decompressed bytes, or damage at a place in the compressed input. */
export type GunzipItem = Buffer | GzipDamage;

export interface GzipDamage {
  kind: 'gzip-damage';
  /** Byte offset in the compressed input where the damage is. */
  offset: number;
  /** Decompressed bytes delivered before it. */
  produced: number;
  message: string;
}

export function isGzipDamage(item: unknown): item is GzipDamage {
  return typeof item === 'object' && item !== null && (item as { kind?: unknown }).kind === 'gzip-damage';
}

/** Compressed bytes given to zlib per step: bounds the output of one step (see above). */
const SLICE_BYTES = 32 * 1024;
/** Slices handed to zlib before their output is taken. */
const SLICES_IN_FLIGHT = 4;
/** A header's optional name, comment and extra field together beyond this is damage, not a header. */
const MAX_HEADER_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

const FTEXT = 0x01;
const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

const updateCrc = crc32Update;

type HeaderScan = { status: 'ok'; length: number } | { status: 'need' } | { status: 'bad'; why: string };

/** Reads a member header (RFC 1952 §2.3) at the start of `b`. */
function scanHeader(b: Buffer): HeaderScan {
  if (b.length < 10) return { status: 'need' };
  if (b[0] !== 0x1f || b[1] !== 0x8b) return { status: 'bad', why: 'not a gzip member header' };
  if (b[2] !== 8) return { status: 'bad', why: `unknown compression method ${b[2]}` };
  const flags = b[3]!;
  if (flags & 0xe0) return { status: 'bad', why: `reserved header flag bits set (flags 0x${flags.toString(16).padStart(2, '0')})` };
  let at = 10;
  if (flags & FEXTRA) {
    if (b.length < at + 2) return { status: 'need' };
    at += 2 + b.readUInt16LE(at);
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (!(flags & flag)) continue;
    const zero = b.indexOf(0, at);
    if (zero === -1) return b.length > MAX_HEADER_BYTES ? { status: 'bad', why: 'header name or comment never ends' } : { status: 'need' };
    at = zero + 1;
  }
  if (flags & FHCRC) at += 2;
  if (at > MAX_HEADER_BYTES) return { status: 'bad', why: 'header longer than 1 MiB' };
  if (b.length < at) return { status: 'need' };
  void FTEXT;
  return { status: 'ok', length: at };
}

/**
 * Decompresses a gzip byte stream. Yields decompressed chunks in order; any damage comes out
 * as one GzipDamage item at the point it was found. After damage inside a deflate body or a
 * header, nothing more can be read and the stream ends there.
 */
export async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<GunzipItem> {
  const it = source[Symbol.asyncIterator]();
  let pending: Buffer = EMPTY; // compressed bytes not consumed yet
  let offset = 0; // compressed offset of pending[0]
  let ended = false;
  let produced = 0;
  let members = 0;
  /** Reads until `pending` holds at least `n` bytes or the input ends; false if it ended short. */
  const fill = async (n: number): Promise<boolean> => {
    if (pending.length >= n) return true;
    const parts: Buffer[] = [pending];
    let have = pending.length;
    while (have < n && !ended) {
      const next = await it.next();
      if (next.done) ended = true;
      else {
        parts.push(next.value);
        have += next.value.length;
      }
    }
    pending = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    return pending.length >= n;
  };
  /** Reads at least one more byte, if there is one. */
  const more = (): Promise<boolean> => fill(pending.length + 1);
  const consume = (n: number): void => {
    pending = pending.subarray(n);
    offset += n;
  };
  const damage = (at: number, message: string): GzipDamage => ({ kind: 'gzip-damage', offset: at, produced, message });

  let active: MemberInflater | undefined;
  try {
    for (;;) {
      // Member header, or the end of input, or what follows the last member.
      await fill(10);
      if (pending.length === 0) return;
      if (members > 0 && !(pending[0] === 0x1f && pending[1] === 0x8b)) {
        const junkAt = offset;
        let zerosOnly = true;
        do {
          for (const byte of pending) if (byte !== 0) zerosOnly = false;
          consume(pending.length);
        } while (zerosOnly && (await more()));
        // Zero padding (tape blocks, preallocated files) is no data; gzip(1) ignores it too.
        if (!zerosOnly) yield damage(junkAt, `damaged gzip stream: junk after the last member at compressed byte ${junkAt}`);
        return;
      }
      let header = scanHeader(pending);
      while (header.status === 'need' && (await fill(Math.max(64, pending.length * 2)))) header = scanHeader(pending);
      if (header.status === 'need') header = scanHeader(pending);
      if (header.status === 'need') {
        yield damage(offset, `damaged gzip stream: truncated member header at compressed byte ${offset}; records after this point are lost`);
        return;
      }
      if (header.status === 'bad') {
        yield damage(offset, `damaged gzip stream: bad member header at compressed byte ${offset} (${header.why}); records after this point are lost`);
        return;
      }
      consume(header.length);

      // Deflate body: a few slices in flight, so zlib (on the thread pool) inflates while the caller parses.
      const bodyStart = offset;
      const inflater = new MemberInflater(bodyStart);
      active = inflater;
      let crc = 0;
      let size = 0;
      let inputEnded = false;
      for (;;) {
        while (!inflater.done && !inputEnded && inflater.inFlight < SLICES_IN_FLIGHT) {
          // Tiny chunks (stdin, tests) are gathered into whole slices: one zlib call each.
          await fill(SLICE_BYTES);
          if (pending.length === 0) {
            inputEnded = true;
            break;
          }
          const slice = pending.subarray(0, SLICE_BYTES);
          consume(slice.length);
          inflater.write(slice);
        }
        if (inputEnded && !inflater.done && inflater.inFlight === 0) inflater.end();
        const outputs = inflater.take();
        for (const out of outputs) {
          crc = updateCrc(crc, out);
          size += out.length;
          produced += out.length;
          yield out;
        }
        // Output that came while the caller held the last chunk is taken before leaving, even
        // when zlib has ended since (a slow consumer used to lose it).
        if (inflater.done && !inflater.hasOutput) break;
        if (outputs.length === 0 && !inflater.done) await inflater.changed();
      }
      const leftover = inflater.leftover();
      inflater.destroy();
      if (inflater.failure) {
        const at = bodyStart + inflater.consumed;
        yield damage(at, `damaged gzip stream: ${inflater.failure.message} at compressed byte ${at}; records after this point are lost`);
        return;
      }
      // zlib stopped at the end of the deflate data: what it left of the slices fed comes next.
      pending = pending.length > 0 ? Buffer.concat([leftover, pending]) : leftover;
      offset = bodyStart + inflater.consumed;

      // Trailer: CRC-32 and length (mod 2^32) of the member's data.
      await fill(8);
      if (pending.length < 8) {
        yield damage(offset, `damaged gzip stream: truncated trailer at compressed byte ${offset} (${pending.length} of its 8 bytes); the data before it is complete but unchecked`);
        return;
      }
      const storedCrc = pending.readUInt32LE(0);
      const storedSize = pending.readUInt32LE(4);
      if (storedCrc !== crc >>> 0) {
        yield damage(offset, `damaged gzip stream: CRC mismatch in the trailer at compressed byte ${offset} (stored 0x${storedCrc.toString(16).padStart(8, '0')}, data 0x${(crc >>> 0).toString(16).padStart(8, '0')}); records before it may be wrong`);
      } else if (storedSize !== size % 0x1_0000_0000) {
        yield damage(offset + 4, `damaged gzip stream: length mismatch in the trailer at compressed byte ${offset + 4} (stored ${storedSize}, data ${size % 0x1_0000_0000} mod 2^32); records before it may be wrong`);
      }
      consume(8);
      members++;
    }
  } finally {
    active?.destroy();
    await it.return?.();
  }
}

/**
 * One member's deflate body through a zlib InflateRaw stream. `consumed` counts the
 * compressed bytes zlib used (Node's bytesWritten counts what the engine consumed), so the
 * end of the deflate data is exact and the place of damage exact to a slice.
 */
class MemberInflater {
  // 64 KiB output chunks, not the 16 KiB default: a quarter of the callbacks and buffers per megabyte.
  private readonly stream: InflateRaw = createInflateRaw({ chunkSize: 64 * 1024 });
  private outputs: Buffer[] = [];
  private dirty = false;
  private wake: (() => void) | undefined;
  /** Slices written and not yet known to be wholly consumed, with their offset in the body. */
  private fed: Array<{ at: number; bytes: Buffer }> = [];
  private fedBytes = 0;
  private ended = false;
  inFlight = 0;
  finished = false;
  failure: Error | undefined;

  constructor(readonly bodyStart: number) {
    this.stream.on('data', (chunk: Buffer) => {
      this.outputs.push(chunk);
      this.poke();
    });
    this.stream.on('end', () => {
      this.finished = true;
      this.poke();
    });
    this.stream.on('error', (error: Error & { code?: string }) => {
      if (!this.finished) this.failure ??= error;
      this.poke();
    });
  }

  get done(): boolean {
    return this.finished || this.failure !== undefined;
  }

  /** Output inflated and not taken yet. */
  get hasOutput(): boolean {
    return this.outputs.length > 0;
  }

  get consumed(): number {
    return this.stream.bytesWritten;
  }

  write(slice: Buffer): void {
    this.fed.push({ at: this.fedBytes, bytes: slice });
    this.fedBytes += slice.length;
    this.inFlight++;
    this.stream.write(slice, () => {
      this.inFlight--;
      this.poke();
    });
  }

  /** The input ended: zlib then says whether the deflate data was complete. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.stream.end();
  }

  /** Resolves once something happened (output, end, error, a slice processed) since the last take. */
  changed(): Promise<void> {
    if (this.dirty) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  take(): Buffer[] {
    this.dirty = false;
    const outputs = this.outputs;
    this.outputs = [];
    // Slices wholly consumed are not needed for the leftover any more.
    const consumed = this.consumed;
    while (this.fed.length > 1 && this.fed[0]!.at + this.fed[0]!.bytes.length <= consumed) this.fed.shift();
    return outputs;
  }

  /** The compressed bytes fed after the end of the deflate data. */
  leftover(): Buffer {
    const consumed = this.consumed;
    const parts = this.fed.filter((f) => f.at + f.bytes.length > consumed).map((f) => f.bytes.subarray(Math.max(0, consumed - f.at)));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  destroy(): void {
    this.stream.destroy();
  }

  private poke(): void {
    this.dirty = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
