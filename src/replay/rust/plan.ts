/**
 * Which ops of an R-Eval Rust gives a placeholder when it encodes the message, which get their
 * ID only from the J-Resp, and the IDs the placeholders get (allocators.md §4-§6).
 */
import type { REvalBody } from '../../protocol/messages.js';
import { forEachRef } from '../../protocol/values.js';
import { RustModelState } from './state.js';

export abstract class RustPlacements extends RustModelState {
  /** Which ops get a placeholder at encode time, and which get their ID only from the J-Resp. */
  protected plan(body: REvalBody): { placeholder: boolean[]; post: number[]; ambiguous?: number } {
    const ops = body.ops;
    const placeholder = ops.map(() => false);
    const post: number[] = [];
    const heapOps = ops.filter((o) => o.signature.ret.kind === 'heapref');
    const last = ops[ops.length - 1];
    switch (this.allocator) {
      case 'freelist':
      case 'monotonic':
        if (ops.length >= 2) {
          for (const o of heapOps) placeholder[o.index - 1] = true;
        } else if (last && last.signature.ret.kind === 'heapref') {
          post.push(last.index);
          return { placeholder, post, ambiguous: last.index };
        }
        break;
      case 'reservation-count': {
        const n = body.reservedCount ?? 0;
        if (ops.length === 1 && n === 1 && heapOps.length === 1) {
          // docs/protocol.md §8.4: a lone JsValue op with N = 1 is a batch (R-R1) or an unbatched
          // call carrying a stale count after R-R1' (L-R2); they differ only if something nested allocates.
          post.push(last!.index);
          return { placeholder, post, ambiguous: last!.index };
        }
        heapOps.forEach((o, i) => {
          if (i < n) placeholder[o.index - 1] = true;
          else if (o === last) post.push(o.index);
        });
        break;
      }
      case 'explicit': {
        const n = body.reservedIds?.length ?? 0;
        heapOps.forEach((o, i) => {
          if (i < n) placeholder[o.index - 1] = true;
          else if (o === last) post.push(o.index);
        });
        break;
      }
    }
    return { placeholder, post };
  }

  /**
   * The IDs this R-Eval's placeholders get, by op. In message order, except where an op's
   * argument is a placeholder not yet handed out in message order: that argument's encoder
   * called JS itself (nested-encode-order), so the inner op, appended after the outer
   * one, took its placeholder first.
   */
  protected planIds(body: REvalBody, placeholder: readonly boolean[]): Map<number, number> | undefined {
    const ops = body.ops.filter((o) => placeholder[o.index - 1]);
    if (ops.length === 0) return new Map();
    let ids: number[];
    if (this.allocator === 'explicit') ids = (body.reservedIds ?? []).slice(0, ops.length);
    else if (this.allocator === 'freelist') return undefined;
    else ids = ops.map((_, i) => this.maxId + i);
    const assign = new Map<number, number>();
    ops.forEach((o, i) => {
      if (ids[i] !== undefined) assign.set(o.index, ids[i]!);
    });
    if (assign.size === 0) return assign;
    const owner = (id: number): number | undefined => {
      for (const [op, x] of assign) if (x === id) return op;
      return undefined;
    };
    // Each HeapRef argument in order; swapping as they come is the same as after collecting
    // them, since the arguments do not depend on the assignment.
    let op = body.ops[0]!;
    const swapIfOwn = (r: { id?: number }): void => {
      const id = r.id;
      if (id === undefined || owner(id) !== op.index) return;
      const next = ops.find((o) => o.index > op.index);
      if (!next || !assign.has(next.index)) return;
      const mine = assign.get(op.index)!;
      assign.set(op.index, assign.get(next.index)!);
      assign.set(next.index, mine);
    };
    for (const o of body.ops) {
      op = o;
      for (const a of o.args) forEachRef(a, swapIfOwn);
    }
    return assign;
  }

}
