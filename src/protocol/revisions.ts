/**
 * The protocol revisions bridge-trace decodes and replays, and the wire and allocator
 * features that tell them apart (docs/protocol.md §2). Code asks for a feature, never for
 * a revision name, so that each rule lives in one place.
 */

export const REVISIONS = [
  'legacy-freelist',
  'legacy',
  'reserved-count-slotmap',
  'reserved-count',
  'evaluate-id-draft',
  'evaluate-id',
  'seq-id',
  'explicit-ids',
] as const;

export type Revision = (typeof REVISIONS)[number];

export function isRevision(name: string): name is Revision {
  return (REVISIONS as readonly string[]).includes(name);
}

/** What starts the u32 buffer of each message kind (wire §5). */
export type EvalPrelude = 'none' | 'reserved-count' | 'id-and-count' | 'install-and-reserved';
export type JRespPrelude = 'none' | 'id';
export type RRespPrelude = 'none' | 'zero-word' | 'install';

/** How JS→Rust Responds are paired with Rust→JS Evaluates (sessions §7). */
export type RespondRouting = 'innermost' | 'by-id';

/** How heap IDs for JS values are chosen (allocators §2-§3). */
export type AllocatorKind = 'freelist' | 'monotonic' | 'reservation-count' | 'explicit';

export interface RevisionFeatures {
  readonly name: Revision;
  readonly evalPrelude: EvalPrelude;
  readonly jRespPrelude: JRespPrelude;
  readonly rRespPrelude: RRespPrelude;
  readonly routing: RespondRouting;
  readonly allocator: AllocatorKind;
  /** Callback keys and native-ref drop keys: a u64 slotmap key or a u32 object handle. */
  readonly callbackKeyWords: 1 | 2;
  /** Callback values from Rust carry an ownership policy word after the handle. */
  readonly callbackPolicyWord: boolean;
  /** JS writes the u64 ID it chose for HeapRef values it sends (unless they filled a reservation). */
  readonly jsWritesHeapIds: boolean;
  /** A string length word of 0xFFFFFFFF means "the string is in heap slot u64". */
  readonly cachedStrings: boolean;
  /** Rust re-sends TYPE_FULL until JS acknowledged it, so repeats are legal. */
  readonly typeFullRepeats: boolean;
  /** Object handles of callbacks are reused (lowest free first). */
  readonly reusesCallbackHandles: boolean;
  /**
   * Export-call arguments and return values are typed by metadata generated into the JS
   * class, not on the wire; before, every argument is one u32 and JS reads at most one i32 back.
   */
  readonly typedExports: boolean;
}

const base = {
  evalPrelude: 'none',
  jRespPrelude: 'none',
  rRespPrelude: 'none',
  routing: 'innermost',
  allocator: 'monotonic',
  callbackKeyWords: 1,
  callbackPolicyWord: false,
  jsWritesHeapIds: false,
  cachedStrings: false,
  typeFullRepeats: false,
  reusesCallbackHandles: false,
  typedExports: false,
} as const;

const FEATURES: Record<Revision, RevisionFeatures> = {
  'legacy-freelist': { ...base, name: 'legacy-freelist', allocator: 'freelist', callbackKeyWords: 2 },
  legacy: { ...base, name: 'legacy', callbackKeyWords: 2 },
  'reserved-count-slotmap': {
    ...base,
    name: 'reserved-count-slotmap',
    evalPrelude: 'reserved-count',
    allocator: 'reservation-count',
    callbackKeyWords: 2,
  },
  'reserved-count': {
    ...base,
    name: 'reserved-count',
    evalPrelude: 'reserved-count',
    allocator: 'reservation-count',
  },
  'evaluate-id-draft': {
    ...base,
    name: 'evaluate-id-draft',
    evalPrelude: 'id-and-count',
    jRespPrelude: 'id',
    rRespPrelude: 'zero-word',
    routing: 'by-id',
    allocator: 'reservation-count',
  },
  'evaluate-id': {
    ...base,
    name: 'evaluate-id',
    evalPrelude: 'id-and-count',
    jRespPrelude: 'id',
    routing: 'by-id',
    allocator: 'reservation-count',
  },
  'seq-id': {
    ...base,
    name: 'seq-id',
    evalPrelude: 'id-and-count',
    jRespPrelude: 'id',
    rRespPrelude: 'zero-word',
    routing: 'by-id',
    allocator: 'reservation-count',
    jsWritesHeapIds: true,
  },
  'explicit-ids': {
    ...base,
    name: 'explicit-ids',
    evalPrelude: 'install-and-reserved',
    rRespPrelude: 'install',
    allocator: 'explicit',
    callbackPolicyWord: true,
    cachedStrings: true,
    typeFullRepeats: true,
    reusesCallbackHandles: true,
    typedExports: true,
  },
};

export function featuresOf(rev: Revision): RevisionFeatures {
  return FEATURES[rev];
}
