/**
 * Calls: the unit `bridge-trace diff` aligns. A trace is flattened into the calls JS ran,
 * in the order it ran them (message boundaries removed, nesting kept as depth): ops,
 * callback invocations, export calls, and the return of every op or callback that had
 * nested calls. Arguments and results are templates whose heap IDs and callback keys are
 * references to value records (model.ts), so that two traces can be compared by what the
 * IDs stand for rather than by their numbers.
 */
import { formatHeapId, formatCallbackKey } from '../protocol/format.js';
import type { Side } from '../trace/record.js';
import { isFixedId, type Rec } from './model.js';

export type ItemKind = 'op' | 'callback' | 'export' | 'call' | 'return';
/** done: ran and returned; open: nested calls follow, its result is in the `return` call after them. */
export type ItemStatus = 'done' | 'open' | 'no-answer' | 'not-run';

/** One heap-ID or callback-key reference inside a template, with the ID as the trace wrote it. */
export interface RefSlot {
  readonly rec: Rec;
  /** The raw ID (heap) or key (callback) at this place; for values JS created: the ID JS gave it, when known. */
  readonly raw: number | undefined;
  /** Where in the call: `argument 2`, `result`. */
  readonly at: string;
}

/** Text with holes: `text.length === refs.length + 1`. */
export interface Tpl {
  readonly text: readonly string[];
  readonly refs: readonly RefSlot[];
}

export const EMPTY_TPL: Tpl = { text: [''], refs: [] };

export class TplBuilder {
  private readonly text: string[] = [''];
  private readonly refs: RefSlot[] = [];
  /** Names the place of the next references (`argument 2`). */
  at = '';
  lit(s: string): this {
    this.text[this.text.length - 1] += s;
    return this;
  }
  ref(rec: Rec, raw: number | undefined): this {
    this.refs.push({ rec, raw, at: this.at });
    this.text.push('');
    return this;
  }
  /** A heap ID written by Rust: borrow slots and constants stay literal, the rest are references. */
  heapId(raw: number, resolve: (raw: number) => Rec): this {
    return isFixedId(raw) ? this.lit(formatHeapId(raw)) : this.ref(resolve(raw), raw);
  }
  build(): Tpl {
    return { text: this.text, refs: this.refs };
  }
}

export interface ItemLocation {
  readonly input: string;
  readonly line?: number;
  readonly offset?: number;
  readonly side?: Side;
  readonly seq?: number;
  readonly ctx?: string;
  /** 1-based op index in its R-Eval (ops and their returns). */
  readonly op?: number;
  /** 1-based number of the message in its conversation. */
  readonly message: number;
}

/** A value or callback given up: a `drop_heap_ref` or `dispose_rust_function` op, or a native-ref drop J-Eval. */
export interface Release {
  readonly what: 'drop' | 'dispose' | 'native-drop';
  readonly rec: Rec;
  readonly raw: number;
  readonly loc: ItemLocation;
}

export interface Item {
  /** Position in its trace's call stream (0-based). */
  index: number;
  readonly kind: ItemKind;
  readonly depth: number;
  /** What must be equal for two calls to be aligned at all: fn name or id, `callback`, export name. */
  readonly label: string;
  /** Display head: `op 3: fn 21 level1`, `callback`, `return from op 3: fn 21`. */
  readonly title: string;
  readonly fnId?: number;
  readonly name?: string;
  /** Parameter types, formatted: `(JsValue, u32)`. */
  readonly params: string;
  /** Return type, formatted. */
  readonly ret: string;
  readonly args: Tpl;
  /** The callee for callback calls (`callback k1`), empty otherwise. */
  readonly callee: Tpl;
  readonly result: Tpl;
  readonly status: ItemStatus;
  /** `--exact-ids`: the R-Eval prelude (reserved count / lists) on the first op of each R-Eval. */
  readonly prelude?: string;
  /** Values and callbacks this call created, in creation order. */
  readonly creates: readonly Rec[];
  /** Releases that followed this call (before the next one). */
  readonly releases: Release[];
  readonly loc: ItemLocation;
  /** Hashes: align (kind, depth, label), sig (+ types), mask (+ every value with IDs masked). */
  readonly alignKey: number;
  readonly sigKey: number;
  readonly maskKey: number;
}

/** FNV-1a, 32 bits: keys for the alignment table (equality is re-checked on the real fields). */
export function hash(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function maskText(t: Tpl): string {
  let s = t.text[0]!;
  for (let i = 0; i < t.refs.length; i++) s += `\u0001${t.refs[i]!.rec.kind}\u0001${t.text[i + 1]!}`;
  return s;
}

export type ItemDraft = Omit<Item, 'index' | 'releases' | 'alignKey' | 'sigKey' | 'maskKey'>;

/** Seals a draft: computes its keys. */
export function makeItem(d: ItemDraft): Item {
  const alignText = `${d.kind}\u0000${d.depth}\u0000${d.label}`;
  const alignKey = hash(alignText);
  const sigKey = hash(`${d.params}\u0000${d.ret}`, alignKey);
  const maskKey = hash(`${maskText(d.callee)}\u0000${maskText(d.args)}\u0000${maskText(d.result)}\u0000${d.status}`, sigKey);
  return { ...d, index: -1, releases: [], alignKey, sigKey, maskKey };
}

/** Longest literal shown in text output before it is cut. */
const LITERAL_CUT = 60;

export function renderRef(r: RefSlot, exact: boolean): string {
  if (r.rec.kind === 'cb') return `callback ${exact ? formatCallbackKey(r.raw ?? r.rec.raw) : r.rec.name}`;
  if (exact) return r.raw === undefined ? '#?' : `#${r.raw}`;
  return r.rec.unknown ? r.rec.name : `#${r.rec.name}`;
}

export function renderTpl(t: Tpl, exact: boolean, cut = true): string {
  const lit = (s: string): string => (cut && s.length > LITERAL_CUT ? `${s.slice(0, LITERAL_CUT)}…` : s);
  let s = lit(t.text[0]!);
  for (let i = 0; i < t.refs.length; i++) s += renderRef(t.refs[i]!, exact) + lit(t.text[i + 1]!);
  return s;
}

const STATUS_TEXT: Record<ItemStatus, string> = { done: '', open: '…', 'no-answer': '(no answer)', 'not-run': '(not run)' };

/** The one-line form of a call: `op 3: fn 21(#v1, #v2) -> JsValue #v8`. */
export function renderItem(it: Item, exact: boolean): string {
  const result = it.status === 'done' ? renderTpl(it.result, exact) : STATUS_TEXT[it.status];
  const callee = it.callee.refs.length ? ` ${renderTpl(it.callee, exact)}` : '';
  // The callee reads `callback k1` already: `callback k1(…)`, `return from callback k1`.
  const title = callee.startsWith(' callback ') && it.title.endsWith('callback') ? it.title.slice(0, -'callback'.length).trimEnd() : it.title;
  const ret = `-> ${it.ret}${result ? ` ${result}` : ''}`;
  const prelude = it.prelude ? ` [${it.prelude}]` : '';
  const head = `${title}${title ? callee : callee.trimStart()}`;
  if (it.kind === 'return') return `${head} ${ret}`;
  return `${head}(${renderTpl(it.args, exact)}) ${ret}${prelude}`;
}
