import type { TraceRecord } from '../trace/record.js';

/**
 * The records of one session (`--ctx LABEL`): its messages and bad records, and the meta
 * records that apply to it (its own and those without a ctx, which apply to every session).
 */
export function onlyCtx(records: AsyncIterable<TraceRecord>, ctx: string): AsyncIterable<TraceRecord> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const r of records) {
        if (r.ctx === ctx || (r.kind === 'meta' && r.ctx === undefined)) yield r;
      }
    },
  };
}
