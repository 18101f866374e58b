/**
 * The JS side's state at one moment, as a divergence capture shows it (`--json` jsState).
 */
import type { JsFrame } from './state.js';
import type { AllocatorKind } from '../../protocol/revisions.js';
import type { ModelHeap } from './heap.js';

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

type OpenExchange = JsSnapshot['openExchanges'][number];

/**
 * The state of `m` with `frames` open, under `allocator`. Taken after every step, so the
 * lists are shared with `prev` (the last snapshot, never changed once made) where they did
 * not change; keys are in the order of the JSON schema.
 */
export function jsSnapshotOf(allocator: AllocatorKind, m: ModelHeap, frames: readonly JsFrame[], prev: JsSnapshot | undefined): JsSnapshot {
  const scopes = m.scopesOr(prev?.scopes);
  const openExchanges = prev && sameExchanges(prev.openExchanges, frames) ? prev.openExchanges : exchangesOf(frames);
  if (allocator === 'explicit') {
    return { live: m.liveCount(), borrowPointer: m.pointer, borrowFrames: m.frameDepth(), scopes, openExchanges, pendingDeferred: m.pendingDeferred() };
  }
  if (allocator === 'freelist') {
    return { maxId: m.maxId, freeList: m.freeListOr(prev?.freeList), live: m.liveCount(), borrowPointer: m.pointer, borrowFrames: m.frameDepth(), scopes, openExchanges };
  }
  return { maxId: m.maxId, live: m.liveCount(), borrowPointer: m.pointer, borrowFrames: m.frameDepth(), scopes, openExchanges };
}

function sameExchanges(prev: readonly OpenExchange[], frames: readonly JsFrame[]): boolean {
  if (prev.length !== frames.length) return false;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    const x = prev[i]!;
    if (x.kind !== f.kind || x.message !== f.lm.no) return false;
    if (f.kind === 'r-eval' && (x.window![0] !== f.kmin || x.window![1] !== f.kmax)) return false;
  }
  return true;
}

function exchangesOf(frames: readonly JsFrame[]): OpenExchange[] {
  const out: OpenExchange[] = new Array(frames.length);
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i]!;
    out[i] = f.kind === 'r-eval' ? { kind: f.kind, message: f.lm.no, window: [f.kmin, f.kmax] } : { kind: f.kind, message: f.lm.no };
  }
  return out;
}
