/**
 * One session (one `ctx`): the records of both sides, the decoders, the replay, and the
 * findings that belong to the conversation rather than to an allocator (decode problems,
 * exchanges that never ended, records lost or differing between the two sides).
 */
import { formatCallbackKey } from '../../protocol/format.js';
import { ConversationDecoder } from '../../protocol/decoder.js';
import { HelperTable, type SymbolTable } from '../../protocol/helpers.js';
import type { RevisionSource } from '../../protocol/stream.js';
import { isRevision, featuresOf, type Revision } from '../../protocol/revisions.js';
import type { DecodedMessage, Exchange, Op } from '../../protocol/messages.js';
import type { BadRecord, Direction, MessageRecord, MetaRecord, Side } from '../../trace/record.js';
import { restoredRecord, SideAlignment, type AlignmentSink, type Entry } from './alignment.js';
import { Collector } from '../collector.js';
import { CrossingWatch } from './crossing.js';
import { DivergenceWatch, type CaptureSink } from './divergence.js';
import { MessageChecks } from './message-checks.js';
import { locationOf, recordOf, type Draft, type LMsg, type ModelContext } from '../context.js';
import { BoundedMap, provenanceOf, type IdEvent, type ValueInfo } from '../ids.js';
import type { Finding, FindingLocation } from '../findings.js';
import { JsHeap, ModelHeap, type RealHeap } from '../js/heap.js';
import { leakGroups, leakSummary } from './leaks.js';
import { Replay } from '../replay.js';
import { UnsidedRecords } from './unsided.js';
import type { ReplayStep, SessionHelperSource, SessionSummary } from './summary.js';

export interface SessionEnv {
  readonly rev?: Revision;
  readonly defaultRevision?: Revision;
  readonly detectRevision: (records: MessageRecord[]) => { rev: Revision; guessed: true } | undefined;
  readonly symbols?: SymbolTable;
  readonly strict: boolean;
  readonly maxWorlds: number;
  readonly reportLeaks: boolean;
  readonly realHeap?: () => RealHeap;
  readonly collector: Collector;
  readonly onStep?: (s: ReplayStep) => void;
  readonly onIdEvent?: (e: IdEvent) => void;
  /** Meta records without a ctx, in order (they apply to every session). */
  readonly globalMeta: MetaRecord[];
  /** Where this session's first divergence goes. */
  readonly divergence: CaptureSink;
}

/** Messages a session waits for before deciding between one and two recorded sides. */
const MODE_WINDOW = 64;
/** Messages sampled to guess a revision. */
const DETECT_SAMPLE = 200;
/** Lost records (seq gaps) turned into placeholders that the other side's copy can fill. */
const MAX_GAP_PLACEHOLDERS = 64;
/** Damaged records of a known side kept open for what they may explain (see explainedByBad). */
const MAX_OPEN_BAD = 64;
const LOST_RESPOND_REVISIONS: ReadonlySet<Revision> = new Set<Revision>(['legacy-freelist', 'legacy', 'reserved-count-slotmap', 'reserved-count', 'seq-id']);

export class Session {
  private state: 'collecting' | 'active' = 'collecting';
  private held: Array<MessageRecord | BadRecord> = [];
  private heldMessages = 0;
  private readonly metas: MetaRecord[] = [];
  private readonly sides = new Set<Side | 'unknown'>();
  private mode: 'one' | 'two' = 'one';
  private revision!: Revision;
  private revisionSource!: RevisionSource | 'default';
  private helpers!: HelperTable;
  private mctx!: ModelContext;
  private replay!: Replay;
  private decoders: { rust?: ConversationDecoder; js?: ConversationDecoder; one?: ConversationDecoder } = {};
  private records = 0;
  private messages = 0;
  private ops = 0;
  private maxDepth = 0;
  private at = 0;
  private lastSeq = new Map<string, number>();
  /** The session's last record: where state that is only wrong at the end is reported. */
  private lastRecord?: MessageRecord | BadRecord;
  /** Two-sided: damaged records whose side could not be read, until a side's seq gap claims them. */
  private readonly unsided = new UnsidedRecords();
  /** Two-sided: damaged records of a known side that no copy restored (see explainedByBad). */
  private openBad: Array<{ side: Side; dir?: Direction; id: number }> = [];
  /** The last such record reported on its own: what its loss explains follows from it. */
  private unsidedCause?: number;
  private readonly notes: string[] = [];
  private usesRealHeap = false;
  private readonly divergence: DivergenceWatch;
  /** Each side's last replayed message, and the messages it replayed after a later one (bounded). */
  private lastNo = { rust: 0, js: 0 };
  private ranLate = { rust: new BoundedMap<number, number>(4096), js: new BoundedMap<number, number>(4096) };
  private serialToNo = { rust: new SerialIndex(65536), js: new SerialIndex(65536) };
  // two-sided alignment
  private readonly alignment = new SideAlignment();
  /** Where the alignment hands the entries it settles. */
  private readonly aligned: AlignmentSink = {
    processRust: (e) => this.processRust(e),
    processJs: (e) => this.processJs(e),
    senderLost: (e, sender) => this.senderLost(e, sender),
    unmatched: (e) => this.unmatched(e),
  };
  private readonly crossings = new CrossingWatch();
  private ignoredSide = false;
  private firstDisagreement?: number;
  /** What single messages say on their own: decode issues, calls of callbacks JS dropped. */
  private readonly checks = new MessageChecks(() => this.mctx, (f, o) => this.addFinding(f, o));
  /** Two-sided: J-Evals JS left without an R-Resp, until Rust's record says whether it sent one. */
  private jsEndedWithoutRResp = new Map<number, { x: Exchange; at: number }>();
  /**
   * Two-sided: R-Resps Rust sent that never reached JS, not yet matched with the J-Eval JS
   * left without one. Each lost R-Resp leaves exactly one JS J-Eval without an answer, but
   * not always the one Rust meant it for: JS gives the next R-Resp to its innermost J-Eval.
   */
  private lostRResps = 0;

