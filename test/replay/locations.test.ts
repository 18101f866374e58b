import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/replay/index.js';
import { openTrace } from '../../src/trace/source.js';

/**
 * Issue 12, item 6: every finding has a place in the trace, a line or a byte offset of a named input.
 * Findings about state that is only wrong at the end (an unbalanced borrow stack, what is alive, values
 * never installed) are placed at the exchange that left it so or at the session's last record.
 */
const tracesDir = new URL('../../traces/', import.meta.url).pathname;
const samples = readdirSync(tracesDir).filter((f) => f.endsWith('.log') || f.endsWith('.btrace')).sort();

describe('every finding of every sample has a line or an offset', () => {
  for (const sample of samples) {
    it(sample, async () => {
      const r = await analyze(openTrace(`${tracesDir}${sample}`), { reportLeaks: true });
      for (const f of r.findings) {
        expect(f.location.input, `${f.kind}: ${f.message}`).not.toBe('');
        expect(f.location.line ?? f.location.offset, `${f.kind}: ${f.message}`).toBeDefined();
      }
    });
  }

  it('the end-of-trace kinds are among them', async () => {
    const kinds = new Set<string>();
    for (const sample of samples) for (const f of (await analyze(openTrace(`${tracesDir}${sample}`), { reportLeaks: true })).findings) kinds.add(f.kind);
    expect(kinds).toContain('borrow-frame-unbalanced');
    expect(kinds).toContain('leak-summary');
  });

  it('borrow-frame-unbalanced is at the innermost exchange left open (deep-nesting legacy: msg 3 at line 8)', async () => {
    const r = await analyze(openTrace(`${tracesDir}deep-nesting.legacy.batch.log`));
    const f = r.findings.find((x) => x.kind === 'borrow-frame-unbalanced');
    expect(f?.location).toMatchObject({ line: 8, side: 'js', message: 3 });
  });
});
