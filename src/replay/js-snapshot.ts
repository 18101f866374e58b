/**
 * The JS side's state at one moment, as a divergence capture shows it (`--json` jsState).
 */
import type { JsFrame } from './js-state.js';
import type { AllocatorKind } from '../protocol/revisions.js';
import type { ModelHeap } from './js-heap.js';

export interface JsSnapshot {
  maxId?: number;
  freeList?: number[];
  live: number;
  borrowPointer: number;
  borrowFrames: number;
  scopes: Array<{ reserved: number; filled: number; start?: number }>;
  openExchanges: Array<{ kind: string; message: number; window?: [number, number] }>;
  pendingDeferred?: number;
}

/** The state of `heap` with `frames` open, under `allocator`. */
export function jsSnapshotOf(allocator: AllocatorKind, m: ModelHeap, frames: readonly JsFrame[]): JsSnapshot {
  return {
    ...(allocator !== 'explicit' && { maxId: m.maxId }),
    ...(allocator === 'freelist' && { freeList: m.freeList() }),
    live: m.liveCount(),
    borrowPointer: m.pointer,
    borrowFrames: m.frameDepth(),
    scopes: m.scopes(),
    openExchanges: frames.map((f) => ({ kind: f.kind, message: f.lm.no, ...(f.kind === 'r-eval' && { window: [f.kmin, f.kmax] as [number, number] }) })),
    ...(allocator === 'explicit' && { pendingDeferred: m.pendingDeferred() }),
  };
}
