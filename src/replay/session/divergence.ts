/**
 * The first divergence of a session: the messages around its root and both models' states
 * just after each replayed the root's own message. A root is often reported some steps after
 * its message (a reading resolved later, one side replayed ahead of the other), so the recent
 * messages and states are kept until the capture is settled, or no longer needed because an
 * earlier session holds the first divergence.
 */
import { formatCallbackKey } from '../../protocol/format.js';
import type { DecodedMessage } from '../../protocol/messages.js';
import { formatSignature } from '../../protocol/types.js';
import type { Side } from '../../trace/record.js';
import { locationOf, type LMsg, type ModelContext } from '../context.js';
import type { Finding, FindingLocation } from '../findings.js';
import type { JsSnapshot } from '../js/model.js';
import { RecentRing } from './recent.js';
import type { World } from '../replay.js';
import type { RustSnapshot } from '../rust/model.js';

export interface MessageSummary {
  readonly message: number;
  readonly side: Side | 'both';
  readonly kind: string;
  readonly depth: number;
  readonly text: string;
  readonly location: FindingLocation;
}

export interface DivergenceCapture {
  readonly findingId: number;
  readonly session: number;
  /** Its replay position, by which findings are ordered. */
  readonly at: number;
  /** The root's own message: the window and both states are taken around it, not where it was reported. */
  readonly message: number;
  readonly window: MessageSummary[];
  /** Each model just after it replayed its copy of `message` (or, when that was too long ago, the message named). */
  rust?: { readonly message: number; readonly state: RustSnapshot };
  js?: { readonly message: number; readonly state: JsSnapshot };
}

/** How a session's watch reaches the analysis: where a capture goes, and whether an earlier session has one. */
export interface CaptureSink {
  readonly capture: (c: DivergenceCapture) => void;
  /** Whether an earlier session captured the first divergence already (this one's cannot be first). */
  readonly hasCapture: (session: number) => boolean;
}

/** Messages and model states kept per session for a root reported after its own message. */
const RECENT = 64;
/** Messages shown either side of the first divergence. */
const AROUND = 3;

/** Findings that are never the first divergence: they say the record, not the allocators, went wrong. */
const NOT_DIVERGENCES: ReadonlySet<string> = new Set(['trailing-bytes', 'non-ascii-string', 'records-lost', 'bad-record', 'side-missing-record']);

interface PastState<S> {
  readonly message: number;
  readonly step: number;
  readonly state: S;
}

/**
 * A message remembered for a window: what it is, summarised only if a window shows it (most
 * messages are forgotten unseen). The text uses the function names known when it is shown.
 */
interface Remembered {
  readonly lm: LMsg;
  readonly d: DecodedMessage;
  readonly side: Side | 'both';
  summary?: MessageSummary;
}

export class DivergenceWatch {
  private readonly recent = new RecentRing<Remembered>(RECENT);
  private capture?: DivergenceCapture;
  /** Recent per-side model states by message number; dropped once the capture is settled. */
  private past?: { rust: RecentRing<PastState<RustSnapshot>>; js: RecentRing<PastState<JsSnapshot>> } = { rust: new RecentRing(RECENT), js: new RecentRing(RECENT) };
  private sideSteps = { rust: 0, js: 0 };
  private stepsSinceCapture = 0;

  constructor(
    private readonly session: number,
    private readonly sink: CaptureSink,
    private readonly mctx: () => ModelContext,
    private readonly world: () => World | undefined,
  ) {}

  /** No capture of this session can be the first divergence any more. */
  private moot(): boolean {
    return this.sink.hasCapture(this.session);
  }

  /** After a message is replayed: it may be in the window of a capture now or later. */
  remember(lm: LMsg, d: DecodedMessage, side: Side | 'both'): void {
    if (this.moot()) {
      if (this.recent.size > 0) this.recent.clear();
      return;
    }
    const r: Remembered = { lm, d, side };
    this.recent.push(r);
    const c = this.capture;
    if (c && Math.abs(lm.no - c.message) <= AROUND && !c.window.some((m) => m.message === lm.no)) {
      const at = c.window.findIndex((m) => m.message > lm.no);
      c.window.splice(at < 0 ? c.window.length : at, 0, this.summaryOf(r));
    }
  }

