import type { Finding } from '../replay/findings.js';
import { asFindingsBySession, type FindingsBySession, type SessionFindings } from './ci-sessions.js';
import { formatFindingLocation } from './location.js';

function xml(s: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the rest are escaped.
  return s
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Attribute values also keep their line breaks (a parser would fold a raw one to a space). */
function attr(s: string): string {
  return xml(s).replace(/\r/g, '&#13;').replace(/\n/g, '&#10;');
}

/**
 * JUnit XML: one test case per session, failed by one `<failure>` that lists its errors
 * (warnings go to `<system-out>`). Readable by GitHub, GitLab, Jenkins and the common JUnit viewers.
 */
export function junitXml(sessions: readonly SessionFindings[] | FindingsBySession, suiteName = 'bridge-trace'): string {
  return [...junitXmlChunks(asFindingsBySession(sessions), suiteName)].join('');
}

/**
 * `junitXml` in pieces, for a writer to send on as they come: it lists every finding, each
 * read in full only while its line is made.
 */
export function* junitXmlChunks(t: FindingsBySession, suiteName = 'bridge-trace'): Generator<string> {
  const table = t.findings;
  const isError = (i: number): boolean => table.severity(i) === 'error';
  const failures = t.sessions.reduce((n, s) => n + (s.findings.some(isError) ? 1 : 0), 0);
  const line = (f: Finding): string => `${f.severity}[${f.kind}] ${formatFindingLocation(f.location)}: ${f.message}`;
  yield '<?xml version="1.0" encoding="UTF-8"?>\n';
  yield `<testsuites name="${attr(suiteName)}" tests="${t.sessions.length}" failures="${failures}">\n`;
  yield `  <testsuite name="${attr(suiteName)}" tests="${t.sessions.length}" failures="${failures}" errors="0" skipped="0">\n`;
  for (const s of t.sessions) {
    yield `    <testcase classname="${attr(`bridge-trace.${s.input}`)}" name="${attr(s.label)}">\n`;
    // One failure per test case (several confuse most viewers): the first error as its
    // message, every error listed in its body. The body is escaped line by line: escaping
    // works character by character, so it is the same as escaping the whole.
    const errors = s.findings.filter(isError);
    if (errors.length) {
      const first = table.at(errors[0]!);
      const summary = errors.length === 1 ? `${first.kind}: ${first.message}` : `${errors.length} errors; first ${first.kind}: ${first.message}`;
      yield `      <failure type="${attr(first.kind)}" message="${attr(summary)}">`;
      yield* xmlLines(errors);
      yield '</failure>\n';
    }
    const others = s.findings.filter((i) => !isError(i));
    if (others.length) {
      yield '      <system-out>';
      yield* xmlLines(others);
      yield '</system-out>\n';
    }
    yield '    </testcase>\n';
  }
  yield '  </testsuite>\n';
  yield '</testsuites>\n';

  function* xmlLines(indexes: readonly number[]): Generator<string> {
    for (const [n, i] of indexes.entries()) yield `${n === 0 ? '' : '\n'}${xml(line(table.at(i)))}`;
  }
}