  constructor(
    readonly ctx: string | undefined,
    readonly order: number,
    private readonly env: SessionEnv,
  ) {
    this.divergence = new DivergenceWatch(order, env.divergence, () => this.mctx, () => this.replay?.primary);
  }

  // ---- input ----------------------------------------------------------------------------

  /** A note of the analyzer's own about this session (shown with its summary). */
  note(text: string): void {
    this.notes.push(text);
  }

  meta(m: MetaRecord): void {
    if (this.state === 'active') {
      if (m.rev !== undefined && m.rev !== this.revision && this.revisionSource !== 'option') {
        this.notes.push(`${m.loc.input}:${m.loc.line ?? m.loc.offset ?? ''}: meta record declares rev=${m.rev} after the session started as ${this.revision}; ignored`);
      }
      const bad = this.helpers.applyMeta(m.fields);
      for (const b of bad) this.notes.push(`meta key ${b} not understood`);
      return;
    }
    this.metas.push(m);
  }

  push(rec: MessageRecord | BadRecord): void {
    this.records++;
    this.lastRecord = rec;
    const side = rec.side;
    // A damaged record whose side could not be read says nothing about which sides recorded.
    if (side !== undefined || rec.kind === 'message') this.sides.add(side ?? 'unknown');
    if (this.state === 'collecting') {
      this.held.push(rec);
      if (rec.kind === 'message') this.heldMessages++;
      if (this.ready(false)) this.activate();
      return;
    }
    this.route(rec);
  }

  private ready(ended: boolean): boolean {
    if (ended) return true;
    const revKnown = this.env.rev !== undefined || this.declaredRev() !== undefined;
    const twoSides = this.bothSides();
    const revOk = revKnown || this.heldMessages >= DETECT_SAMPLE;
    const modeOk = twoSides || this.heldMessages >= MODE_WINDOW;
    return revOk && modeOk;
  }

  /**
   * Both sides record this session: their records, or their meta records (a recorder writes
   * one when it starts), so a side whose records come much later in the input still counts.
   */
  private bothSides(): boolean {
    const has = (side: Side): boolean => this.sides.has(side) || this.metas.some((m) => m.side === side) || this.env.globalMeta.some((m) => m.side === side);
    return has('rust') && has('js');
  }

  private declaredRev(): { rev: Revision; side?: Side } | undefined {
    for (const m of [...this.metas, ...this.env.globalMeta]) {
      if (m.rev !== undefined && isRevision(m.rev)) return { rev: m.rev, ...(m.side && { side: m.side }) };
    }
    return undefined;
  }

  private activate(): void {
    this.state = 'active';
    const declared = this.declaredRev();
    if (this.env.rev) {
      this.revision = this.env.rev;
      this.revisionSource = 'option';
    } else if (declared) {
      this.revision = declared.rev;
      this.revisionSource = 'meta';
      const other = [...this.metas, ...this.env.globalMeta].find((m) => m.rev !== undefined && m.rev !== declared.rev);
      if (other) this.notes.push(`meta records disagree on the revision (${declared.rev} and ${other.rev}); using ${declared.rev}`);
      for (const m of [...this.metas, ...this.env.globalMeta]) {
        if (m.rev !== undefined && !isRevision(m.rev)) this.notes.push(`meta record names unknown revision ${m.rev}`);
      }
    } else {
      const sample = this.held.filter((r): r is MessageRecord => r.kind === 'message');
      const guess = this.env.detectRevision(sample);
      this.revision = guess?.rev ?? this.env.defaultRevision ?? 'reserved-count';
      this.revisionSource = guess ? 'guess' : 'default';
      this.notes.push(guess ? `revision guessed as ${this.revision} from the first messages (no meta record, no --rev)` : `revision unknown (no meta record, nothing to guess from); assumed ${this.revision}`);
    }
    this.helpers = new HelperTable(this.env.symbols);
    for (const m of [...this.env.globalMeta, ...this.metas]) {
      for (const b of this.helpers.applyMeta(m.fields)) this.notes.push(`meta key ${b} not understood`);
    }
    const features = featuresOf(this.revision);
    const helpers = this.helpers;
    if (features.allocator === 'explicit') helpers.expectDispose();
    this.mctx = {
      features,
      helpers,
      strict: this.env.strict,
      ctx: this.ctx,
      fnName: (op: Op) => helpers.nameOf(op.fnId) ?? helpers.roleOf(op)?.role ?? `fn ${op.fnId}`,
      role: (op: Op) => helpers.roleOf(op)?.role,
      roleGuess: (op: Op) => helpers.roleOf(op)?.guess,
      settledVersion: () => helpers.settledVersion(),
    };
    const real = this.env.realHeap?.();
    this.usesRealHeap = real !== undefined;
    const heap = new JsHeap(new ModelHeap(features.allocator), real, (call, model, realAnswer) => this.disagree(call, model, realAnswer));
    this.replay = new Replay(this.mctx, heap, { emit: (d) => this.emitDraft(d), amend: (key, jsId, info) => this.amendJsId(key, jsId, info) }, this.env.maxWorlds);
    if (this.env.onIdEvent) {
      this.replay.primary.rust.idEvents = [];
      this.replay.primary.js.idEvents = [];
    }
    this.mode = this.bothSides() ? 'two' : 'one';
    if (this.mode === 'two') {
      this.decoders.rust = new ConversationDecoder(this.revision);
      this.decoders.js = new ConversationDecoder(this.revision);
    } else {
      this.decoders.one = new ConversationDecoder(this.revision);
    }
    const held = this.held;
    this.held = [];
    for (const r of held) this.route(r);
  }

