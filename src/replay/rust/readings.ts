/**
 * Reading forks (allocators.md §4 "Telling L-R1 from L-R2"): a lone HeapRef op may have taken
 * its placeholder before sending or after its J-Resp; the readings part only once something
 * nested allocates while it is open.
 */
import type { DecodedMessage } from '../../protocol/messages.js';
import { forEachRef, type Value } from '../../protocol/values.js';
import type { Origin } from '../ids.js';
import { locationOf } from '../context.js';
import type { Reading } from './state.js';
import { RustPlacements } from './plan.js';

const NONE: readonly number[] = [];

export abstract class RustReadings extends RustPlacements {
  /**
   * Serials of open R-Evals whose lone HeapRef op is still ambiguous, if this message makes
   * Rust allocate while they are open: the two readings give different IDs from here on.
   */
  ambiguousBefore(d: DecodedMessage): readonly number[] {
    if (this.allocator === 'explicit') return NONE;
    const closes = d.kind === 'j-resp' ? d.exchange?.serial : undefined;
    let candidates: number[] | undefined;
    for (const f of this.frames) {
      if (f.ambiguous && f.ambiguous.reading === undefined && f.serial !== closes) (candidates ??= []).push(f.serial);
    }
    if (!candidates || this.allocations(d) === 0) return NONE;
    return candidates;
  }

  /** The reading preferred when nothing decides: unbatched in legacy*, batched where N says so. */
  preferredReading(): Reading {
    return this.allocator === 'reservation-count' ? 'L-R1' : 'L-R2';
  }

  /** Commits a reading of an ambiguous R-Eval. L-R1 takes the placeholder now, as of sending. */
  decide(serial: number, reading: Reading): void {
    const f = this.frames.find((x) => x.serial === serial);
    if (!f?.ambiguous || f.ambiguous.reading) return;
    f.ambiguous.reading = reading;
    if (reading === 'L-R1') {
      const op = f.ops[f.ambiguous.op - 1]!;
      const origin: Origin = { no: f.lm.no, op: op.index };
      const id = this.claim(f.ambiguous.tentative);
      this.born(id, this.info(origin, 'result', this.ctx.fnName(op), locationOf(this.ctx, f.lm, 'rust', op.index)));
      const i = f.post.indexOf(op.index);
      if (i >= 0) f.post.splice(i, 1);
    }
  }

  /** How many IDs Rust's `next()` would hand out for this message (0 if none). */
  protected allocations(d: DecodedMessage): number {
    const body = d.body;
    if (!body) return 0;
    let n = 0;
    const countRefs = (v: Value | undefined): void => {
      if (v) forEachRef(v, (r) => (r.kind === 'heapref' ? n++ : undefined));
    };
    switch (body.kind) {
      case 'j-eval':
        if (body.call.kind === 'callback') body.call.args.forEach(countRefs);
        return n;
      case 'r-eval':
        return this.plan(body).placeholder.filter(Boolean).length;
      case 'j-resp': {
        const f = this.frames.find((x) => x.serial === d.exchange?.serial);
        if (!f) return 0;
        n += f.post.length;
        const last = body.results[body.results.length - 1];
        if (last && last.type.kind !== 'heapref') countRefs(last.value);
        return n;
      }
      default:
        return 0;
    }
  }
}
