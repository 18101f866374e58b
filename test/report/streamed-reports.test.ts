import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, analyzeStream } from '../../src/replay/index.js';
import { Chalk } from 'chalk';
import { analysisStreamToJson, analysisToJson, renderAnalysisText, tableIds } from '../../src/report/analysis.js';
import { viewOfStream } from '../../src/report/analysis-view.js';
import { findingIds } from '../../src/report/finding-ids.js';
import { jsonDocument } from '../../src/report/json-chunks.js';
import { openTraceBatches } from '../../src/trace/source.js';
import { findingsBySession } from '../../src/report/ci-sessions.js';
import { githubAnnotations, stepSummaryMarkdown } from '../../src/report/github.js';
import { junitXml, junitXmlChunks } from '../../src/report/junit.js';

// A broken sample (one root cause, five consequences, a first divergence), and the same under
// 100 ctx labels one after another: past the open-session limit, sessions retire and their
// findings and summaries are packed, so the stream reads them back.
const sample = 'traces/deep-nesting.legacy.batch.log';
const lines = readFileSync(sample, 'utf8').split('\n').filter((l) => l.startsWith('@btrace'));
const many = join(mkdtempSync(join(tmpdir(), 'btrace-stream-')), 'many.log');
const copies = Array.from({ length: 100 }, (_, i) => lines.map((l) => l.replace(/^@btrace (meta )?/, (m) => `${m}ctx=s${i} `)));
writeFileSync(many, copies.flat().join('\n') + '\n');

const text = (chunks: Iterable<string>): string => [...chunks].join('');

describe('analysisStreamToJson', () => {
  // Arrays of 64 elements or more are written piecewise; shorter ones in one piece.
  for (const [name, file, sessions, findings] of [
    ['one session, few findings', sample, 1, 6],
    ['100 sessions retired as they go, 600 findings', many, 100, 600],
  ] as const) {
    it(`writes the same document as analysisToJson of the collected result: ${name}`, async () => {
      const options = { maxActiveSessions: 8 };
      const result = await analyze({ batches: openTraceBatches(file) }, options);
      const streamed = text(jsonDocument(analysisStreamToJson(await analyzeStream({ batches: openTraceBatches(file) }, options), [file])));
      const collected = text(jsonDocument(analysisToJson(result, [file])));
      expect(result.firstDivergence).toBeDefined();
      expect([result.sessions.length, result.findings.length]).toEqual([sessions, findings]);
      expect(streamed).toBe(collected);
      expect(streamed).toBe(JSON.stringify(analysisToJson(result, [file]), null, 2) + '\n');
      const doc = JSON.parse(streamed) as { sessions: unknown[]; findings: Array<{ causedById?: string }>; firstDivergence: { id: string } };
      expect(doc.sessions).toHaveLength(result.sessions.length);
      expect(doc.findings).toHaveLength(result.findings.length);
      expect(doc.findings.some((f) => f.causedById !== undefined)).toBe(true);
      expect(doc.firstDivergence.id).toMatch(/^[0-9a-f]{6}/);
    });
  }

  it('reads the findings once: a second pass, or a table after a pass, is an error', async () => {
    const stream = await analyzeStream({ batches: openTraceBatches(many) }, { maxActiveSessions: 8 });
    expect([...stream.findings]).toHaveLength(stream.summary.findings);
    expect(() => [...stream.findings]).toThrow(/read once/);
    expect(() => stream.findings.table()).toThrow(/read once/);
    expect([...stream.sessions]).toHaveLength(100);
  });
});

describe('the text report of a streamed analysis', () => {
  for (const [name, file] of [
    ['one session', sample],
    ['100 sessions, most packed', many],
  ] as const) {
    it(`reads as that of the collected result: ${name}`, async () => {
      const options = { maxActiveSessions: 8 };
      const result = await analyze({ batches: openTraceBatches(file) }, options);
      for (const opts of [{}, { quiet: true }, { maxFindings: 2 }]) {
        const view = viewOfStream(await analyzeStream({ batches: openTraceBatches(file) }, options));
        expect(tableIds(view.findings)).toEqual(findingIds(result.findings));
        expect(renderAnalysisText(view, [file], new Chalk({ level: 1 }), opts)).toEqual(renderAnalysisText(result, [file], new Chalk({ level: 1 }), opts));
      }
    });
  }

  it('gives in its table the same facts and findings as the collected result', async () => {
    const options = { maxActiveSessions: 8 };
    const result = await analyze({ batches: openTraceBatches(many) }, options);
    const table = (await analyzeStream({ batches: openTraceBatches(many) }, options)).findings.table();
    expect(table.length).toBe(result.findings.length);
    for (let i = 0; i < table.length; i++) {
      const f = result.findings[i]!;
      expect([table.kind(i), table.severity(i), table.certainty(i), table.causedBy(i), table.consequences(i), table.ctx(i)]).toEqual([f.kind, f.severity, f.certainty, f.causedBy, f.consequences, f.location.ctx]);
      expect(JSON.stringify(table.at(i))).toBe(JSON.stringify(f));
    }
    expect(result.findings.some((f) => f.consequences)).toBe(true);
  });
});

describe('the CI reports of a streamed analysis', () => {
  it('are those of the findings collected and grouped by session', async () => {
    const options = { maxActiveSessions: 8 };
    const result = await analyze({ batches: openTraceBatches(many) }, options);
    const ids = findingIds(result.findings);
    const idOf = new Map(result.findings.map((f, i) => [f, ids[i]!] as const));
    // Grouped by hand: one entry per session ctx, each with its findings in order.
    const collected = result.sessions.map((s) => ({ label: s.ctx ?? many, input: many, findings: result.findings.filter((f) => f.location.ctx === s.ctx) }));
    const view = viewOfStream(await analyzeStream({ batches: openTraceBatches(many) }, options));
    const bySession = findingsBySession(view, [many], { ids: tableIds(view.findings) });
    expect(bySession.sessions).toHaveLength(100);
    expect(githubAnnotations(bySession)).toEqual(githubAnnotations(collected, { idOf: (f) => idOf.get(f) }));
    expect(stepSummaryMarkdown(bySession)).toBe(stepSummaryMarkdown(collected, undefined, (f) => idOf.get(f)));
    expect(stepSummaryMarkdown(bySession)).toContain(`\`${ids[0]}\``);
    expect(text(junitXmlChunks(bySession))).toBe(junitXml(collected));
    expect(junitXml(collected).match(/<testcase /g)).toHaveLength(100);
  });
});