  private route(rec: MessageRecord | BadRecord): void {
    if (this.mode === 'one') {
      this.feedOne(rec);
      return;
    }
    const side = rec.side;
    if (side !== 'rust' && side !== 'js') {
      if (rec.kind === 'bad') this.holdUnsided(rec);
      else if (!this.ignoredSide) {
        this.ignoredSide = true;
        this.notes.push('records without side= in a session recorded by both sides were ignored');
      }
      return;
    }
    this.claimUnsided(side, rec.seq);
    this.pushAligned(side, rec);
    this.releaseUnsided(false);
    this.alignment.pump(false, this.aligned);
  }

  /** A damaged record of unknown side (two recorded sides): held for a side to claim (see unsided.ts), else reported now. */
  private holdUnsided(rec: BadRecord): void {
    if (!this.unsided.hold(rec)) this.unsidedBad(rec);
  }

  /** Before `side`'s record with seq `seq`: the held records whose seq falls in that side's gap are its own. */
  private claimUnsided(side: Side, seq: number | undefined): void {
    if (seq === undefined || this.unsided.empty) return;
    for (const b of this.unsided.claim(seq, this.lastSeq.get(side) ?? 0)) this.pushAligned(side, { ...b, side });
  }

  /** Held records that neither side can be missing any more (or all of them, at the end). */
  private releaseUnsided(all: boolean): void {
    if (this.unsided.empty) return;
    for (const { rec, side } of this.unsided.release(all, this.lastSeq.get('rust') ?? 0, this.lastSeq.get('js') ?? 0)) {
      if (side) this.pushAligned(side, { ...rec, side });
      else this.unsidedBad(rec);
    }
  }

  /**
   * A message missing from `side`'s record, where that side has a damaged record of the same
   * direction no copy restored: the damaged record is most likely it, so this follows from it.
   */
  private explainedByBad(side: Side, dir: Direction | undefined): { causedById?: number } {
    const i = this.openBad.findIndex((b) => b.side === side && (b.dir === undefined || dir === undefined || b.dir === dir));
    if (i < 0) return {};
    const [b] = this.openBad.splice(i, 1);
    return { causedById: b!.id };
  }

  private unsidedBad(rec: BadRecord): void {
    const id = this.badRecord(rec, false);
    if (id !== undefined) this.unsidedCause = id;
  }

  finish(): void {
    if (this.state === 'collecting') this.activate();
    if (this.mode === 'two') {
      this.releaseUnsided(true);
      this.alignment.pump(true, this.aligned);
      for (const e of this.alignment.drainLate()) this.unmatched(e);
      for (const { x, at } of this.jsEndedWithoutRResp.values()) this.unanswered(x, 'js', 'JS sent another J-Eval, and Rust never sent its R-Resp', at);
    }
    this.at++;
    this.replay.finish();
    this.idEventHook();
    this.endOfTrace();
    this.divergence.settle(this.messages);
  }

  // ---- one recorded side ----------------------------------------------------------------

  private feedOne(rec: MessageRecord | BadRecord): void {
    const decoder = this.decoders.one!;
    const side: Side | undefined = rec.side;
    this.seqCheck(rec, undefined);
    if (rec.kind === 'bad') {
      this.badRecord(rec, false);
      decoder.noteLostRecord();
      return;
    }
    const d = decoder.decode(rec);
    const lm: LMsg = { no: ++this.messages, dir: rec.dir, rust: d, js: d, observed: undefined };
    this.observe(lm, d, decoder);
    this.noteSerial('rust', lm, d);
    this.noteSerial('js', lm, d);
    this.checks.issues(lm, d, side ?? 'rust');
    this.checks.callbackLifetimes(lm, d, side ?? 'rust');
    this.at++;
    this.replay.rustStep(lm, d);
    this.stepHook(lm, d, 'rust');
    this.at++;
    this.replay.jsStep(lm, d);
    this.stepHook(lm, d, 'js');
    this.exchangeEnds(lm, d, side === 'rust' ? 'rust' : 'js');
    this.divergence.remember(lm, d, side ?? 'both');
  }

