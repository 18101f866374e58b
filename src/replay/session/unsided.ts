/**
 * Two sides recorded, and a record whose side could not be read (`side=JS`, a damaged frame).
 * With a seq, it is held until a side's seq numbers show the gap it fills, and is then that
 * side's damaged record (restored from the other side's copy, as any damaged record of a
 * known side). Without a seq, or once no side can still be missing it, it is reported at its
 * own place, and what follows from it is marked as its consequence.
 */
import type { BadRecord, Side } from '../../trace/record.js';

/** Damaged records of unknown side held at once for a side to claim. */
const MAX_HELD = 64;

export class UnsidedRecords {
  private held: BadRecord[] = [];

  /** Nothing is held (the usual case: checked for every record). */
  get empty(): boolean {
    return this.held.length === 0;
  }

  /** Holds the record for a side to claim; false when it must be reported now (no seq, or too many held). */
  hold(rec: BadRecord): boolean {
    if (rec.seq === undefined || this.held.length >= MAX_HELD) return false;
    this.held.push(rec);
    return true;
  }

  /** A side's record with seq `seq` follows its record `lastSeq`: the held records in between are that side's, in seq order. */
  claim(seq: number, lastSeq: number): BadRecord[] {
    if (this.held.length === 0) return [];
    const mine = this.held.filter((b) => b.seq! > lastSeq && b.seq! < seq).sort((a, b) => a.seq! - b.seq!);
    if (mine.length > 0) this.held = this.held.filter((b) => !mine.includes(b));
    return mine;
  }

  /**
   * The held records neither side can be missing any more (both sides are past their seq), or
   * all of them at the end; in seq order, each with the side it belongs to when that can be
   * told (at the end, the one side that never reached its seq was cut short by it).
   */
  release(all: boolean, lastRust: number, lastJs: number): Array<{ rec: BadRecord; side?: Side }> {
    if (this.held.length === 0) return [];
    const passed = Math.min(lastRust, lastJs);
    const done = all ? this.held : this.held.filter((b) => b.seq! <= passed);
    if (done.length === 0) return [];
    this.held = this.held.filter((b) => !done.includes(b));
    return done
      .sort((x, y) => x.seq! - y.seq!)
      .map((rec) => {
        const short = all ? ([['rust', lastRust], ['js', lastJs]] as const).filter(([, last]) => last < rec.seq!) : [];
        return short.length === 1 ? { rec, side: short[0]![0] } : { rec };
      });
  }
}
