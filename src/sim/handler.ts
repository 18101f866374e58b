/**
 * The protocol handler on the UI thread (sessions.md §3): it parks JS's synchronous XHRs,
 * forwards JS's messages to Rust, and delivers Rust's messages either as the reply to the
 * parked XHR or by evaluate_script. It holds no heap state, but it decides delivery order.
 */
import type { HandlerKind } from './behaviour.js';
import { HandlerPanic, type Wire } from './model.js';

export interface HandlerHost {
  /** Answers JS's parked XHR (null: a blank or error reply, no message). */
  replyToJs(wire: Wire | null): void;
  /** `evaluate_script(evaluate_from_rust_binary(...))`: a new JS task. */
  evaluateScript(wire: Wire): void;
  /** Into Rust's J-Eval or J-Resp channel. */
  forwardToRust(wire: Wire): void;
  /** A Rust R-Resp with no XHR to answer was dropped (lost-respond). */
  dropped(wire: Wire): void;
}

export class ProtocolHandler {
  private parked = false;
  /** pending_js_evaluates, pending_rust_evaluates (sessions §3.1). */
  private pj = 0;
  private pr = 0;
  /** evaluate-id*: queued Rust messages (§3.2); seq-id: queued R-Evals (§3.3). */
  private readonly pendingEvaluates: Wire[] = [];
  private readonly pendingResponds: Wire[] = [];
  /** explicit-ids: rust_eval_stack (§3.4). */
  private readonly evalStack: ('top' | 'nested')[] = [];

  constructor(
    private readonly kind: HandlerKind,
    private readonly host: HandlerHost,
  ) {}

  /** Whether an XHR is parked (JS is blocked in one). */
  hasParkedXhr(): boolean {
    return this.parked;
  }

  private park(): void {
    if (this.parked) throw new HandlerPanic('Overwriting existing ongoing_request');
    this.parked = true;
  }

  private reply(wire: Wire | null): void {
    this.parked = false;
    this.host.replyToJs(wire);
  }

  /** A message from the Rust app thread reaches the UI thread. */
  fromRust(wire: Wire): void {
    switch (this.kind) {
      case 'legacy':
        if (wire.kind === 'r-eval') this.pj++;
        else this.pr = Math.max(0, this.pr - 1);
        if (this.parked) this.reply(wire);
        else if (wire.kind === 'r-eval') this.host.evaluateScript(wire);
        else this.host.dropped(wire);
        return;
      case 'evaluate-id':
        if (wire.kind === 'r-eval') {
          this.pj++;
          if (this.parked) this.reply(wire);
          else if (this.pr > 0) this.pendingEvaluates.push(wire);
          else this.host.evaluateScript(wire);
        } else if (this.parked) {
          this.pr = Math.max(0, this.pr - 1);
          this.reply(wire);
        } else {
          this.pendingResponds.push(wire);
        }
        return;
      case 'seq-id':
        if (wire.kind === 'r-eval') {
          this.pj++;
          if (this.parked) this.reply(wire);
          else if (this.pr > 0) this.pendingEvaluates.push(wire);
          else this.host.evaluateScript(wire);
        } else {
          this.pr = Math.max(0, this.pr - 1);
          if (this.parked) this.reply(wire);
          else this.host.dropped(wire);
        }
        return;
      case 'explicit':
        if (wire.kind === 'r-eval') {
          if (wire.topLevel) {
            this.evalStack.push('top');
            this.host.evaluateScript(wire);
          } else {
            this.evalStack.push('nested');
            if (!this.parked) throw new HandlerPanic('nested Rust Evaluate with no suspended JS XHR');
            this.reply(wire);
          }
        } else {
          if (!this.parked) throw new HandlerPanic('Rust Respond with no suspended JS XHR');
          this.reply(wire);
        }
        return;
    }
  }

  /** JS's XHR reaches the handler. */
  fromJs(wire: Wire): void {
    switch (this.kind) {
      case 'legacy':
        if (wire.kind === 'j-eval') {
          this.pr++;
          this.park();
        } else {
          this.pj = Math.max(0, this.pj - 1);
          if (this.pj > 0 || this.pr > 0) this.park();
          else this.reply(null);
        }
        this.host.forwardToRust(wire);
        return;
      case 'evaluate-id':
        if (wire.kind === 'j-eval') {
          this.pr++;
          this.park();
          const queued = this.pendingEvaluates.shift();
          if (queued) this.reply(queued);
        } else {
          this.pj = Math.max(0, this.pj - 1);
          if (this.pj > 0 || this.pr > 0) {
            this.park();
            const respond = this.pendingResponds.shift();
            if (respond) {
              this.pr = Math.max(0, this.pr - 1);
              this.reply(respond);
            } else {
              const queued = this.pendingEvaluates.shift();
              if (queued) this.reply(queued);
            }
          } else {
            this.reply(null);
          }
        }
        this.host.forwardToRust(wire);
        return;
      case 'seq-id':
        if (wire.kind === 'j-eval') {
          this.pr++;
          this.park();
        } else {
          this.pj = Math.max(0, this.pj - 1);
          const queued = this.pendingEvaluates.shift();
          if (queued) {
            this.park();
            this.reply(queued);
          } else if (this.pj > 0 || this.pr > 0) {
            this.park();
          } else {
            this.reply(null);
          }
        }
        this.host.forwardToRust(wire);
        return;
      case 'explicit': {
        if (this.parked) {
          this.reply(null); // HTTP 400
          return;
        }
        if (wire.kind === 'j-eval') {
          this.park();
        } else {
          const entry = this.evalStack.pop();
          if (entry === 'nested') this.park();
          else if (entry === 'top') this.reply(null);
          else {
            this.reply(null); // HTTP 400: a J-Resp with no R-Eval open
            return;
          }
        }
        this.host.forwardToRust(wire);
        return;
      }
    }
  }
}