  // ---- two recorded sides: alignment ----------------------------------------------------

  private pushAligned(side: Side, rec: MessageRecord | BadRecord): void {
    this.alignment.push(side, rec, this.seqCheck(rec, side));
  }

  /**
   * A message the receiver recorded and the sender's record lacks (nor has it damaged):
   * it is replayed on the sender's side from the receiver's copy.
   */
  private senderLost(e: Entry, sender: Side): void {
    this.addFinding(
      {
        kind: 'side-missing-record',
        severity: 'warning',
        message: `a ${e.dir === 'r2j' ? 'Rust→JS' : 'JS→Rust'} message that ${e.side === 'js' ? 'JS' : 'Rust'} received (${e.rec!.loc.input}:${e.rec!.loc.line ?? e.rec!.loc.offset ?? '?'}) is missing from the ${sender === 'rust' ? 'Rust' : 'JS'} side's record, which must have sent it: replayed from the receiver's copy`,
        location: { input: e.rec!.loc.input, ...(e.rec!.loc.line !== undefined && { line: e.rec!.loc.line }), ...(e.rec!.loc.offset !== undefined && { offset: e.rec!.loc.offset }), side: e.side, ...(e.seq !== undefined && { seq: e.seq }), ...(this.ctx !== undefined && { ctx: this.ctx }) },
        detail: { missingOn: sender, restored: true },
      },
      { passive: true, ...this.explainedByBad(sender, e.dir) },
    );
  }

  /** The record's copy never turned up on the other side. */
  private unmatched(e: Entry): void {
    if (e.partner || !e.rec || !e.lm || !e.d) return;
    this.missingOn(e.side === 'rust' ? 'js' : 'rust', e.lm, e.d, e.rec, e.at);
  }

  private lmFor(e: Entry): LMsg {
    if (e.lm) return e.lm;
    const dir: Direction = e.dir ?? e.partner?.dir ?? 'r2j';
    // Every field present from the start: one object shape for all messages.
    const lm: LMsg = e.partner?.lm ?? { no: ++this.messages, dir, rust: undefined, js: undefined, observed: undefined };
    e.lm = lm;
    if (e.partner) e.partner.lm = lm;
    return lm;
  }

  /**
   * What both sides do first with an entry: decode its record (or the other side's copy of a
   * damaged one) with that side's decoder, and file it under its logical message.
   */
  private decodeEntry(e: Entry, side: Side): DecodedMessage | undefined {
    e.processed = true;
    const decoder = this.decoders[side]!;
    // The entry's own record (the usual case), or the other side's copy of one it lost or damaged.
    const rec = e.rec ?? restoredRecord(e);
    const restored = e.rec === undefined && rec !== undefined;
    if (e.bad) {
      const id = this.badRecord(e.bad, restored);
      if (!restored && id !== undefined) {
        this.openBad.push({ side, ...(e.bad.dir && { dir: e.bad.dir }), id });
        if (this.openBad.length > MAX_OPEN_BAD) this.openBad.shift();
      }
    }
    if (!rec) {
      decoder.noteLostRecord();
      return undefined;
    }
    const d = decoder.decode(rec);
    const lm = this.lmFor(e);
    lm[side] = d;
    this.noteSerial(side, lm, d);
    if (!lm.observed) this.observe(lm, d, decoder);
    this.checks.issues(lm, d, side);
    return d;
  }

  /** Marks an entry as replayed at the next position of the session. */
  private advance(e: Entry, d: DecodedMessage): void {
    this.at++;
    e.d = d;
    e.at = this.at;
  }

  private processRust(e: Entry): void {
    const d = this.decodeEntry(e, 'rust');
    if (!d) return;
    // Filed under its logical message by decodeEntry.
    const lm = e.lm!;
    this.checks.callbackLifetimes(lm, d, 'rust');
    if (e.fuzzy === 'differ' && e.partner?.rec && e.rec) this.bytesDiffer(lm, e.rec, e.partner.rec);
    this.advance(e, d);
    this.beginStep('rust', lm.no);
    this.replay.rustStep(lm, d);
    this.stepHook(lm, d, 'rust');
    this.divergence.remember(lm, d, 'rust');
  }

  private processJs(e: Entry): void {
    const d = this.decodeEntry(e, 'js');
    if (!d) return;
    // Filed under its logical message by decodeEntry.
    const lm = e.lm!;
    if (e.partner?.processed && lm.rust) this.crossingCheck(e, lm);
    this.advance(e, d);
    this.beginStep('js', lm.no);
    this.replay.jsStep(lm, d);
    this.stepHook(lm, d, 'js');
    this.exchangeEnds(lm, d, 'js');
    if (!lm.rust) this.divergence.remember(lm, d, 'js');
  }

