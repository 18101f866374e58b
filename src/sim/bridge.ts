/**
 * One simulated session: a Rust peer, a JS peer and the protocol handler between them,
 * driven by a deterministic scheduler, with every message recorded by each side the way a
 * recorder on that side would see it (side=rust in Rust's send/receive order, side=js in
 * JS's order, each with its own 1-based seq and a simulated clock in microseconds).
 *
 * Scheduling: the Rust thread runs until it blocks; then the JS thread runs until it
 * blocks; repeat. A message Rust sends reaches the handler at once. That is the order of a
 * quiet system; the one deliberate race (the misrouted-respond fault) lets a JS event's
 * XHR reach the handler just before Rust's next top-level R-Eval.
 */
import type { MessageRecord, Side } from '../trace/record.js';
import type { SimBehaviour } from './behaviour.js';
import type { FaultState } from './faults.js';
import { ProtocolHandler } from './handler.js';
import { JsPeer } from './js-peer.js';
import { HandlerPanic, RustPanic, type Co, type Effect, type JsVal, type Wire } from './model.js';
import type { Rng } from './rng.js';
import { RustPeer, type RustApi } from './rust-peer.js';
import type { SessionOutcome, SessionTruth, TruthCollector } from './truth.js';

export interface ScenarioContext {
  readonly rt: RustApi;
  readonly rng: Rng;
  /** Size parameter of the scenario (callbacks in many-callbacks; unused by most). */
  readonly size: number;
  /** Stress: true once the requested number of messages has crossed the bridge. */
  shouldStop(): boolean;
  /**
   * misrouted-respond: queues a JS event (the page calls its registered handler) that
   * races the next top-level R-Eval to the protocol handler.
   */
  armRace(): void;
  /**
   * The same race as part of the program (a timer that fires just as Rust sends its next
   * top-level R-Eval, `test_batch_stress_browser_event_callbacks`), not a fault: it is run
   * every time it is armed. `jsFirst`: JS also runs that R-Eval and sends its J-Resp before
   * Rust looks at its channels again, so Rust takes the J-Resp first and the callback later.
   */
  raceTimer(jsFirst?: boolean): void;
  /** Page code calls the function JS holds at heap id `id` with `args`, as a task of its own (a timer or event). */
  pageCall(id: number, args: JsVal[]): void;
  /** Whether a fault is enabled (scenarios add the setup a fault needs). */
  hasFault(name: string): boolean;
  /** Stress: allow the interleavings that make later revisions drift (see stress.ts). */
  readonly racy: boolean;
}

export type ScenarioProgram = (ctx: ScenarioContext) => Co<void>;

export interface SessionOptions {
  readonly beh: SimBehaviour;
  readonly truth: TruthCollector;
  readonly faults: FaultState;
  readonly rng: Rng;
  readonly batchMode: boolean;
  readonly gc: boolean;
  readonly ctx: string | undefined;
  readonly sides: { readonly rust: boolean; readonly js: boolean };
  readonly lostRecord: { readonly side: Side; readonly seq: number } | undefined;
  readonly input: string;
  readonly program: ScenarioProgram;
  readonly size: number;
  readonly racy: boolean;
  readonly shouldStop: () => boolean;
  readonly emit: (record: MessageRecord) => void;
}

type RustStatus = 'ready' | 'recv' | 'done' | 'dead';
type JsStatus = 'ready' | 'xhr' | 'reply' | 'idle';

