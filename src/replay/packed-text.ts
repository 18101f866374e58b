/**
 * Texts kept as UTF-8 bytes in large blocks outside the JS heap, each found again by a
 * number. What a finished session leaves behind (its findings, its summary) is only read
 * once more, at the end; kept as heap strings it would grow the heap the garbage collector
 * traces after every few hundred records, and V8 sizes the heap to a multiple of what it
 * holds, so a log of thousands of sessions would cost several times its text in memory.
 *
 * Past `memoryLimit` bytes (1 MiB), full blocks go to a temporary file (as sort(1) spills), so a
 * replay's memory does not grow with the number of sessions behind it. The file is removed
 * as soon as it is open where the system allows it, else by `clear`, else at exit.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bytes per block; a longer text gets a block of its own. */
const BLOCK = 1 << 20;

/** Bytes of blocks kept in memory before full ones go to the temporary file. */
export const DEFAULT_PACKED_MEMORY = BLOCK;

interface SpillFile {
  readonly fd: number;
  /** Still to remove (where an open file cannot be removed). */
  dir?: string;
  size: number;
}

export class PackedTexts {
  /** Blocks in memory; a block written to the spill file is undefined here. */
  private readonly blocks: Array<Buffer | undefined> = [];
  /** Where each spilled block starts in the spill file. */
  private readonly fileOffsets: number[] = [];
  /** Per text: its block, its first byte, its byte length. */
  private readonly where: number[] = [];
  private used = BLOCK;
  private inMemory = 0;
  private spill: SpillFile | undefined;
  /** Spilling failed once (no writable temporary directory): everything stays in memory. */
  private noSpill = false;
  private scratch: Buffer | undefined;
  private readonly onExit = (): void => this.removeSpill();

  constructor(private readonly memoryLimit: number = DEFAULT_PACKED_MEMORY) {}

  get size(): number {
    return this.where.length / 3;
  }

  /** Whether some texts are in the temporary file (for tests). */
  get spilled(): boolean {
    return this.spill !== undefined;
  }

  /** Stores a text; returns its number. */
  add(text: string): number {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.used + bytes > BLOCK || this.blocks.length === 0) this.newBlock(bytes);
    const block = this.blocks.length - 1;
    this.blocks[block]!.write(text, this.used, bytes, 'utf8');
    this.where.push(block, this.used, bytes);
    this.used += bytes;
    return this.where.length / 3 - 1;
  }

  /** The text stored as number `n`. */
  get(n: number): string {
    const w = this.where;
    const block = w[n * 3]!;
    const start = w[n * 3 + 1]!;
    const length = w[n * 3 + 2]!;
    const inMemory = this.blocks[block];
    if (inMemory) return inMemory.toString('utf8', start, start + length);
    if (!this.scratch || this.scratch.length < length) this.scratch = Buffer.allocUnsafeSlow(Math.max(length, 64 * 1024));
    const position = this.fileOffsets[block]! + start;
    for (let read = 0; read < length; ) {
      const got = readSync(this.spill!.fd, this.scratch, read, length - read, position + read);
      if (got === 0) throw new Error(`packed text ${n}: the temporary file ended early`);
      read += got;
    }
    return this.scratch.toString('utf8', 0, length);
  }

  /** Releases every text (the numbers given out are no longer valid) and the temporary file. */
  clear(): void {
    this.blocks.length = 0;
    this.fileOffsets.length = 0;
    this.where.length = 0;
    this.used = BLOCK;
    this.inMemory = 0;
    this.scratch = undefined;
    this.removeSpill();
  }

  private newBlock(bytes: number): void {
    // The block being left is full: it may go to the file once memory holds enough.
    const last = this.blocks.length - 1;
    if (last >= 0 && this.inMemory > this.memoryLimit && !this.noSpill) this.spillBlock(last);
    const size = Math.max(BLOCK, bytes);
    this.blocks.push(Buffer.allocUnsafeSlow(size));
    this.inMemory += size;
    this.used = 0;
  }

  private spillBlock(index: number): void {
    const block = this.blocks[index]!;
    // Only the part written: a block is left when the next text does not fit.
    const length = index === this.blocks.length - 1 ? this.used : block.length;
    let spill = this.spill;
    try {
      if (!spill) {
        spill = this.spill = openSpill();
        if (spill.dir !== undefined) process.once('exit', this.onExit);
      }
      for (let written = 0; written < length; ) written += writeSync(spill.fd, block, written, length - written, spill.size + written);
    } catch {
      // A full disk or no temporary directory: memory it is.
      this.noSpill = true;
      return;
    }
    this.fileOffsets[index] = spill.size;
    spill.size += length;
    this.blocks[index] = undefined;
    this.inMemory -= block.length;
  }

  private removeSpill(): void {
    const spill = this.spill;
    if (!spill) return;
    this.spill = undefined;
    process.off('exit', this.onExit);
    try {
      closeSync(spill.fd);
    } catch {
      // Already closed.
    }
    if (spill.dir !== undefined) rmSync(spill.dir, { recursive: true, force: true });
  }
}

function openSpill(): SpillFile {
  const dir = mkdtempSync(join(tmpdir(), 'bridge-trace-'));
  const path = join(dir, 'packed');
  const fd = openSync(path, 'w+', 0o600);
  try {
    // POSIX keeps an open file after its name is gone: nothing is left behind even on a crash.
    unlinkSync(path);
    rmSync(dir, { recursive: true, force: true });
    return { fd, size: 0 };
  } catch {
    return { fd, dir, size: 0 };
  }
}