  /** Both copies of a message are decoded: did it cross another in flight? (see crossing.ts) */
  private crossingCheck(e: Entry, lm: LMsg): void {
    const c = this.crossings.check(e.partner!.pos, lm, this.mctx);
    if (!c) return;
    const f = c.finding;
    const crossing: Finding = { kind: f.kind, severity: f.severity, message: f.message, location: locationOf(this.mctx, lm, 'js'), ...(f.detail && { detail: f.detail }) };
    const added = this.env.collector.add(this.order, this.at, crossing, c.options);
    if (added) {
      this.crossings.link(c.serials, c.linked ?? added.id);
      this.divergence.consider(added, crossing, this.at, this.messages);
    }
  }

  private bytesDiffer(lm: LMsg, a: MessageRecord, b: MessageRecord): void {
    let at = 0;
    while (at < a.data.length && at < b.data.length && a.data[at] === b.data[at]) at++;
    this.addFinding(
      {
        kind: 'side-bytes-differ',
        severity: 'error',
        message: `msg ${lm.no} differs between the two sides' records (${a.data.length} vs ${b.data.length} bytes, first difference at byte ${at}): one record is corrupt, or the bridge altered the message`,
        location: locationOf(this.mctx, lm, 'rust'),
        detail: { rust: { input: a.loc.input, line: a.loc.line, offset: a.loc.offset, bytes: a.data.length }, js: { input: b.loc.input, line: b.loc.line, offset: b.loc.offset, bytes: b.data.length }, firstDifference: at },
      },
      { key: `side-bytes-differ|${lm.no}`, forceRoot: true },
    );
  }

  private missingOn(side: Side, lm: LMsg, d: DecodedMessage, rec: MessageRecord, at?: number): void {
    const other = side === 'js' ? 'Rust' : 'JS';
    if (side === 'js' && d.kind === 'r-resp' && LOST_RESPOND_REVISIONS.has(this.revision)) {
      const jeval = d.exchange ? this.serialToNo.rust.get(d.exchange.serial) : undefined;
      if (jeval !== undefined && this.jsEndedWithoutRResp.delete(jeval)) {
        // JS left the very J-Eval without an answer.
      } else if (this.jsEndedWithoutRResp.size > 0) {
        // The R-Resps shifted: JS took a later one for the J-Eval this one answered, and the
        // J-Eval that later one was meant for ended without an answer.
        this.jsEndedWithoutRResp.delete(this.jsEndedWithoutRResp.keys().next().value!);
      } else {
        this.lostRResps++;
      }
      this.addFinding(
        {
          kind: 'lost-respond',
          severity: 'error',
          message: `the R-Resp of msg ${lm.no}${jeval ? ` (answering the J-Eval of msg ${jeval})` : ''} was sent by Rust but never reached JS: the handler drops an R-Resp when no XHR is parked`,
          location: locationOf(this.mctx, lm, 'rust'),
          ...(jeval !== undefined && { detail: { jEval: jeval } }),
        },
        { key: `lost-respond|${jeval ?? lm.no}`, ...this.explainedByBad('js', 'r2j') },
        at,
      );
      return;
    }
    this.addFinding(
      {
        kind: 'side-missing-record',
        severity: 'warning',
        message: `msg ${lm.no} (${d.kind ?? rec.dir}) is in the ${other} side's record only (${rec.loc.input}:${rec.loc.line ?? rec.loc.offset ?? '?'}); the ${side === 'js' ? 'JS' : 'Rust'} side has no matching record`,
        location: locationOf(this.mctx, lm, side === 'js' ? 'rust' : 'js'),
        detail: { missingOn: side, kind: d.kind ?? null },
      },
      { key: `side-missing-record|${lm.no}`, ...this.explainedByBad(side, lm.dir) },
      at,
    );
  }

  // ---- findings the conversation itself gives ------------------------------------------

  private seqCheck(rec: MessageRecord | BadRecord, side: Side | undefined): number[] {
    const seq = rec.seq;
    const s = side ?? rec.side;
    if (seq === undefined) return [];
    const k = s ?? '';
    const last = this.lastSeq.get(k);
    this.lastSeq.set(k, Math.max(seq, last ?? 0));
    if (last === undefined || seq <= last + 1) return [];
    const missing = seq - last - 1;
    const loc = { input: rec.loc.input, ...(rec.loc.line !== undefined && { line: rec.loc.line }), ...(rec.loc.offset !== undefined && { offset: rec.loc.offset }), ...(s && { side: s }), seq, ...(this.ctx !== undefined && { ctx: this.ctx }) };
    this.addFinding(
      {
        kind: 'records-lost',
        severity: 'warning',
        message: `${missing} record${missing === 1 ? '' : 's'} of the ${s ?? 'recording'} side ${missing === 1 ? 'is' : 'are'} missing before seq ${seq} (seq ${last + 1}${missing > 1 ? `..${seq - 1}` : ''}): what ${missing === 1 ? 'it' : 'they'} carried is unknown to the replay`,
        location: loc,
        detail: { from: last + 1, to: seq - 1 },
      },
      { key: `records-lost|${k}|${seq}`, ...(this.mode === 'two' && { passive: true }), ...(this.unsidedCause !== undefined && { causedById: this.unsidedCause }) },
    );
    if (this.mode === 'one') this.decoders.one?.noteLostRecord();
    const gap: number[] = [];
    for (let q = last + 1; q < seq && gap.length < MAX_GAP_PLACEHOLDERS; q++) gap.push(q);
    return gap;
  }

