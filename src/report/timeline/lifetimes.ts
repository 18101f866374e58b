/**
 * Heap-ID lifetimes from the replay's `onIdEvent`: created → freed (or alive at the end),
 * grouped by the function that created the value. Memory stays bounded: per function and
 * side only the `keep` longest finished lifetimes are kept (plus every one still alive,
 * up to `keep` too); the rest are counted.
 */
import type { FindingLocation, IdEvent } from '../../replay/index.js';
import type { Side } from '../../trace/record.js';
import type { OrdinalIndex } from './series.js';

export interface Lifetime {
  side: Side;
  id: number;
  ctx: string | undefined;
  /** Message ordinals (the timeline's x axis). */
  start: number;
  end: number;
  /** `freed`: dropped; `alive`: still live at the end; `replaced`: the model re-took the ID without a free. */
  endKind: 'freed' | 'alive' | 'replaced';
  createdBy: string;
  createdAt: FindingLocation;
  freedAt?: FindingLocation;
  reused?: boolean;
}

export interface FunctionGroup {
  fn: string;
  created: { rust: number; js: number };
  freed: { rust: number; js: number };
  alive: { rust: number; js: number };
  /** Longest lifetime seen (messages). */
  longest: number;
  /** The lifetimes kept for drawing, per side. */
  lanes: { rust: Lifetime[]; js: Lifetime[] };
}

export interface LifetimeData {
  groups: FunctionGroup[];
  /** Lifetimes kept per function and side. */
  keep: number;
  /** Total IDs created over all functions and sides. */
  total: number;
}

interface Open {
  fn: string;
  start: number;
  createdBy: string;
  createdAt: FindingLocation;
  reused?: boolean;
}

interface GroupAcc extends Omit<FunctionGroup, 'lanes'> {
  closed: { rust: Lifetime[]; js: Lifetime[] };
}

export class LifetimeCollector {
  private open = new Map<string, Open>();
  private groups = new Map<string, GroupAcc>();
  private total = 0;

  constructor(
    private readonly ordinals: OrdinalIndex,
    private readonly keep = 40,
  ) {}

  event(e: IdEvent): void {
    const ord = this.ordinals.touch(e.ctx, e.message);
    const key = `${e.ctx ?? ''}\u0000${e.side}\u0000${e.id}`;
    if (e.event === 'created') {
      const prior = this.open.get(key);
      if (prior) this.close(prior, e.side, e.id, e.ctx, ord, 'replaced');
      this.total++;
      const g = this.group(e.fn);
      g.created[e.side]++;
      this.open.set(key, { fn: e.fn, start: ord, createdBy: e.createdBy, createdAt: e.location, ...(e.reused && { reused: true }) });
      return;
    }
    const o = this.open.get(key);
    if (!o) return;
    this.open.delete(key);
    this.group(o.fn).freed[e.side]++;
    this.close(o, e.side, e.id, e.ctx, ord, 'freed', e.location);
  }

  private group(fn: string): GroupAcc {
    let g = this.groups.get(fn);
    if (!g) {
      g = { fn, created: { rust: 0, js: 0 }, freed: { rust: 0, js: 0 }, alive: { rust: 0, js: 0 }, longest: 0, closed: { rust: [], js: [] } };
      this.groups.set(fn, g);
    }
    return g;
  }

  private close(o: Open, side: Side, id: number, ctx: string | undefined, end: number, endKind: Lifetime['endKind'], freedAt?: FindingLocation): void {
    const g = this.group(o.fn);
    const lt: Lifetime = { side, id, ctx, start: o.start, end, endKind, createdBy: o.createdBy, createdAt: o.createdAt, ...(freedAt && { freedAt }), ...(o.reused && { reused: true }) };
    g.longest = Math.max(g.longest, end - o.start);
    const list = g.closed[side];
    list.push(lt);
    // Amortised: trim to the longest `keep` whenever the list doubles.
    if (list.length >= this.keep * 4) trim(list, this.keep);
  }

  /** `end`: the last message ordinal of the trace. */
  finish(end: number): LifetimeData {
    const alive = new Map<string, { rust: Lifetime[]; js: Lifetime[] }>();
    for (const [key, o] of this.open) {
      const [ctx, side, id] = key.split('\u0000') as [string, Side, string];
      const g = this.group(o.fn);
      g.alive[side]++;
      g.longest = Math.max(g.longest, end - o.start);
      let a = alive.get(o.fn);
      if (!a) alive.set(o.fn, (a = { rust: [], js: [] }));
      if (a[side].length < this.keep) {
        a[side].push({ side, id: Number(id), ctx: ctx === '' ? undefined : ctx, start: o.start, end, endKind: 'alive', createdBy: o.createdBy, createdAt: o.createdAt, ...(o.reused && { reused: true }) });
      }
    }
    const groups: FunctionGroup[] = [];
    for (const g of this.groups.values()) {
      const lanes = { rust: [] as Lifetime[], js: [] as Lifetime[] };
      for (const side of ['rust', 'js'] as const) {
        const keepAlive = alive.get(g.fn)?.[side] ?? [];
        const closed = g.closed[side];
        trim(closed, Math.max(0, this.keep - keepAlive.length));
        lanes[side] = [...keepAlive, ...closed].sort((a, b) => a.start - b.start || a.id - b.id);
      }
      const { closed: _closed, ...rest } = g;
      groups.push({ ...rest, lanes });
    }
    groups.sort((a, b) => b.created.rust + b.created.js - (a.created.rust + a.created.js) || a.fn.localeCompare(b.fn));
    return { groups, keep: this.keep, total: this.total };
  }
}

function trim(list: Lifetime[], n: number): void {
  if (list.length <= n) return;
  list.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
  list.length = n;
}