class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head++];
    if (this.head > 256 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

export class Session {
  readonly rust: RustPeer;
  readonly js: JsPeer;
  private readonly handler: ProtocolHandler;
  private readonly options: SessionOptions;
  private serial = 0;
  private clock = 0;
  private rustSeq = 0;
  private jsSeq = 0;
  /** Messages that crossed the bridge (each counted once, when sent). */
  messages = 0;
  private readonly rustGen: Co<void>;
  private readonly jsGen: Co<never>;
  private rustStatus: RustStatus = 'ready';
  private rustIdle = false;
  private jsStatus: JsStatus = 'ready';
  private jsReply: Wire | null = null;
  private readonly jResp = new Queue<Wire>();
  private readonly jEval = new Queue<Wire>();
  private raceArmed = false;
  /** The armed race is the misrouted-respond fault (fired once, logged), not the program's own timer. */
  private raceIsFault = true;
  private raceJsFirst = false;
  private handlerPanicked = false;
  private finished = false;

  constructor(options: SessionOptions) {
    this.options = options;
    const nextSerial = (): number => ++this.serial;
    this.rust = new RustPeer({ beh: options.beh, truth: options.truth, faults: options.faults, nextSerial, batchMode: options.batchMode });
    this.js = new JsPeer({ beh: options.beh, truth: options.truth, faults: options.faults, gc: options.gc, nextSerial });
    this.handler = new ProtocolHandler(options.beh.handler, {
      replyToJs: (wire) => {
        this.jsStatus = 'reply';
        this.jsReply = wire;
      },
      evaluateScript: (wire) => this.js.pushTask({ kind: 'eval', wire }),
      forwardToRust: (wire) => (wire.kind === 'j-eval' ? this.jEval : this.jResp).push(wire),
      dropped: (wire) =>
        options.truth.event('lost-respond', 'handler', wire.rustSeq, 'R-Resp reached the UI thread with no XHR parked: dropped'),
    });
    const ctx: ScenarioContext = {
      rt: this.rust,
      rng: options.rng,
      size: options.size,
      shouldStop: options.shouldStop,
      armRace: () => {
        const handler = this.js.page.get('handler');
        this.js.scheduleNow(handler, 'handler', []);
        this.raceArmed = true;
      },
      raceTimer: (jsFirst = false) => {
        const handler = this.js.page.get('handler');
        this.js.scheduleNow(handler, 'handler', []);
        this.raceArmed = true;
        this.raceIsFault = false;
        this.raceJsFirst = jsFirst;
      },
      pageCall: (id, args) => this.js.pageCall(id, args),
      hasFault: (name) => options.faults.has(name as never),
      racy: options.racy,
    };
    const rust = this.rust;
    this.rustGen = (function* (): Co<void> {
      yield* options.program(ctx);
      yield* rust.idle();
    })();
    this.jsGen = this.js.main();
  }

  /** Advances the simulation by one peer step; false once nothing can run any more. */
  step(): boolean {
    if (this.finished) return false;
    if (this.rustRunnable()) {
      this.stepRust();
      return true;
    }
    if (this.jsRunnable()) {
      this.stepJs();
      return true;
    }
    if (this.rustStatus === 'recv' && this.rustIdle && this.jsStatus === 'idle' && !this.js.hasTasks() && this.jEval.length === 0) {
      this.resumeRust(null);
      return true;
    }
    this.finished = true;
    return false;
  }

  outcome(): SessionOutcome {
    if (this.handlerPanicked) return 'handler-panic';
    if (this.rustStatus === 'dead') return 'rust-panic';
    if (this.rustStatus === 'done' && this.jsStatus === 'idle' && !this.js.hasTasks()) return 'completed';
    return 'deadlock';
  }

  /** Ends the session: reports a deadlock and the state both sides are left in. */
  close(limit: number): SessionTruth {
    const outcome = this.outcome();
    const truth = this.options.truth;
    if (outcome === 'deadlock') {
      const rust = this.rustStatus === 'recv' ? 'waits for a J-message' : `is ${this.rustStatus}`;
      const js = this.jsStatus === 'xhr' ? 'is blocked in an XHR' : `is ${this.jsStatus}`;
      truth.event('deadlock', 'sim', undefined, `the conversation stopped: Rust ${rust}, JS ${js}`);
    }
    const session: SessionTruth = {
      outcome,
      messages: { total: this.messages, rust: this.rustSeq, js: this.jsSeq },
      end: { rust: this.rust.endState(limit), js: this.js.endState(limit) },
    };
    if (this.options.ctx !== undefined) session.ctx = this.options.ctx;
    truth.endSession(session);
    return session;
  }

  // ---- Rust thread ------------------------------------------------------------------------

  private rustRunnable(): boolean {
    if (this.handlerPanicked) return false;
    if (this.rustStatus === 'ready') return true;
    if (this.rustStatus !== 'recv') return false;
    return this.rustIdle ? this.jEval.length > 0 : this.jResp.length > 0 || this.jEval.length > 0;
  }

  private stepRust(): void {
    if (this.rustStatus === 'recv') {
      // The J-Resp channel is polled first (sessions §5); the idle task reads J-Evals only.
      const msg = (!this.rustIdle && this.jResp.shift()) || this.jEval.shift()!;
      this.record('rust', 'j2r', msg);
      this.resumeRust(msg);
    } else {
      this.resumeRust(undefined);
    }
  }

  private resumeRust(value: unknown): void {
    let r: IteratorResult<Effect, void>;
    try {
      r = this.rustGen.next(value);
    } catch (e) {
      if (e instanceof RustPanic) {
        this.rustStatus = 'dead';
        this.options.truth.event('rust-panic', 'rust', this.rustSeq || undefined, e.message);
        return;
      }
      if (e instanceof HandlerPanic) return this.handlerPanic(e);
      throw e;
    }
    if (r.done) {
      this.rustStatus = 'done';
      return;
    }
    const eff = r.value;
    if (eff.kind === 'recv') {
      this.rustStatus = 'recv';
      this.rustIdle = eff.idle;
      return;
    }
    if (eff.kind !== 'send') throw new Error(`the Rust thread yielded ${eff.kind}`);
    this.rustStatus = 'ready';
    this.record('rust', 'r2j', eff.wire);
    this.messages++;
    const racing = this.raceArmed && eff.wire.kind === 'r-eval' && eff.wire.rustTopLevel;
    if (racing) this.runRace();
    try {
      this.handler.fromRust(eff.wire);
    } catch (e) {
      if (e instanceof HandlerPanic) return this.handlerPanic(e);
      throw e;
    }
    if (racing && this.raceJsFirst) {
      this.raceJsFirst = false;
      // JS runs the R-Eval it was handed and answers it before Rust polls its channels.
      for (let guard = 0; guard < 100_000 && this.jsRunnable() && !this.handlerPanicked; guard++) {
        this.stepJs();
        if (this.jsStatus === 'xhr') break;
      }
    }
  }

  /** The JS event fires and its XHR reaches the handler before Rust's R-Eval does. */
  private runRace(): void {
    this.raceArmed = false;
    const fault = this.raceIsFault;
    this.raceIsFault = true;
    if (fault && !this.options.faults.fire('misrouted-respond', 'a JS event handler fires just as Rust sends a top-level R-Eval', this.rustSeq)) return;
    for (let guard = 0; guard < 100_000 && this.jsRunnable() && !this.handlerPanicked; guard++) {
      this.stepJs();
      if (this.jsStatus === 'xhr') break;
    }
  }

  private handlerPanic(e: HandlerPanic): void {
    this.handlerPanicked = true;
    this.options.truth.event('handler-panic', 'handler', this.rustSeq || undefined, e.message);
  }

  // ---- JS thread --------------------------------------------------------------------------

  private jsRunnable(): boolean {
    if (this.handlerPanicked) return false;
    return this.jsStatus === 'ready' || this.jsStatus === 'reply' || (this.jsStatus === 'idle' && this.js.hasTasks());
  }

  private stepJs(): void {
    let value: unknown;
    if (this.jsStatus === 'reply') {
      const reply = this.jsReply;
      this.jsReply = null;
      if (reply) this.record('js', 'r2j', reply);
      value = reply;
    } else if (this.jsStatus === 'idle') {
      const task = this.js.takeTask()!;
      if (task.kind === 'eval') this.record('js', 'r2j', task.wire);
      value = task;
    }
    const r = this.jsGen.next(value);
    if (r.done) throw new Error('the JS thread ended');
    const eff = r.value;
    if (eff.kind === 'idle') {
      this.jsStatus = 'idle';
      return;
    }
    if (eff.kind !== 'xhr') throw new Error(`the JS thread yielded ${eff.kind}`);
    this.jsStatus = 'xhr';
    this.record('js', 'j2r', eff.wire);
    this.messages++;
    try {
      this.handler.fromJs(eff.wire);
    } catch (e) {
      if (e instanceof HandlerPanic) return this.handlerPanic(e);
      throw e;
    }
  }

  // ---- recording --------------------------------------------------------------------------

  private record(side: Side, dir: 'r2j' | 'j2r', wire: Wire): void {
    const o = this.options;
    this.clock += 1 + o.rng.int(40);
    const seq = side === 'rust' ? ++this.rustSeq : ++this.jsSeq;
    if (side === 'rust') wire.rustSeq = seq;
    else wire.jsSeq = seq;
    if (!o.sides[side]) return;
    if (o.lostRecord && o.lostRecord.side === side && o.lostRecord.seq === seq) {
      if (o.faults.fire('lost-record', `the ${side} side's record seq=${seq} is missing`, seq)) {
        o.truth.event('lost-record', side, seq, `record seq=${seq} (${dir}, ${wire.kind}) is not in the recording`);
        return;
      }
    }
    const rec: MessageRecord = { kind: 'message', dir, data: wire.bytes, side, seq, t: this.clock, loc: { input: o.input } };
    if (o.ctx !== undefined) rec.ctx = o.ctx;
    o.emit(rec);
  }
}
