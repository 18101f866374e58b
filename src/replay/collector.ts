/**
 * Collects findings and decides which ones are root causes and which are consequences.
 *
 * Policy (docs/findings.md, "Cascades"):
 * - A finding is a consequence when it names its cause (the same check, a record that was
 *   lost or damaged, a crossing of the same exchange), or when it is of a *symptom* kind
 *   (an ID that JS does not have, a Respond that never came, drifting counters, ...) and an
 *   earlier root in the same session desynchronised the sides. Its `causedBy` is the index
 *   of that root; the root's `consequences` counts them.
 * - Consequences are kept up to `maxConsequences` per root; the rest are only counted
 *   (`detail.suppressedConsequences` on the root) and not stored.
 * - Roots of one kind in one session beyond `maxRootsPerKind` are only counted (session
 *   summary `suppressed`), so memory stays bounded on huge broken traces.
 * - The result lists every root first, ordered by where it was detected, then every kept
 *   consequence in the same order.
 */
import type { Finding, FindingKind, FindingTable, Severity } from './findings.js';
import { BoundedMap } from './ids.js';
import { PackedTexts } from './packed-text.js';

/** Kinds that are usually what an earlier desync looks like later on. */
export const SYMPTOM_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>([
  'placeholder-id-mismatch',
  'freelist-divergence',
  'id-alias',
  'counter-drift',
  'respond-shape-mismatch',
  'respond-without-evaluate',
  'unanswered-evaluate',
  'borrow-frame-unbalanced',
  'use-after-free',
  'unknown-heap-id',
  'double-free',
  'install-mismatch',
  'reserved-id-occupied',
  'unknown-type-id',
  'unknown-callback',
  'misrouted-respond',
  'borrow-ref-escaped',
  'lost-respond',
  'leak-summary',
]);

/** Roots of these kinds do not make later findings consequences (they do not desync the sides). */
const NON_CASCADING: ReadonlySet<FindingKind> = new Set<FindingKind>(['trailing-bytes', 'non-ascii-string', 'leak-summary', 'type-redefined']);

/** Kinds that mean context was lost: decode problems flagged as consequences point here. */
const DAMAGE_KINDS: ReadonlySet<FindingKind> = new Set<FindingKind>(['bad-record', 'records-lost', 'decode-error', 'invalid-header']);

interface Item {
  readonly id: number;
  /** The finding; once its session is finished, the number of its JSON text in `packed`. */
  finding: Finding | number;
  /** What a summary and a table read of the finding without reading a packed one back (`noteFacts`). */
  kind: FindingKind;
  severity: Severity;
  certainty: Finding['certainty'];
  ctx: string | undefined;
  /** The finding's own fields, before the result links it. */
  ownConsequences: number | undefined;
  ownCausedBy: number | undefined;
  readonly session: number;
  /** Detection position in its session (event counter). */
  readonly at: number;
  readonly root: boolean;
  readonly causedBy: number | undefined;
  consequences: number;
  suppressed: number;
}

interface SessionState {
  active?: number;
  damage?: number;
  readonly keys: BoundedMap<string, number>;
  readonly roots: Map<FindingKind, number>;
  readonly suppressed: Map<FindingKind, number>;
  readonly byKind: Map<FindingKind, number>;
  /** The kept findings of the session, to pack when it is finished. */
  readonly items: Item[];
}

export interface AddOptions {
  /** Identity for de-duplication and for `causedByKey` links. */
  key?: string;
  /** Link to the finding with this key in the same session. */
  causedByKey?: string;
  /** Link to the last damaged or lost record of the session. */
  damage?: boolean;
  /** Never a consequence (independent evidence such as a crossing). */
  forceRoot?: boolean;
  /** Link to a specific earlier finding. */
  causedById?: number;
  /** A root that does not make later findings its consequences (nothing was lost by it). */
  passive?: boolean;
}

export class Collector {
  private items = new Map<number, Item>();
  private readonly sessions = new Map<number, SessionState>();
  private serial = 0;
  private readonly packed = new PackedTexts();

