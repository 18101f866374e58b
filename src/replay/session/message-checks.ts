/**
 * What a single message says on its own, as findings: the decoder's issues with it, and a
 * call of a callback JS had dropped (INV-9, the part the decoder does not track).
 */
import { formatCallbackKey } from '../../protocol/format.js';
import type { DecodedMessage, DecodeIssue } from '../../protocol/messages.js';
import { BoundedMap } from '../../protocol/bounded-map.js';
import { forEachCallback } from '../../protocol/values.js';
import type { Side } from '../../trace/record.js';
import type { AddOptions } from '../collector.js';
import { locationOf, type LMsg, type ModelContext } from '../context.js';
import type { Finding, FindingKind } from '../findings.js';
import { allocates } from './crossing.js';

export class MessageChecks {
  /** Callback keys JS dropped (native-ref drop), with the message that dropped it. */
  private readonly droppedCallbacks = new BoundedMap<number, number>(65536);

  constructor(
    private readonly mctx: () => ModelContext,
    private readonly add: (f: Finding, o: AddOptions) => number | undefined,
  ) {}

  /** The decoder's issues with the message, each a finding. */
  issues(lm: LMsg, d: DecodedMessage, side: Side): void {
    for (const issue of d.issues) this.issue(lm, d, side, issue);
  }

  private issue(lm: LMsg, d: DecodedMessage, side: Side, issue: DecodeIssue): void {
    const ctx = this.mctx();
    const kind = issue.kind as FindingKind;
    const f: Finding = {
      kind,
      severity: issue.severity,
      message: `msg ${lm.no} (${d.kind ?? d.record.dir}): ${issue.message}`,
      location: locationOf(ctx, lm, side, issue.op),
      ...(issue.byteOffset !== undefined && { detail: { byteOffset: issue.byteOffset } }),
    };
    // A J-Resp set aside by id (a warning) is legal. It desynchronises nothing unless Rust
    // hands out IDs for its values when it takes it (evaluate-id*: after the nested ones,
    // allocators §5); then later findings are its consequences.
    const setAside = kind === 'misrouted-respond' && issue.severity === 'warning' && (ctx.features.jsWritesHeapIds || !allocates(lm));
    this.add(f, { key: `${kind}|${lm.no}|${issue.op ?? ''}`, ...(issue.consequence && { damage: true }), ...(setAside && { passive: true }) });
  }

  /**
   * Up to seq-id a callback JS dropped (native-ref drop J-Eval) is gone from Rust's object
   * store, so calling it again panics Rust.
   */
  callbackLifetimes(lm: LMsg, d: DecodedMessage, side: Side): void {
    const b = d.body;
    if (!b) return;
    if (b.kind === 'r-eval') {
      // A key Rust sends again is alive again. A stack closure (&dyn Fn) stays in Rust's object
      // store until JS's native-ref drop in every revision before explicit-ids, even when its op
      // was only queued in a batch (encode.rs registers it with its lifetime erased; only the
      // 0xFFFFFFFF handler removes it), so a later call finds the handle.
      for (const op of b.ops) for (const a of op.args) forEachCallback(a, (cb) => this.droppedCallbacks.delete(cb.key));
      return;
    }
    if (b.kind !== 'j-eval') return;
    const call = b.call;
    if (call.kind === 'drop-native') {
      this.droppedCallbacks.set(call.key, lm.no);
    } else if (call.kind === 'callback') {
      const gone = this.droppedCallbacks.get(call.key);
      if (gone === undefined) return;
      this.add(
        {
          kind: 'unknown-callback',
          severity: 'error',
          message: `msg ${lm.no} calls callback ${formatCallbackKey(call.key)}, which Rust no longer has: JS dropped it in msg ${gone} (native-ref drop); Rust panics ("invalid handle")`,
          location: locationOf(this.mctx(), lm, side),
          detail: { key: call.key, goneSince: gone },
        },
        { key: `unknown-callback|${lm.no}|` },
      );
    }
  }
}
