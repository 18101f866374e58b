import type { DecodedMessage, Exchange, Op, REvalBody } from './messages.js';
import { BoundedMap } from './bounded-map.js';
import { hex, type Signature } from './types.js';

/**
 * The bridge's own helper functions are ordinary registered JS functions whose fn ids
 * depend on the build (wire §9.1). This module says which fn id is which, and how it knows.
 */
export type HelperRole = 'drop_heap_ref' | 'clone_heap_ref' | 'dispose_rust_function' | 'cast';
export const HELPER_ROLES: readonly HelperRole[] = ['drop_heap_ref', 'clone_heap_ref', 'dispose_rust_function', 'cast'];

/** Where a role assignment came from, best first. */
export type HelperSource = 'meta' | 'symbols' | 'heuristic';

const DROP_SIGNATURE = '01 05 00';
const CLONE_SIGNATURE = '01 05 11';
/** Heap IDs remembered for telling drop from dispose (bounded). */
const ID_MEMORY = 65536;

/** The U64 heap-ID argument of a `(u64) -> ()` op. */
function unitIdArg(op: Op): number | undefined {
  const a = op.args[0];
  if (!a || a.kind !== 'int') return undefined;
  const n = Number(a.value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Names for fn ids, from a `--symbols` file: `{"functions": {"12": "drop_heap_ref", ...}}`. */
export interface SymbolTable {
  readonly functions: ReadonlyMap<number, string>;
}

/** Parses the JSON text of a symbols file; throws a one-line Error on bad content. */
export function parseSymbolTable(json: string): SymbolTable {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new Error(`symbols file is not JSON: ${(e as Error).message}`);
  }
  const fns = (doc as { functions?: unknown } | null)?.functions;
  if (typeof fns !== 'object' || fns === null || Array.isArray(fns)) {
    throw new Error('symbols file must be an object with a "functions" object mapping fn ids to names');
  }
  const functions = new Map<number, string>();
  for (const [k, v] of Object.entries(fns)) {
    const id = Number(k);
    if (!/^\d+$/.test(k) || !Number.isSafeInteger(id) || id > 0xffffffff) {
      throw new Error(`symbols file: "${k}" is not a fn id (a decimal number)`);
    }
    if (typeof v !== 'string' || v.length === 0) throw new Error(`symbols file: name of fn ${k} must be a non-empty string`);
    functions.set(id, v);
  }
  return { functions };
}

/**
 * Tracks which fn id plays which helper role. Known roles (meta, symbols) are fixed; the
 * signature heuristic learns as ops go by and may revise itself (a fn id seen with several
 * signatures is the cast helper, not clone).
 */
export class HelperTable {
  private readonly known = new Map<number, { role: HelperRole; source: HelperSource }>();
  private readonly names = new Map<number, string>();
  /** fn id → distinct signature hex strings seen with it (capped). */
  private readonly signaturesSeen = new Map<number, Set<string>>();
  /** fn ids seen with the drop signature, in order of first appearance. */
  private readonly dropCandidates: number[] = [];
  private usedHeuristic = false;
  /** explicit-ids: the drop and dispose helpers share a signature (wire §9.1). */
  private disposeExists = false;
  /** explicit-ids: fn ids seen with `(u64) -> ()`, with their use counts. */
  private readonly unitUses = new Map<number, number>();
  /** explicit-ids: heap ID → fn id of the last `(u64) -> ()` op on it since it was last handed out. */
  private readonly lastUnitOp = new BoundedMap<number, number>(ID_MEMORY);
  /** explicit-ids: heap ID → callback key of the closure Rust stored there. */
  private readonly closureAt = new BoundedMap<number, number>(ID_MEMORY);
  /** explicit-ids: heap IDs last handed out to something other than a closure. */
  private readonly plainAt = new BoundedMap<number, true>(ID_MEMORY);
  /** explicit-ids: which fn id is which, as far as the bytes have decided, and why. */
  private split?: { drop?: number; dispose?: number; why: string };
  private version = 0;
  /** The roles `known` declares (from meta or symbols), kept with it: asked for every op. */
  private declared = new Set<HelperRole>();
  /** Both heap helpers are declared: the signature heuristic has nothing left to decide for a plain op. */
  private heapHelpersDeclared = false;

  constructor(symbols?: SymbolTable) {
    if (symbols) {
      for (const [id, name] of symbols.functions) {
        this.names.set(id, name);
        if ((HELPER_ROLES as readonly string[]).includes(name)) {
          this.known.set(id, { role: name as HelperRole, source: 'symbols' });
        }
      }
    }
    this.noteDeclared();
  }

  private noteDeclared(): void {
    this.declared = new Set();
    for (const entry of this.known.values()) if (entry.source !== 'heuristic') this.declared.add(entry.role);
    this.heapHelpersDeclared = this.declared.has('drop_heap_ref') && this.declared.has('clone_heap_ref');
  }

  /** Applies `fn.*` keys of a meta record. Returns the keys it did not understand. */
  applyMeta(fields: ReadonlyArray<readonly [string, string]>): string[] {
    const bad: string[] = [];
    for (const [key, value] of fields) {
      if (!key.startsWith('fn.')) continue;
      const role = key.slice(3);
      const id = Number(value);
      if (!(HELPER_ROLES as readonly string[]).includes(role) || !/^\d+$/.test(value) || id > 0xffffffff) {
        bad.push(`${key}=${value}`);
        continue;
      }
      for (const [other, entry] of this.known) {
        if (entry.role === role && other !== id) this.known.delete(other);
      }
      this.known.set(id, { role: role as HelperRole, source: 'meta' });
    }
    this.noteDeclared();
    return bad;
  }

  /** Whether any role is declared (not guessed). */
  hasDeclaredRoles(): boolean {
    for (const entry of this.known.values()) if (entry.source !== 'heuristic') return true;
    return false;
  }

  /** Learns from an op's signature; call for every op in message order. */
  observe(op: Op): void {
    let seen = this.signaturesSeen.get(op.fnId);
    if (!seen) {
      seen = new Set();
      this.signaturesSeen.set(op.fnId, seen);
    }
    const sig = signatureHex(op.signature);
    if (seen.size < 4) seen.add(sig);
    if (sig === DROP_SIGNATURE && !this.dropCandidates.includes(op.fnId) && this.dropCandidates.length < 4) {
      this.dropCandidates.push(op.fnId);
    }
  }

  /**
   * explicit-ids has two helpers with the drop signature (wire §9.1): `drop_heap_ref` frees
   * a slot, `dispose_rust_function` only marks the closure in it disposed. Call once per
   * session of such a revision, before any message.
   */
  expectDispose(): void {
    this.disposeExists = true;
  }

  /**
   * Learns from one R-Eval, in message order: every op's signature, and in explicit-ids the
   * evidence that tells drop from dispose (wire §9.1). Call before the message is replayed.
   */
  observeREval(body: REvalBody): void {
    for (const op of body.ops) this.observe(op);
    if (!this.disposeExists) return;
    for (const id of body.installIds ?? []) this.allocated(id, undefined);
    const reserved = body.reservedIds ?? [];
    let r = 0;
    for (const op of body.ops) {
      if (signatureHex(op.signature) === DROP_SIGNATURE) this.unitOp(op);
      if (op.signature.ret.kind !== 'heapref' || r >= reserved.length) continue;
      const id = reserved[r++]!;
      // The closure cast: one Callback parameter, a JsValue result (docs/protocol.md §9.1).
      const p = op.signature.params;
      const arg = op.args[0];
      this.allocated(id, p.length === 1 && p[0]!.kind === 'callback' && arg?.kind === 'callback' ? arg.key : undefined);
    }
  }

  /**
   * Learns from one decoded message, in message order, before it is replayed or printed: the
   * R-Eval's ops, an install list, or a native-ref drop with the R-Eval open around it (`open`:
   * the decoder's open exchanges just after this message).
   */
  observeMessage(d: DecodedMessage, open: readonly Exchange[]): void {
    const b = d.body;
    if (b?.kind === 'r-eval') this.observeREval(b);
    else if (b?.kind === 'r-resp' && b.installIds) this.observeInstall(b.installIds);
    else if (b?.kind === 'j-eval' && b.call.kind === 'drop-native') {
      // The R-Eval JS was running when it sent the drop: the innermost one open below it.
      let enclosing: readonly Op[] | undefined;
      for (let i = open.length - 1; i >= 0; i--) {
        const x = open[i]!;
        if (x.kind === 'r-eval' && x !== d.exchange) {
          enclosing = x.ops;
          break;
        }
      }
      this.observeNativeDrop(b.call.key, enclosing);
    }
  }

  /** explicit-ids: IDs an R-Resp's install list hands out (values from JS, never Rust closures). */
  observeInstall(ids: readonly number[]): void {
    if (!this.disposeExists) return;
    for (const id of ids) this.allocated(id, undefined);
  }

  /**
   * explicit-ids: a native-ref drop JS sent while running `enclosing` (the innermost R-Eval
   * open on the side that recorded it). A dispose of a JS-owned callback makes JS send it at
   * once (sessions §9): the op that freed nothing but targeted that callback's closure is the dispose.
   */
  observeNativeDrop(key: number, enclosing: readonly Op[] | undefined): void {
    if (!this.disposeExists || !enclosing || this.split?.dispose !== undefined) return;
    for (const op of enclosing) {
      if (signatureHex(op.signature) !== DROP_SIGNATURE) continue;
      const id = unitIdArg(op);
      if (id !== undefined && this.closureAt.get(id) === key) {
        this.settle({ dispose: op.fnId }, `fn ${op.fnId} targeted #${id}, the closure of callback ${key}, and JS answered with a native-ref drop of that callback nested inside the same R-Eval`);
        return;
      }
    }
  }

  private allocated(id: number, closureKey: number | undefined): void {
    this.lastUnitOp.delete(id);
    if (closureKey !== undefined) {
      this.closureAt.set(id, closureKey);
      this.plainAt.delete(id);
    } else {
      this.closureAt.delete(id);
      this.plainAt.set(id, true);
    }
  }

  /** One `(u64) -> ()` op in explicit-ids: the evidence of wire §9.1. */
  private unitOp(op: Op): void {
    const fn = op.fnId;
    const use = this.unitUses.get(fn);
    if (use === undefined && this.unitUses.size >= 8) return;
    this.unitUses.set(fn, (use ?? 0) + 1);
    const id = unitIdArg(op);
    if (id === undefined) return;
    const before = this.lastUnitOp.get(id);
    this.lastUnitOp.set(id, fn);
    if (before !== undefined && before !== fn) {
      this.settle({ dispose: before, drop: fn }, `fn ${before} targeted #${id} and fn ${fn} then targeted it again with no new allocation of #${id} between: a closure is disposed first, then dropped`);
    } else if (this.plainAt.has(id)) {
      this.settle({ drop: fn }, `fn ${fn} freed #${id}, which holds no closure (dispose_rust_function is only emitted for closures)`);
    }
  }

  private settle(roles: { drop?: number; dispose?: number }, why: string): void {
    const cur: { drop?: number; dispose?: number; why?: string } = this.split ?? {};
    const drop = roles.drop ?? cur.drop;
    const dispose = roles.dispose ?? cur.dispose;
    // The first evidence stands; later evidence that contradicts it is ignored.
    if (drop !== undefined && drop === dispose) return;
    if (cur.drop === drop && cur.dispose === dispose) return;
    this.split = { ...(drop !== undefined && { drop }), ...(dispose !== undefined && { dispose }), why: cur.why ? `${cur.why}; ${why}` : why };
    this.version++;
  }

  /** Increases whenever evidence settles a role the replay may have guessed before. */
  settledVersion(): number {
    return this.version;
  }

  /**
   * Tells two fn ids with the drop signature apart in explicit-ids when a caller knows
   * better (kept for compatibility: the evidence of `observeREval` normally decides).
   */
  markDispose(fnId: number): void {
    const entry = this.known.get(fnId);
    if (entry && entry.source !== 'heuristic') return;
    this.settle({ dispose: fnId }, `fn ${fnId} marked as dispose_rust_function`);
  }

  /**
   * The role of an op's function, and how it is known. `guess` is set when the role is the
   * signature heuristic's answer to a question the bytes have not settled yet (explicit-ids:
   * drop or dispose): a finding that rests on it must not be definite.
   */
  roleOf(op: Op): { role: HelperRole; source: HelperSource; guess?: string } | undefined {
    const declared = this.known.get(op.fnId);
    if (declared && declared.source !== 'heuristic') return declared;
    if (this.heapHelpersDeclared) return declared;
    const sig = signatureHex(op.signature);
    const seen = this.signaturesSeen.get(op.fnId);
    const manySignatures = (seen?.size ?? 0) > 1;
    if (manySignatures) {
      // Only the generic cast helper is called with many different signatures.
      if (this.hasDeclaredRoleFor('cast')) return undefined;
      this.usedHeuristic = true;
      return { role: 'cast', source: 'heuristic' };
    }
    if (sig === DROP_SIGNATURE && !this.hasDeclaredRoleFor('drop_heap_ref')) {
      this.usedHeuristic = true;
      if (!this.disposeExists) return { role: 'drop_heap_ref', source: 'heuristic' };
      return this.dropOrDispose(op.fnId);
    }
    if (sig === CLONE_SIGNATURE && !this.hasDeclaredRoleFor('clone_heap_ref')) {
      this.usedHeuristic = true;
      return { role: 'clone_heap_ref', source: 'heuristic' };
    }
    return undefined;
  }

  /** explicit-ids without declared roles: evidence first, else the guess (wire §9.1). */
  private dropOrDispose(fn: number): { role: HelperRole; source: HelperSource; guess?: string } {
    const s = this.split;
    if (s?.drop === fn) return { role: 'drop_heap_ref', source: 'heuristic' };
    if (s?.dispose === fn) return { role: 'dispose_rust_function', source: 'heuristic' };
    // Only two helpers share the signature: once one is known, another fn id is the other one.
    if (s?.drop !== undefined && s.dispose === undefined) return { role: 'dispose_rust_function', source: 'heuristic' };
    if (s?.dispose !== undefined && s.drop === undefined) return { role: 'drop_heap_ref', source: 'heuristic' };
    // Undecided: the fn id used most often is the drop (every JsValue is dropped, only closures disposed).
    let best: number | undefined;
    let bestUses = -1;
    for (const [id, uses] of this.unitUses) {
      if (uses > bestUses) {
        best = id;
        bestUses = uses;
      }
    }
    const others = [...this.unitUses.keys()].filter((x) => x !== fn);
    if (best === undefined || best === fn) {
      return {
        role: 'drop_heap_ref',
        source: 'heuristic',
        guess: others.length === 0 ? `fn ${fn} is taken for drop_heap_ref, the only fn id with signature (u64) -> () so far; nothing yet tells it apart from dispose_rust_function` : `fn ${fn} is taken for drop_heap_ref and fn ${others.join(', ')} for dispose_rust_function, by how often each is used; nothing yet tells them apart`,
      };
    }
    return { role: 'dispose_rust_function', source: 'heuristic', guess: `fn ${fn} is taken for dispose_rust_function and fn ${best} for drop_heap_ref, by how often each is used; nothing yet tells them apart` };
  }

  private hasDeclaredRoleFor(role: HelperRole): boolean {
    return this.declared.has(role);
  }

  /** A person-readable name for a fn id: symbols first, then a known role. */
  nameOf(fnId: number): string | undefined {
    return this.names.get(fnId) ?? this.known.get(fnId)?.role;
  }

  /** True once any op's role was decided by the signature heuristic. */
  reliedOnHeuristic(): boolean {
    return this.usedHeuristic;
  }

  /** How each role is known right now, for reports. */
  describe(): Record<HelperRole, { fnIds: number[]; source: HelperSource } | undefined> {
    const out = {} as Record<HelperRole, { fnIds: number[]; source: HelperSource } | undefined>;
    for (const role of HELPER_ROLES) out[role] = undefined;
    for (const [id, entry] of this.known) {
      const cur = out[entry.role];
      if (cur) cur.fnIds.push(id);
      else out[entry.role] = { fnIds: [id], source: entry.source };
    }
    const s = this.split;
    if (s?.drop !== undefined && !out.drop_heap_ref) out.drop_heap_ref = { fnIds: [s.drop], source: 'heuristic' };
    if (s?.dispose !== undefined && !out.dispose_rust_function) out.dispose_rust_function = { fnIds: [s.dispose], source: 'heuristic' };
    return out;
  }

  /** explicit-ids: the evidence that told drop from dispose so far, if any. */
  splitEvidence(): string | undefined {
    return this.split?.why;
  }
}

/** Hex of a signature's bytes, once per signature (the decoder interns them: one object per distinct signature). */
const SIGNATURE_HEX = new WeakMap<Signature, string>();

function signatureHex(sig: Signature): string {
  let h = SIGNATURE_HEX.get(sig);
  if (h === undefined) {
    h = hex(sig.bytes);
    SIGNATURE_HEX.set(sig, h);
  }
  return h;
}