  private badRecord(rec: BadRecord, restored: boolean): number | undefined {
    return this.addFinding(
      {
        kind: 'bad-record',
        severity: 'warning',
        message: `unreadable record: ${rec.message}${restored ? " (restored from the other side's copy of the same message)" : ''}`,
        location: {
          input: rec.loc.input,
          ...(rec.loc.line !== undefined && { line: rec.loc.line }),
          ...(rec.loc.offset !== undefined && { offset: rec.loc.offset }),
          ...(rec.side && { side: rec.side }),
          ...(rec.seq !== undefined && { seq: rec.seq }),
          ...(this.ctx !== undefined && { ctx: this.ctx }),
        },
        detail: { restored },
      },
      // Restored from the other side's copy, nothing was lost: it explains nothing that follows.
      restored ? { forceRoot: true, passive: true } : {},
    );
  }

  /** Exchanges the decoder gave up on: their Respond never came. */
  private exchangeEnds(lm: LMsg, d: DecodedMessage, side: Side): void {
    for (const x of d.abandoned) {
      if (x.kind === 'j-eval' && d.kind === 'j-eval' && side === 'js' && this.mode === 'two') {
        // Whether Rust sent the R-Resp is in Rust's record: decided when the records are matched.
        const no = this.serialToNo.js.get(x.serial);
        if (this.lostRResps > 0) this.lostRResps--;
        else if (no !== undefined) this.jsEndedWithoutRResp.set(no, { x, at: this.at });
        continue;
      }
      if (x.kind === 'j-eval' && d.kind === 'j-eval' && side === 'js' && LOST_RESPOND_REVISIONS.has(this.revision)) {
        const no = this.serialToNo[side].get(x.serial);
        this.addFinding(
          {
            kind: 'lost-respond',
            certainty: 'possible',
            severity: 'warning',
            message: `the J-Eval of msg ${no ?? '?'} got no R-Resp before JS sent the next J-Eval (msg ${lm.no}): the R-Resp was most likely dropped by the handler (no XHR parked)`,
            location: this.exchangeLocation(x, side, no),
          },
          { key: `lost-respond|${no ?? `s${x.serial}`}` },
        );
        continue;
      }
      this.unanswered(x, side, `the ${d.kind === 'j-eval' ? 'J-Eval' : 'Respond'} of msg ${lm.no} came while it was still open`);
    }
  }

  private unanswered(x: Exchange, side: Side, why: string, at = this.at): void {
    const no = this.serialToNo[side].get(x.serial);
    const what = x.kind === 'r-eval' ? `R-Eval${x.ops ? ` (${x.ops.length} op${x.ops.length === 1 ? '' : 's'})` : ''}` : `J-Eval${x.call?.kind === 'callback' ? ` (callback ${formatCallbackKey(x.call.key)})` : ''}`;
    const threw = this.replay.primary.js.threwIn(x.serial);
    this.addFinding(
      {
        kind: 'unanswered-evaluate',
        severity: 'error',
        message: `the ${what} of msg ${no ?? '?'} was never answered: ${why}`,
        location: this.exchangeLocation(x, side, no),
        detail: { exchange: no ?? null },
      },
      { key: `unanswered-evaluate|${no ?? `s${x.serial}`}`, ...(threw && { causedByKey: threw }) },
      at,
    );
  }

  private exchangeLocation(x: Exchange, side: Side, no: number | undefined): FindingLocation {
    const rec = x.record;
    return {
      input: rec.loc.input,
      ...(rec.loc.line !== undefined && { line: rec.loc.line }),
      ...(rec.loc.offset !== undefined && { offset: rec.loc.offset }),
      side: rec.side ?? side,
      ...(rec.seq !== undefined && { seq: rec.seq }),
      ...(this.ctx !== undefined && { ctx: this.ctx }),
      ...(no !== undefined && { message: no }),
    };
  }

  /** The session's last record, as a finding's place. */
  private endLocation(): FindingLocation {
    const rec = this.lastRecord;
    const loc: FindingLocation = { input: rec?.loc.input ?? '' };
    if (rec?.loc.line !== undefined) loc.line = rec.loc.line;
    if (rec?.loc.offset !== undefined) loc.offset = rec.loc.offset;
    if (rec?.side !== undefined) loc.side = rec.side;
    if (rec?.seq !== undefined) loc.seq = rec.seq;
    if (this.ctx !== undefined) loc.ctx = this.ctx;
    loc.message = this.messages;
    return loc;
  }

