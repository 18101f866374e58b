import type { Op } from './messages.js';
import { hex } from './types.js';

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

  constructor(symbols?: SymbolTable) {
    if (symbols) {
      for (const [id, name] of symbols.functions) {
        this.names.set(id, name);
        if ((HELPER_ROLES as readonly string[]).includes(name)) {
          this.known.set(id, { role: name as HelperRole, source: 'symbols' });
        }
      }
    }
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
    const sig = hex(op.signature.bytes);
    if (seen.size < 4) seen.add(sig);
    if (sig === DROP_SIGNATURE && !this.dropCandidates.includes(op.fnId) && this.dropCandidates.length < 4) {
      this.dropCandidates.push(op.fnId);
    }
  }

  /**
   * Tells two fn ids with the drop signature apart in explicit-ids: `disposeFnId` was seen
   * freeing nothing before a drop of the same ID, or triggering a nested native-ref drop.
   */
  markDispose(fnId: number): void {
    const entry = this.known.get(fnId);
    if (entry && entry.source !== 'heuristic') return;
    this.known.set(fnId, { role: 'dispose_rust_function', source: 'heuristic' });
  }

  /** The role of an op's function, and how it is known. */
  roleOf(op: Op): { role: HelperRole; source: HelperSource } | undefined {
    const declared = this.known.get(op.fnId);
    if (declared && declared.source !== 'heuristic') return declared;
    if (this.hasDeclaredRoleFor('drop_heap_ref') && this.hasDeclaredRoleFor('clone_heap_ref')) return declared;
    const sig = hex(op.signature.bytes);
    const seen = this.signaturesSeen.get(op.fnId);
    const manySignatures = (seen?.size ?? 0) > 1;
    if (declared?.role === 'dispose_rust_function') {
      this.usedHeuristic = true;
      return declared;
    }
    if (manySignatures) {
      // Only the generic cast helper is called with many different signatures.
      if (this.hasDeclaredRoleFor('cast')) return undefined;
      this.usedHeuristic = true;
      return { role: 'cast', source: 'heuristic' };
    }
    if (sig === DROP_SIGNATURE && !this.hasDeclaredRoleFor('drop_heap_ref')) {
      this.usedHeuristic = true;
      return { role: 'drop_heap_ref', source: 'heuristic' };
    }
    if (sig === CLONE_SIGNATURE && !this.hasDeclaredRoleFor('clone_heap_ref')) {
      this.usedHeuristic = true;
      return { role: 'clone_heap_ref', source: 'heuristic' };
    }
    return undefined;
  }

  private hasDeclaredRoleFor(role: HelperRole): boolean {
    for (const entry of this.known.values()) if (entry.role === role && entry.source !== 'heuristic') return true;
    return false;
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
    return out;
  }
}
