import { describe, expect, it } from 'vitest';
import { FINDING_KINDS, type FindingKind } from '../../src/replay/findings.js';
import { analyze } from '../../src/replay/index.js';
import { show } from './helpers.js';
import * as S from './scenarios.js';

/** Every finding kind: a trace that shows it, and its clean twin that shows nothing at all. */
const CASES: Record<FindingKind, (bad: boolean) => S.Case> = {
  'placeholder-id-mismatch': S.legacyDeep,
  'freelist-divergence': S.freelist,
  'reservation-underfilled': S.underfilled,
  'reservation-overfilled': S.overfilled,
  'crossed-in-flight': S.crossed,
  'id-alias': S.idAlias,
  'counter-drift': S.underfilled,
  'misrouted-respond': (bad) => S.misroutedById(bad ? 'set-aside' : 'clean'),
  'respond-shape-mismatch': S.respondShapeMismatch,
  'respond-without-evaluate': S.respondWithoutEvaluate,
  'unanswered-evaluate': S.unanswered,
  'lost-respond': S.lostRespond,
  'borrow-frame-unbalanced': S.borrowUnbalanced,
  'borrow-ref-escaped': S.borrowEscaped,
  'borrow-stack-overflow': (bad) => S.borrowDepth(bad ? 128 : 127),
  'use-after-free': S.exampleC,
  'unknown-heap-id': S.unknownHeapId,
  'double-free': S.doubleFree,
  'nested-encode-order': S.nestedEncodeOrder,
  'install-mismatch': S.explicitInstall,
  'reserved-id-occupied': S.explicitOccupied,
  'id-reused-before-drop': S.explicitReuse,
  'unknown-type-id': S.typeRace,
  'type-redefined': S.typeRedefined,
  'unknown-callback': S.unknownCallback,
  'unknown-call-kind': S.unknownCallKind,
  'invalid-header': S.invalidHeader,
  'decode-error': S.decodeError,
  'trailing-bytes': S.trailingBytes,
  'non-ascii-string': S.nonAscii,
  'bad-record': S.badRecord,
  'records-lost': S.recordsLost,
  'side-missing-record': S.sideMissing,
  'side-bytes-differ': S.bytesDiffer,
  'js-heap-disagrees': S.heapFile,
  'leak-summary': S.leaks,
};

describe('every finding kind has a trigger and a clean twin', () => {
  for (const kind of FINDING_KINDS) {
    it(kind, async () => {
      const make = CASES[kind];
      const bad = make(true);
      const r = await analyze(bad.records, bad.options);
      const hit = r.findings.find((f) => f.kind === kind);
      expect(hit, show(r)).toBeDefined();
      expect(hit!.location.input).toBeTypeOf('string');
      expect(['error', 'warning', 'info']).toContain(hit!.severity);
      const good = make(false);
      const c = await analyze(good.records, good.options);
      expect(c.findings, show(c)).toEqual([]);
    });
  }

  it('a second trigger for use-after-free and unknown-type-id', async () => {
    const a = await analyze(S.useAfterFree(true).records);
    expect(a.findings.map((f) => f.kind)).toEqual(['use-after-free']);
    const b = await analyze(S.unknownTypeIdNeverDefined(true).records);
    expect(b.findings.map((f) => f.kind)).toEqual(['unknown-type-id']);
    const c = await analyze(S.misroutedById('not-open').records);
    expect(c.findings[0]).toMatchObject({ kind: 'misrouted-respond', severity: 'error' });
  });
});

describe('docs/findings.md', () => {
  it('has a section for every kind, with its metadata', async () => {
    const { readFile } = await import('node:fs/promises');
    const { FINDING_INFO } = await import('../../src/replay/findings.js');
    const doc = await readFile(new URL('../../docs/findings.md', import.meta.url), 'utf8');
    for (const kind of FINDING_KINDS) {
      expect(doc, kind).toContain(`### \`${kind}\``);
      expect(FINDING_INFO[kind].summary.length).toBeGreaterThan(0);
    }
  });
});