  private endOfTrace(): void {
    const decoder = this.decoders.js ?? this.decoders.one;
    const side: Side = this.decoders.js ? 'js' : [...this.sides].includes('rust') && !this.sides.has('js') ? 'rust' : 'js';
    const open = decoder ? [...decoder.open].reverse() : [];
    this.at++;
    for (const x of open) this.unanswered(x, side, 'the trace ends while it is open');
    const w = this.replay.primary;
    const js = w.js.borrowState();
    const rust = w.rust.borrowState();
    const openFrames = w.js.openFrames().filter((f) => f.borrowPushed).length;
    const unbalanced = js.pointer !== 128 || js.frames > 0 || rust.pointer !== 128 || rust.frames > 0;
    const unexplained = js.frames > openFrames;
    // explicit-ids: after a JS throw both stacks of JS are back at the base, and Rust's frames
    // belong to the exchanges it still waits in: it never gets an answer, so nothing follows.
    const unwound = w.js.unwound() && js.frames === 0 && js.pointer === 128;
    const already = unwound || this.replay.borrowReported('js', js) || (js.frames === 0 && js.pointer === 128 && this.replay.borrowReported('rust', rust));
    if (unbalanced && !already && (open.length > 0 || unexplained) && (unexplained || this.hasRoot())) {
      this.addFinding(
        {
          kind: 'borrow-frame-unbalanced',
          severity: 'error',
          message: `at the end of the trace the JS borrow stack is at ${js.pointer} with ${js.frames} frame${js.frames === 1 ? '' : 's'} pushed and Rust's at ${rust.pointer} with ${rust.frames}: exchanges that never completed left their frames behind, so the next callback's borrowed arguments would land in different slots`,
          // The innermost exchange left open is where its frame was pushed; else the end of the session.
          location: open.length > 0 ? this.exchangeLocation(open[0]!, side, this.serialToNo[side].get(open[0]!.serial)) : this.endLocation(),
          detail: { js, rust, openExchanges: open.length },
        },
        { key: 'borrow-frame-unbalanced|end' },
      );
    }
    if (open.length === 0) this.leakFinding();
  }

  /** Whether something went wrong besides the trace simply stopping (or being unreadable) mid-exchange. */
  private hasRoot(): boolean {
    const benign = new Set(['non-ascii-string', 'trailing-bytes', 'unanswered-evaluate', 'bad-record', 'records-lost', 'leak-summary', 'side-missing-record']);
    const counts = this.env.collector.countsFor(this.order);
    return Object.entries(counts).some(([k, n]) => n > 0 && !benign.has(k));
  }

  private leakFinding(): void {
    const leak = leakSummary(this.replay.primary, this.env.reportLeaks);
    if (leak) this.addFinding({ kind: 'leak-summary', severity: 'info', message: leak.message, location: this.endLocation(), detail: leak.detail }, { key: 'leak-summary' });
  }

