/**
 * Fault injection: one flag each. A fault changes one peer's behaviour (or the recording)
 * at one well-defined point; everything after it follows from the models. Each firing is
 * logged in the ground truth as a `fault` event.
 */
import type { TruthCollector } from './truth.js';

export const FAULTS = [
  {
    name: 'callback-params-as-placeholders',
    description:
      'Rust counts every HeapRef callback parameter it decodes as a batched placeholder (the seed note\'s "key insight" violated): the next R-Eval reserves too many slots (explicit-ids: the id goes into the reserved list instead of the install list). No effect in legacy* (no count exists).',
    once: false,
  },
  {
    name: 'unpopped-scope',
    description:
      'JS forgets to pop the reservation scope of the first nested R-Eval, so the enclosing R-Eval fills its HeapRef results from the stale scope (usually "No reserved slots available"). No effect in legacy* (no scopes).',
    once: true,
  },
  {
    name: 'underfill',
    description:
      'JS leaves the last reserved slot of the first reserving R-Eval unfilled and stores that result the unreserved way (insert at its counter; explicit-ids: deferred, and JS throws "Only filled k of n"). No effect in legacy*.',
    once: true,
  },
  {
    name: 'misrouted-respond',
    description:
      'Races a JS event handler (a callback whose body calls is_ready() -> bool) against the next top-level R-Eval: its J-Eval reaches the handler first, so legacy*..reserved-count and seq-id deliver the R-Eval through the callback\'s parked XHR and Rust takes the wrong J-Resp; evaluate-id* route by id; explicit-ids delivers top-level R-Evals by evaluate_script.',
    once: true,
  },
  {
    name: 'lost-record',
    description:
      'One message record (default: the first recorded side\'s seq 3) is missing from the recording; its seq number leaves a gap. The conversation itself is unaffected.',
    once: true,
  },
  {
    name: 'double-drop',
    description:
      'Rust releases the first heap id it drops twice: two drop_heap_ref ops (legacy-freelist: the id is pushed on the free list twice and handed out twice; explicit-ids: the slab panics on releasing a non-live id).',
    once: true,
  },
] as const;

export type FaultName = (typeof FAULTS)[number]['name'];

export const FAULT_NAMES: readonly FaultName[] = FAULTS.map((f) => f.name);

export function isFaultName(name: string): name is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(name);
}

export class FaultState {
  private readonly fired = new Set<FaultName>();

  constructor(
    private readonly enabled: ReadonlySet<FaultName>,
    private readonly truth: TruthCollector,
  ) {}

  has(name: FaultName): boolean {
    return this.enabled.has(name);
  }

  /** Whether the fault applies now; one-shot faults apply at their first opportunity only. */
  fire(name: FaultName, message: string, seq?: number): boolean {
    if (!this.enabled.has(name)) return false;
    const once = FAULTS.find((f) => f.name === name)!.once;
    if (this.fired.has(name)) return !once;
    this.fired.add(name);
    this.truth.event('fault', 'sim', seq, `${name}: ${message}`);
    return true;
  }

  hasFired(name: FaultName): boolean {
    return this.fired.has(name);
  }
}