  /**
   * After each model step: keeps the side's state by message number while a first divergence
   * may still need it, and hands it to a capture waiting for that side to reach the root's message.
   */
  noteState(lm: LMsg, side: Side, messages: number): void {
    const past = this.past;
    if (!past) return;
    if (this.moot()) {
      this.past = undefined;
      return;
    }
    const c = this.capture;
    if (c && ++this.stepsSinceCapture > RECENT) {
      this.settle(messages);
      return;
    }
    const w = this.world()!;
    const step = ++this.sideSteps[side];
    if (side === 'rust') {
      const entry = { message: lm.no, step, state: w.rust.snapshot() };
      past.rust.push(entry);
      if (c && !c.rust && lm.no === c.message) c.rust = entry;
    } else {
      const entry = { message: lm.no, step, state: w.js.snapshot() };
      past.js.push(entry);
      if (c && !c.js && lm.no === c.message) c.js = entry;
    }
  }

  /** A root finding was added at replay position `at`: it may be the first divergence. */
  consider(added: { id: number; root: boolean }, f: Finding, at: number, messages: number): void {
    if (!added.root || this.moot() || f.severity === 'info' || NOT_DIVERGENCES.has(f.kind)) return;
    const w = this.world();
    if (!w) return;
    const message = f.location.message ?? messages;
    // A root reported later may still come first in the report (its reading resolved later).
    if (this.capture && this.capture.at <= at) return;
    const window = this.recent
      .filter((m) => Math.abs(m.lm.no - message) <= AROUND)
      .sort((a, b) => a.lm.no - b.lm.no)
      .map((m) => this.summaryOf(m));
    const c: DivergenceCapture = { findingId: added.id, session: this.session, at, message, window };
    const past = this.past;
    if (past) {
      const rust = past.rust.findLast((p) => p.message === message);
      const js = past.js.findLast((p) => p.message === message);
      if (rust) c.rust = rust;
      // JS commits an R-Eval's ops only when it learns where nested calls ran (often at the
      // J-Resp, or the end): reported soon after its step of the message, its state now is
      // that message's outcome; much later, the state just after the step is nearer.
      if (js) c.js = this.sideSteps.js - js.step <= AROUND ? { message, state: w.js.snapshot() } : js;
    }
    this.capture = c;
    this.stepsSinceCapture = 0;
    this.sink.capture(c);
  }

  /** A side that never reached the root's message (or did so too long ago) shows its state now, labelled with its message. */
  settle(messages: number): void {
    const c = this.capture;
    this.past = undefined;
    const w = this.world();
    if (!c || !w) return;
    c.rust ??= { message: messages, state: w.rust.snapshot() };
    c.js ??= { message: messages, state: w.js.snapshot() };
  }

  private summaryOf(r: Remembered): MessageSummary {
    if (r.summary) return r.summary;
    const { lm, d, side } = r;
    const ctx = this.mctx();
    r.summary = { message: lm.no, side, kind: d.kind ?? 'unreadable', depth: d.depth, text: summarize(d, ctx), location: locationOf(ctx, lm, side === 'js' ? 'js' : 'rust') };
    return r.summary;
  }
}


/** One line saying what a message is, for the window around a divergence. */
export function summarize(d: DecodedMessage, ctx: ModelContext): string {
  const b = d.body;
  if (!b) return `${d.record.dir} message that did not decode`;
  switch (b.kind) {
    case 'r-eval': {
      const pre = b.reservedCount !== undefined ? ` N=${b.reservedCount}` : b.reservedIds ? ` reserved [${b.reservedIds.join(', ')}]` : '';
      const ops = b.ops.slice(0, 6).map((o) => {
        const args = o.args
          .map((a) => (a.kind === 'heapref' ? `#${a.id}` : a.kind === 'callback' ? `callback ${formatCallbackKey(a.key)}` : a.kind === 'int' ? String(a.value) : a.kind === 'string' ? JSON.stringify(a.value.slice(0, 12)) : a.kind))
          .join(', ');
        return `${ctx.fnName(o)}(${args})`;
      });
      return `R-Eval${pre}: ${ops.join('; ')}${b.ops.length > 6 ? `; … ${b.ops.length - 6} more` : ''}`;
    }
    case 'j-eval':
      return b.call.kind === 'callback' ? `J-Eval callback ${formatCallbackKey(b.call.key)}${b.call.type ? ` ${formatSignature(b.call.type)}` : ''}` : `J-Eval ${b.call.kind}`;
    case 'j-resp':
      return `J-Resp${b.evaluateId !== undefined ? ` id ${b.evaluateId}` : ''} (${b.results.length} result${b.results.length === 1 ? '' : 's'})`;
    case 'r-resp':
      return `R-Resp${b.value?.kind === 'heapref' ? ` #${b.value.id}` : ''}`;
  }
}