  private disagree(call: string, model: string, real: string): void {
    const id = this.addFinding(
      {
        kind: 'js-heap-disagrees',
        severity: 'error',
        message: `the JS heap file and the built-in model disagree on ${call}: the model ${model}, the file ${real}`,
        location: { input: '', side: 'js', ...(this.ctx !== undefined && { ctx: this.ctx }), message: this.messages },
        detail: { call, model, real },
      },
      this.firstDisagreement !== undefined ? { causedById: this.firstDisagreement } : { forceRoot: true },
    );
    this.firstDisagreement ??= id;
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private emitDraft(d: Draft): void {
    const f: Finding = {
      kind: d.kind,
      severity: d.severity,
      message: d.message,
      // A model's end-of-trace finding knows no record: it is at the session's last one.
      location: d.location.input === '' && d.location.line === undefined && d.location.offset === undefined ? { ...this.endLocation(), ...(d.location.side && { side: d.location.side }) } : d.location,
      ...(d.rustId !== undefined && { rustId: d.rustId }),
      ...(d.jsId !== undefined && { jsId: d.jsId }),
      ...((d.certainty ?? (d.mismatch ? 'definite' : undefined)) && { certainty: d.certainty ?? 'definite' }),
      ...(d.provenance && d.provenance.length > 0 && { provenance: d.provenance }),
      ...(d.detail && { detail: d.detail }),
    };
    this.addFinding(f, { key: d.key, ...(d.causedByKey && { causedByKey: d.causedByKey }) });
  }

  private beginStep(side: Side, no: number): void {
    const after = this.lastNo[side];
    this.lastNo[side] = no;
    if (after <= no) return;
    const late = this.ranLate[side];
    late.set(no, after);
  }

  /**
   * An ID finding said JS had not stored the value Rust meant; JS stored it since (it ran the
   * creating op later, e.g. a crossed or set-aside message): the finding names that ID too.
   */
  private amendJsId(key: string, jsId: number, info: ValueInfo): void {
    this.env.collector.amend(this.order, key, (f) => {
      if (f.jsId !== undefined) return f;
      const where = `JS stored it later, at #${jsId} (${info.at.message !== undefined ? `msg ${info.at.message}` : 'later'})`;
      const message = f.message.includes('JS has not stored it anywhere') ? f.message.replace('JS has not stored it anywhere', `JS had not stored it yet; ${where}`) : `${f.message}; ${where}`;
      return { ...f, jsId, message, provenance: [...(f.provenance ?? []), provenanceOf(jsId, 'js', info)], detail: { ...f.detail, jsStoredLater: { id: jsId, message: info.at.message ?? null } } };
    });
  }

  private addFinding(f: Finding, o: Parameters<Collector['add']>[3], at = this.at): number | undefined {
    // The side's copy of this message ran after a later message (it crossed, or was delivered
    // late): say after which, so that "msg 7" found at the 607th record is not read as early.
    const side = f.location.side;
    const after = side !== undefined && f.location.message !== undefined ? this.ranLate[side].get(f.location.message) : undefined;
    if (after !== undefined) f.location = { ...f.location, ranAfter: after };
    const added = this.env.collector.add(this.order, at, f, o);
    if (added) this.divergence.consider(added, f, at, this.messages);
    return added?.id;
  }

  private observe(lm: LMsg, d: DecodedMessage, decoder: ConversationDecoder): void {
    lm.observed = true;
    this.helpers.observeMessage(d, decoder.open);
    if (d.body?.kind === 'r-eval') this.ops += d.body.ops.length;
    this.maxDepth = Math.max(this.maxDepth, d.depth + (d.kind === 'r-eval' || d.kind === 'j-eval' ? 1 : 0));
  }

  private noteSerial(side: Side, lm: LMsg, d: DecodedMessage): void {
    if (!d.exchange) return;
    const map = this.serialToNo[side];
    if (d.kind === 'r-eval' || d.kind === 'j-eval') {
      map.set(d.exchange.serial, lm.no);
    }
  }

  /** Hands on the ID events of the preferred reading (the others' are dropped). */
  private idEventHook(): void {
    const hook = this.env.onIdEvent;
    if (!hook) return;
    const w = this.replay.primary;
    for (const e of w.rust.idEvents ?? []) hook(e);
    for (const e of w.js.idEvents ?? []) hook(e);
    for (const x of this.replay.worlds) {
      if (x.rust.idEvents) x.rust.idEvents.length = 0;
      if (x.js.idEvents) x.js.idEvents.length = 0;
    }
  }

  private stepHook(lm: LMsg, d: DecodedMessage, side: Side): void {
    this.idEventHook();
    this.divergence.noteState(lm, side, this.messages);
    const hook = this.env.onStep;
    if (!hook) return;
    const w = this.replay.primary;
    const js = w.js.borrowState();
    const rust = w.rust.borrowState();
    const jsNext = w.js.counter();
    const record = recordOf(lm, side);
    const t = record?.t;
    hook({
      ctx: this.ctx,
      message: lm.no,
      side,
      kind: d.kind,
      depth: side === 'rust' ? w.rust.depth() : w.js.depth(),
      rust: { live: w.rust.liveCount(), nextId: w.rust.counter(), borrowPointer: rust.pointer, borrowFrames: rust.frames },
      js: { live: w.js.liveCount(), ...(jsNext !== undefined && { nextId: jsNext }), borrowPointer: js.pointer, borrowFrames: js.frames, scopes: w.js.heap.model.scopes() },
      readings: this.replay.worlds.length,
      ...(t !== undefined && { t }),
      ...(record && { record }),
    });
  }

  summary(): SessionSummary {
    const w = this.replay.primary;
    const sides = [...this.sides];
    const helperSource: SessionHelperSource = this.helpers.reliedOnHeuristic()
      ? 'heuristic'
      : [...this.env.globalMeta, ...this.metas].some((m) => m.fields.some(([k]) => k.startsWith('fn.')))
        ? 'meta'
        : this.env.symbols
          ? 'symbols'
          : 'none';
    const notes = [...this.notes];
    if (helperSource === 'heuristic') notes.push('bridge helper functions (drop_heap_ref, clone_heap_ref, ...) were identified by the signature heuristic of wire.md §9.1: give fn.* meta keys or --symbols for an exact replay');
    return {
      ctx: this.ctx,
      revision: this.revision,
      revisionSource: this.revisionSource,
      helperSource,
      allocator: this.usesRealHeap ? 'js-heap file' : 'model',
      sides,
      records: this.records,
      messages: this.messages,
      ops: this.ops,
      heapIdsCreated: { rust: w.rust.created, js: w.js.created },
      heapIdsFreed: { rust: w.rust.freedCount, js: w.js.freedCount },
      maxDepth: this.maxDepth,
      findingsByKind: this.env.collector.countsFor(this.order),
      liveAtEnd: { rust: w.rust.liveCount(), js: w.js.liveCount() },
      leaks: leakGroups(w),
      readings: { max: this.replay.maxWorldsSeen, truncated: this.replay.truncated },
      benignCrossings: this.crossings.benign,
      suppressed: this.env.collector.suppressedFor(this.order),
      notes,
    };
  }
}

/**
 * Message numbers by exchange serial. A decoder numbers its exchanges 1, 2, 3, ...: an array
 * from the oldest serial kept is enough, and it keeps the last `limit` (at most twice that).
 */
class SerialIndex {
  private base = 0;
  private nos: number[] = [];
  constructor(private readonly limit: number) {}
  set(serial: number, no: number): void {
    let i = serial - this.base;
    if (i < 0) return;
    if (i > this.nos.length + this.limit) {
      this.base = serial;
      this.nos = [];
      i = 0;
    }
    while (this.nos.length < i) this.nos.push(0);
    this.nos[i] = no;
    if (this.nos.length > 2 * this.limit) {
      const drop = this.nos.length - this.limit;
      this.nos = this.nos.slice(drop);
      this.base += drop;
    }
  }
  get(serial: number): number | undefined {
    const no = this.nos[serial - this.base];
    return no === undefined || no === 0 ? undefined : no;
  }
}

