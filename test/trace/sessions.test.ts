import { describe, expect, it } from 'vitest';
import type { MessageRecord, MetaRecord } from '../../src/trace/record.js';
import { SessionRouter } from '../../src/trace/sessions.js';

const msg = (ctx: string | undefined, line: number): MessageRecord => ({ kind: 'message', dir: 'r2j', data: new Uint8Array(0), ...(ctx !== undefined && { ctx }), loc: { input: 't', line } });
const meta = (ctx: string | undefined, line: number): MetaRecord => ({ kind: 'meta', rev: 'legacy', fields: [['rev', 'legacy']], ...(ctx !== undefined && { ctx }), loc: { input: 't', line } });

/** A router whose sink logs what it is told, as `event ctx line`. */
function logged(maxOpen: number): { router: SessionRouter<{ ctx: string | undefined }>; log: string[] } {
  const log: string[] = [];
  const router = new SessionRouter<{ ctx: string | undefined }>(
    {
      start: (ctx, order, reopened) => {
        log.push(`start ${ctx ?? '-'} #${order}${reopened ? ' again' : ''}`);
        return { ctx };
      },
      record: (s, r) => log.push(`record ${s.ctx ?? '-'} ${r.loc.line}`),
      meta: (s, m) => log.push(`meta ${s.ctx ?? '-'} ${m.loc.line}`),
      closeIdle: (s) => log.push(`close ${s.ctx ?? '-'}`),
    },
    maxOpen,
  );
  return { router, log };
}

describe('SessionRouter', () => {
  it('gives a ctx meta record to its session, holding it until the session starts', () => {
    const { router, log } = logged(8);
    for (const r of [meta('b', 1), msg('a', 2), meta('a', 3), msg('b', 4), msg(undefined, 5)]) router.push(r);
    expect(log).toEqual(['start a #0', 'record a 2', 'meta a 3', 'start b #1', 'meta b 1', 'record b 4', 'start - #2', 'record - 5']);
  });

  it('gives a meta record without ctx to every open session and keeps it for later ones', () => {
    const { router, log } = logged(8);
    for (const r of [msg('a', 1), msg('b', 2), meta(undefined, 3), msg('c', 4)]) router.push(r);
    expect(log).toEqual(['start a #0', 'record a 1', 'start b #1', 'record b 2', 'meta a 3', 'meta b 3', 'start c #2', 'record c 4']);
    expect(router.globalMeta.map((m) => m.loc.line)).toEqual([3]);
  });

  it('closes the session seen least recently past the limit, and says when its ctx comes back', () => {
    const { router, log } = logged(2);
    for (const r of [msg('a', 1), msg('b', 2), msg('a', 3), msg('c', 4), msg('b', 5), msg('a', 6)]) router.push(r);
    // a was seen after b, so b is the one closed when c starts; then a when b starts again.
    expect(log).toEqual(['start a #0', 'record a 1', 'start b #1', 'record b 2', 'record a 3', 'start c #2', 'close b', 'record c 4', 'start b #3 again', 'close a', 'record b 5', 'start a #4 again', 'close c', 'record a 6']);
    expect(router.openSessions().map((s) => s.ctx)).toEqual(['b', 'a']);
  });

  it('keeps the newest 64 meta records without ctx for sessions still to come', () => {
    const { router } = logged(8);
    for (let i = 1; i <= 70; i++) router.push(meta(undefined, i));
    expect(router.globalMeta.map((m) => m.loc.line)).toEqual(Array.from({ length: 64 }, (_, i) => i + 7));
  });
});
