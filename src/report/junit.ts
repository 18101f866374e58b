import type { SessionFindings } from './github.js';
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
export function junitXml(sessions: readonly SessionFindings[], suiteName = 'bridge-trace'): string {
  const errors = (s: SessionFindings) => s.findings.filter((f) => f.severity === 'error');
  const failures = sessions.reduce((n, s) => n + (errors(s).length > 0 ? 1 : 0), 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="${attr(suiteName)}" tests="${sessions.length}" failures="${failures}">`);
  out.push(`  <testsuite name="${attr(suiteName)}" tests="${sessions.length}" failures="${failures}" errors="0" skipped="0">`);
  for (const s of sessions) {
    out.push(`    <testcase classname="${attr(`bridge-trace.${s.input}`)}" name="${attr(s.label)}">`);
    // One failure per test case (several confuse most viewers): the first error as its
    // message, every error listed in its body.
    const list = errors(s);
    const first = list[0];
    if (first) {
      const summary = list.length === 1 ? `${first.kind}: ${first.message}` : `${list.length} errors; first ${first.kind}: ${first.message}`;
      const body = list.map((f) => `error[${f.kind}] ${formatFindingLocation(f.location)}: ${f.message}`).join('\n');
      out.push(`      <failure type="${attr(first.kind)}" message="${attr(summary)}">${xml(body)}</failure>`);
    }
    const others = s.findings.filter((f) => f.severity !== 'error');
    if (others.length) {
      out.push(`      <system-out>${xml(others.map((f) => `${f.severity}[${f.kind}] ${formatFindingLocation(f.location)}: ${f.message}`).join('\n'))}</system-out>`);
    }
    out.push('    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}