  constructor(
    private readonly maxConsequences: number,
    private readonly maxRootsPerKind: number,
    /** Findings kept over all sessions; past it they are only counted, so memory stays bounded. */
    private readonly maxFindings: number = Number.POSITIVE_INFINITY,
  ) {}

  private state(session: number): SessionState {
    let s = this.sessions.get(session);
    if (!s) {
      s = { keys: new BoundedMap(100_000), roots: new Map(), suppressed: new Map(), byKind: new Map(), items: [] };
      this.sessions.set(session, s);
    }
    return s;
  }

  /**
   * Adds a finding. Returns its id and whether it is a root, or undefined when it was a
   * duplicate or is only counted (beyond the limits).
   */
  add(session: number, at: number, f: Finding, o: AddOptions = {}): { id: number; root: boolean } | undefined {
    const s = this.state(session);
    if (o.key !== undefined && s.keys.has(o.key)) return undefined;
    s.byKind.set(f.kind, (s.byKind.get(f.kind) ?? 0) + 1);
    let cause: number | undefined;
    if (o.causedById !== undefined) cause = o.causedById;
    else if (o.causedByKey !== undefined) cause = s.keys.get(o.causedByKey);
    if (cause === undefined && o.damage) cause = s.damage;
    if (cause === undefined && !o.forceRoot && SYMPTOM_KINDS.has(f.kind)) cause = s.active;
    // Follow the chain to its root.
    let root = cause === undefined ? undefined : this.items.get(cause);
    while (root && !root.root && root.causedBy !== undefined) root = this.items.get(root.causedBy);
    if (cause !== undefined && !root) cause = undefined;
    if (root) {
      root.consequences++;
      if (root.consequences > this.maxConsequences) {
        root.suppressed++;
        return undefined;
      }
    } else {
      const n = (s.roots.get(f.kind) ?? 0) + 1;
      s.roots.set(f.kind, n);
      if (n > this.maxRootsPerKind) {
        s.suppressed.set(f.kind, (s.suppressed.get(f.kind) ?? 0) + 1);
        return undefined;
      }
    }
    if (this.items.size >= this.maxFindings) {
      s.suppressed.set(f.kind, (s.suppressed.get(f.kind) ?? 0) + 1);
      return undefined;
    }
    const id = this.serial++;
    const item: Item = {
      id,
      finding: f,
      kind: f.kind,
      severity: f.severity,
      certainty: f.certainty,
      ctx: f.location.ctx,
      ownConsequences: f.consequences,
      ownCausedBy: f.causedBy,
      session,
      at,
      root: !root,
      causedBy: root ? root.id : undefined,
      consequences: 0,
      suppressed: 0,
    };
    this.items.set(id, item);
    s.items.push(item);
    if (!root) {
      if (!o.passive && !NON_CASCADING.has(f.kind) && f.severity !== 'info') s.active = id;
      if (!o.passive && DAMAGE_KINDS.has(f.kind)) s.damage = id;
    }
    if (o.key !== undefined) s.keys.set(o.key, id);
    return { id, root: !root };
  }

  /** Rewrites a kept finding, found by its key (later evidence completes it). */
  amend(session: number, key: string, change: (f: Finding) => Finding): void {
    const id = this.sessions.get(session)?.keys.get(key);
    const item = id === undefined ? undefined : this.items.get(id);
    if (!item || typeof item.finding === 'number') return;
    item.finding = change(item.finding);
    noteFacts(item, item.finding);
  }

  /**
   * Drops a finished session's bookkeeping. Its findings stay, packed as JSON text outside
   * the heap (packed-text.ts): nothing changes them any more, and a log of thousands of
   * sessions keeps thousands of findings. (Findings are plain data: JSON gives them back as they are.)
   */
  forget(session: number): void {
    const s = this.sessions.get(session);
    if (!s) return;
    for (const item of s.items) if (typeof item.finding !== 'number') item.finding = this.packed.add(JSON.stringify(item.finding));
    this.sessions.delete(session);
  }

  /** Findings of a session by kind (every finding, kept or not). */
  countsFor(session: number): Record<string, number> {
    return Object.fromEntries(this.state(session).byKind);
  }

