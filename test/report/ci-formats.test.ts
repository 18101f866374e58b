import { describe, expect, it } from 'vitest';
import { escapeData, escapeProperty, githubAnnotations, stepSummaryMarkdown } from '../../src/report/github.js';
import { junitXml } from '../../src/report/junit.js';
import type { Finding } from '../../src/replay/findings.js';

const root: Finding = {
  kind: 'placeholder-id-mismatch',
  severity: 'error',
  message: 'cb2: Rust #136, JS stored it at #134\nsecond line, 100% sure: yes',
  location: { input: 'ci/job.log', line: 1204, side: 'js', seq: 3, op: 1 },
  rustId: 136,
  jsId: 134,
  consequences: 4,
};
const later: Finding = { kind: 'unknown-heap-id', severity: 'error', message: '136 is empty', location: { input: 'ci/job.log', line: 1210 }, causedBy: 0 };
const note: Finding = { kind: 'non-ascii-string', severity: 'info', message: 'héllo <&>', location: { input: 'ci/job.log', line: 9 } };

describe('GitHub annotations', () => {
  it('escape data and properties as the Actions toolkit does', () => {
    expect(escapeData('a%b\r\nc')).toBe('a%25b%0D%0Ac');
    expect(escapeProperty('a:b,c%')).toBe('a%3Ab%2Cc%25');
  });

  it('one ::error per root finding, with file, line and title; consequences counted, not repeated', () => {
    const lines = githubAnnotations([{ label: 'webview-1', input: 'ci/job.log', findings: [root, later, note] }]);
    expect(lines).toEqual([
      '::error file=ci/job.log,line=1204,title=bridge-trace placeholder-id-mismatch (webview-1)::cb2: Rust #136, JS stored it at #134%0Asecond line, 100%25 sure: yes (+4 consequences)',
    ]);
    expect(githubAnnotations([{ label: 'x', input: 'a', findings: [note] }], 'info')[0]).toMatch(/^::notice file=ci\/job.log,line=9,title=bridge-trace non-ascii-string \(x\)::héllo <&>$/);
  });

  it('the step summary is a bounded Markdown table', () => {
    const md = stepSummaryMarkdown([{ label: 'a|b', input: 'x', findings: [root, note] }, { label: 'clean', input: 'x', findings: [] }]);
    expect(md).toContain('| a\\|b | 1 | 0 | 1 | `placeholder-id-mismatch`: cb2: Rust #136, JS stored it at #134 second line, 100% sure: yes |');
    expect(md).toContain('| clean | 0 | 0 | 0 | clean |');
    const many = Array.from({ length: 5000 }, (_, i) => ({ label: `s${i}`, input: 'x', findings: [root] }));
    const cut = stepSummaryMarkdown(many, 8192);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(8192);
    expect(cut).toMatch(/\d+ more sessions not shown/);
  });
});

describe('JUnit XML', () => {
  it('one test case per session, one failure listing its error findings, escaped', () => {
    const out = junitXml([
      { label: 'webview-1', input: 'job.log', findings: [root, later, note] },
      { label: 'webview-2', input: 'job.log', findings: [] },
    ]);
    expect(out).toContain('<testsuite name="bridge-trace" tests="2" failures="1" errors="0" skipped="0">');
    expect(out.match(/<failure /g)).toHaveLength(1);
    expect(out).toContain('<failure type="placeholder-id-mismatch" message="2 errors; first placeholder-id-mismatch: cb2: Rust #136, JS stored it at #134&#10;second line, 100% sure: yes">');
    expect(out.match(/error\[/g)).toHaveLength(2);
    expect(out).toContain('info[non-ascii-string] ci/job.log:9: héllo &lt;&amp;&gt;');
    expect(out).toContain('<testcase classname="bridge-trace.job.log" name="webview-2">\n    </testcase>');
  });
});
