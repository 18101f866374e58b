/**
 * Texts kept as UTF-8 bytes in large blocks outside the JS heap, each found again by a
 * number. What a finished session leaves behind (its findings, its summary) is only read
 * once more, at the end; kept as heap strings it would grow the heap the garbage collector
 * traces after every few hundred records, and V8 sizes the heap to a multiple of what it
 * holds, so a log of thousands of sessions would cost several times its text in memory.
 */

/** Bytes per block; a longer text gets a block of its own. */
const BLOCK = 1 << 20;

export class PackedTexts {
  private readonly blocks: Buffer[] = [];
  /** Per text: its block, its first byte, its byte length. */
  private readonly where: number[] = [];
  private used = BLOCK;

  get size(): number {
    return this.where.length / 3;
  }

  /** Stores a text; returns its number. */
  add(text: string): number {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.used + bytes > BLOCK || this.blocks.length === 0) {
      this.blocks.push(Buffer.allocUnsafeSlow(Math.max(BLOCK, bytes)));
      this.used = 0;
    }
    const block = this.blocks.length - 1;
    this.blocks[block]!.write(text, this.used, bytes, 'utf8');
    this.where.push(block, this.used, bytes);
    this.used += bytes;
    return this.where.length / 3 - 1;
  }

  /** The text stored as number `n`. */
  get(n: number): string {
    const w = this.where;
    const start = w[n * 3 + 1]!;
    return this.blocks[w[n * 3]!]!.toString('utf8', start, start + w[n * 3 + 2]!);
  }

  /** Releases every text (the numbers given out are no longer valid). */
  clear(): void {
    this.blocks.length = 0;
    this.where.length = 0;
    this.used = BLOCK;
  }
}