  suppressedFor(session: number): Record<string, number> {
    return Object.fromEntries(this.state(session).suppressed);
  }

  /**
   * Orders and links the findings. They are read back one at a time as `findings` is
   * iterated, or as a table asks for one (see PackedFindings), so a report need not hold them
   * all. `idMap` maps internal ids to result indices.
   */
  finalizeStream(sessionOrder: (session: number) => number): OrderedFindings {
    const kept = [...this.items.values()];
    this.items.clear();
    const cmp = (a: Item, b: Item): number => sessionOrder(a.session) - sessionOrder(b.session) || a.at - b.at || a.id - b.id;
    const roots = kept.filter((i) => i.root).sort(cmp);
    const ordered = roots.concat(kept.filter((i) => !i.root).sort(cmp));
    const idMap = new Map<number, number>();
    const bySeverity: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
    const byKind: Record<string, number> = {};
    ordered.forEach((i, n) => {
      idMap.set(i.id, n);
      bySeverity[i.severity]++;
      byKind[i.kind] = (byKind[i.kind] ?? 0) + 1;
    });
    const packed = this.packed;
    /** Item `i` as a finding of the result: read back, with its links and counts. */
    const whole = (i: Item): Finding => {
      const f: Finding = typeof i.finding === 'number' ? (JSON.parse(packed.get(i.finding)) as Finding) : { ...i.finding };
      if (i.root && i.consequences > 0) {
        f.consequences = i.consequences;
        if (i.suppressed > 0) f.detail = { ...f.detail, suppressedConsequences: i.suppressed };
      }
      if (!i.root && i.causedBy !== undefined) {
        const idx = idMap.get(i.causedBy);
        if (idx !== undefined) f.causedBy = idx;
      }
      return f;
    };
    let used = false;
    const once = (): void => {
      if (used) throw new Error('the findings of an analysis are read once');
      used = true;
    };
    function* read(): Generator<Finding> {
      once();
      try {
        for (let n = 0; n < ordered.length; n++) {
          const f = whole(ordered[n]!);
          // Nothing of it is needed once handed over.
          ordered[n] = undefined as unknown as Item;
          yield f;
        }
      } finally {
        packed.clear();
      }
    }
    const table = (): FindingTable => {
      once();
      return {
        length: ordered.length,
        at: (n) => whole(ordered[n]!),
        kind: (n) => ordered[n]!.kind,
        severity: (n) => ordered[n]!.severity,
        certainty: (n) => ordered[n]!.certainty,
        // As `whole` links them.
        causedBy: (n) => {
          const i = ordered[n]!;
          const idx = !i.root && i.causedBy !== undefined ? idMap.get(i.causedBy) : undefined;
          return idx ?? i.ownCausedBy;
        },
        consequences: (n) => {
          const i = ordered[n]!;
          return i.root && i.consequences > 0 ? i.consequences : i.ownConsequences;
        },
        ctx: (n) => ordered[n]!.ctx,
      };
    };
    const findings: PackedFindings = { [Symbol.iterator]: read, table };
    return { count: ordered.length, roots: roots.length, bySeverity, byKind, idMap, findings };
  }
}

/** Keeps on an item what a summary and a table read of its finding. */
function noteFacts(item: Item, f: Finding): void {
  item.kind = f.kind;
  item.severity = f.severity;
  item.certainty = f.certainty;
  item.ctx = f.location.ctx;
  item.ownConsequences = f.consequences;
  item.ownCausedBy = f.causedBy;
}

/**
 * The findings of an analysis in result order, read back from where the replay packed them.
 * Read them once: iterate (each finding whole, then released), or take a table (any one
 * read back when asked for; the pack then stays as long as the table).
 */
export interface PackedFindings extends Iterable<Finding> {
  table(): FindingTable;
}

/** The kept findings in result order, with what the summary needs counted beforehand. */
export interface OrderedFindings {
  readonly count: number;
  readonly roots: number;
  readonly bySeverity: Record<Severity, number>;
  readonly byKind: Record<string, number>;
  readonly idMap: Map<number, number>;
  /** In result order, read once. */
  readonly findings: PackedFindings;
}
