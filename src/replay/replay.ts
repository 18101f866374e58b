/**
 * Drives the two models of one conversation and keeps every reading of the trace that the
 * wire leaves open (allocators.md §4 "Telling L-R1 from L-R2", §8 op windows).
 *
 * A reading ("world") is one Rust model and one JS model plus the choices made to get
 * there. Where the wire does not decide (which op a nested callback ran in, under
 * `legacy*`; whether a lone batched op took its placeholder before or after its J-Resp),
 * the world is copied once per answer. Each step runs in every world; then:
 *  - a world the trace contradicts (Rust writes an ID it never had in that reading, an
 *    op window becomes empty) is dropped while another survives;
 *  - a finding every world shows is definite; one only some show is possible when the
 *    worlds differ in the JS op position, and silent when they differ only in the Rust
 *    reading (that reading is simply refuted); worlds showing an ID disagreement that
 *    others do not show are dropped.
 * Worlds are bounded (`maxWorlds`); beyond it only the preferred readings are kept and
 * nothing is called definite that a dropped reading might have contradicted.
 */
import type { DecodedMessage } from '../protocol/messages.js';
import { BoundedMap, type Intent, type ValueInfo } from './ids.js';
import { locationOf, StepOut, type Draft, type LMsg, type ModelContext } from './context.js';
import { describe, provenanceOf } from './ids.js';
import { JsModel, type WindowChoice } from './js/model.js';
import { RustModel, type Reading } from './rust/model.js';
import type { JsHeap } from './js/heap.js';

type Allocs = Array<{ key: string; id: number; reused: boolean }>;
type Quiet = { no: number; maxId?: number };

export class World {
  intents: BoundedMap<number, Intent>;
  rustAllocs: BoundedMap<number, Allocs>;
  jsAllocs: BoundedMap<number, Allocs>;
  /**
   * Quiescent points each side reached, by message, until the other side reaches the same
   * one: the sides' records can arrive in any interleaving (one log, two files, a lagging
   * logger), and each pair must be compared whichever side comes second.
   */
  rustQuiet: BoundedMap<number, Quiet>;
  jsQuiet: BoundedMap<number, Quiet>;
  lastDrift: number;
  /** Values whose IDs parted at creation and that no finding has named since, by value key. */
  latent: BoundedMap<string, Draft>;
  /** An ID disagreement was already reported in this reading. */
  sawMismatch: boolean;
  rustLabel: string[];
  jsLabel: string[];

  /** A fresh reading, or (`from`) a copy of that one with these models. */
  constructor(
    readonly rust: RustModel,
    readonly js: JsModel,
    from?: World,
  ) {
    this.intents = from ? from.intents.clone() : new BoundedMap(4096);
    this.rustAllocs = from ? from.rustAllocs.clone() : new BoundedMap(1024);
    this.jsAllocs = from ? from.jsAllocs.clone() : new BoundedMap(1024);
    this.rustQuiet = from ? from.rustQuiet.clone() : new BoundedMap(256);
    this.jsQuiet = from ? from.jsQuiet.clone() : new BoundedMap(256);
    this.lastDrift = from ? from.lastDrift : 0;
    this.latent = from ? from.latent.clone() : new BoundedMap(256);
    this.sawMismatch = from ? from.sawMismatch : false;
    this.rustLabel = from ? [...from.rustLabel] : [];
    this.jsLabel = from ? [...from.jsLabel] : [];
  }

  clone(): World | undefined {
    const js = this.js.clone();
    if (!js) return undefined;
    return new World(this.rust.clone(), js, this);
  }
}

export interface ReplayHooks {
  /** A draft, settled across readings, becomes a finding. */
  emit(d: Draft): void;
  /** JS stored a value an earlier finding said it had not stored yet: name that ID there too. */
  amend(draftKey: string, jsId: number, info: ValueInfo): void;
}

export class Replay {
  worlds: World[];
  /** Some readings were not followed (bound reached, or a user heap that cannot be copied). */
  truncated = false;
  maxWorldsSeen = 1;
  private lastBorrowKey = { rust: '', js: '' };

  constructor(
    private readonly ctx: ModelContext,
    heap: JsHeap,
    private readonly hooks: ReplayHooks,
    private readonly maxWorlds: number,
  ) {
    this.worlds = [new World(new RustModel(ctx), new JsModel(ctx, heap))];
  }

  get primary(): World {
    return this.worlds[0]!;
  }

  // ---- steps ----------------------------------------------------------------------------

  rustStep(lm: LMsg, d: DecodedMessage): void {
    this.forkRust(d);
    const worlds = this.worlds;
    // One reading (the usual case): no list of results to settle across.
    if (worlds.length === 1) {
      this.emitAll(this.rustWorldStep(worlds[0]!, lm, d));
      return;
    }
    const results: Array<{ w: World; out: StepOut }> = new Array(worlds.length);
    for (let i = 0; i < worlds.length; i++) {
      const w = worlds[i]!;
      results[i] = { w, out: this.rustWorldStep(w, lm, d) };
    }
    this.settle(results);
  }

  private rustWorldStep(w: World, lm: LMsg, d: DecodedMessage): StepOut {
    const out = new StepOut();
    w.rust.step(lm, d, out);
    const intent = out.intent;
    if (intent) {
      const had = w.intents.get(lm.no);
      w.intents.set(lm.no, had ? { ...had, ...intent } : intent);
      if (intent.allocs && intent.allocs.length > 0) {
        w.rustAllocs.set(lm.no, intent.allocs);
        this.compareAllocs(w, lm, out);
      }
    }
    this.afterStep(w, lm, out, 'rust');
    return out;
  }

  jsStep(lm: LMsg, d: DecodedMessage): void {
    const choices = this.forkJs(d);
    const worlds = this.worlds;
    if (worlds.length === 1) {
      this.emitAll(this.jsWorldStep(worlds[0]!, lm, d, choices));
    } else {
      const results: Array<{ w: World; out: StepOut }> = new Array(worlds.length);
      for (let i = 0; i < worlds.length; i++) {
        const w = worlds[i]!;
        results[i] = { w, out: this.jsWorldStep(w, lm, d, choices) };
      }
      this.settle(results);
    }
    for (const w of this.worlds) {
      if (w.js.amendments.length === 0) continue;
      if (w === this.primary) for (const a of w.js.amendments) this.hooks.amend(a.draftKey, a.jsId, a.info);
      w.js.amendments.length = 0;
    }
  }

  private jsWorldStep(w: World, lm: LMsg, d: DecodedMessage, choices: Map<World, WindowChoice> | undefined): StepOut {
    const out = new StepOut();
    const intent = w.intents.get(lm.no);
    w.js.step(lm, d, intent, out, choices?.get(w));
    if (intent) w.intents.delete(lm.no);
    if (out.jsAllocs && out.jsAllocs.length > 0) {
      w.jsAllocs.set(lm.no, out.jsAllocs);
      this.compareAllocs(w, lm, out);
    }
    this.afterStep(w, lm, out, 'js');
    return out;
  }

  /** What every step of either side is checked for once its model has run. */
  private afterStep(w: World, lm: LMsg, out: StepOut, side: 'rust' | 'js'): void {
    this.compareCreated(w);
    if (out.drafts.length > 0) this.coverLatent(w, out);
    if (out.quiescent) {
      (side === 'rust' ? w.rustQuiet : w.jsQuiet).set(lm.no, quietOf(lm, out.quiescent));
      this.borrowBalance(side, lm, out.quiescent, out);
      this.compareQuiet(w, lm, out);
    }
  }

  /** End of the trace: the innermost unanswered R-Eval runs as far as it can. */
  finish(): void {
    const results = this.worlds.map((w) => {
      const out = new StepOut();
      w.js.finish(out);
      this.compareCreated(w);
      this.coverLatent(w, out);
      const latent = [...w.latent.values()];
      for (const d of latent) out.add(d);
      this.driftAfterThrow(w, out, latent.length > 0);
      return { w, out };
    });
    this.settle(results);
  }

  /**
   * INV-5 where the values come into being: the same value (by the op or callback argument
   * that created it) got different IDs on the two sides. Usually an op uses the ID later and
   * that check reports the disagreement with both IDs; a drift no use ever shows (the session
   * deadlocked after a JS exception, or simply ended) is reported at the end of the trace,
   * located where the value was created (allocators §9, INV-5).
   * Free-list revisions compare J-message values in `compareAllocs`; in explicit-ids Rust
   * names every ID, which the install and reservation checks cover.
   */
  private compareCreated(w: World): void {
    const rustNew = w.rust.bornNow;
    const jsNew = w.js.storedNow;
    if (rustNew.length === 0 && jsNew.length === 0) return;
    const a = this.ctx.features.allocator;
    if (a !== 'freelist' && a !== 'explicit') {
      // Nothing the checks call adds to either list.
      for (const { id, info } of rustNew) this.checkCreated(w, info.key, id, w.js.storedAt(info.key));
      for (const { info } of jsNew) this.checkCreated(w, info.key, w.rust.idOf(info.key), w.js.storedAt(info.key));
    }
    rustNew.length = 0;
    jsNew.length = 0;
  }

  private checkCreated(w: World, key: string, rustId: number | undefined, jsId: number | undefined): void {
    if (rustId === undefined || jsId === undefined || rustId === jsId) return;
    const info = w.rust.valueAt(rustId);
    if (!info || info.key !== key) return;
    const jsHere = w.js.heap.model.get(rustId);
    const rustThere = w.rust.valueAt(jsId);
    if (w.latent.has(key)) return;
    w.latent.set(
      key,
      w.js.qualify(
        {
          kind: 'placeholder-id-mismatch',
          severity: 'error',
          key: `placeholder-id-mismatch|created|${key}`,
          mismatch: true,
          message: `${describe(info)}: Rust gave it #${rustId}, JS stored it at #${jsId}${rustThere ? ` (Rust's #${jsId} is ${describe(rustThere)})` : ''}${jsHere ? `; JS #${rustId} holds ${describe(jsHere.info)}` : ''}: the two allocators parted here, and nothing used the ID before the trace ended`,
          location: info.at,
          rustId,
          jsId,
          provenance: [provenanceOf(rustId, 'rust', info), ...(jsHere ? [provenanceOf(rustId, 'js', jsHere.info)] : [])],
          detail: { value: key, atCreation: true },
        },
        [rustId, jsId],
      ),
    );
  }

  /** Values a finding of this step named are no longer latent. */
  private coverLatent(w: World, out: StepOut): void {
    for (const d of out.drafts) {
      if (!d.mismatch) continue;
      w.sawMismatch = true;
      for (const [key, l] of w.latent) if (l.rustId === d.rustId || l.jsId === d.jsId || l.rustId === d.jsId) w.latent.delete(key);
    }
  }

  /**
   * JS threw inside an R-Eval (allocators §9): the placeholders Rust counted for its later
   * ops are never stored, and the trace ends with the counters apart. Reported with both
   * counters beside the exception's own finding, at the R-Eval where JS stopped.
   */
  private driftAfterThrow(w: World, out: StepOut, named: boolean): void {
    const a = this.ctx.features.allocator;
    // Only when no finding names an ID that parted: the counters then tell the drift.
    if (a === 'explicit' || named || w.sawMismatch) return;
    const threw = w.js.threwAt();
    const jsNext = w.js.counter();
    const rustNext = w.rust.counter();
    if (!threw || jsNext === undefined || jsNext === rustNext || jsNext - rustNext === w.lastDrift) return;
    const delta = jsNext - rustNext;
    out.add({
      kind: 'counter-drift',
      severity: 'error',
      key: 'counter-drift|end',
      message: `JS stopped inside msg ${threw.lm.no} and the trace ends with Rust's next heap ID at ${rustNext} and JS's at ${jsNext} (JS ${delta > 0 ? 'ahead' : 'behind'} by ${Math.abs(delta)}): the IDs Rust counted for what JS never ran are not in JS's heap`,
      location: locationOf(this.ctx, threw.lm, 'js'),
      rustId: rustNext,
      jsId: jsNext,
      detail: { delta, atEnd: true },
      causedByKey: threw.key,
    });
  }

  // ---- forks ----------------------------------------------------------------------------

  private forkRust(d: DecodedMessage): void {
    // Almost every step forks nothing: the new list of worlds is made at the first that forks.
    const worlds = this.worlds;
    let next: World[] | undefined;
    for (let i = 0; i < worlds.length; i++) {
      const w = worlds[i]!;
      const serials = w.rust.ambiguousBefore(d);
      if (serials.length === 0) {
        next?.push(w);
        continue;
      }
      next ??= worlds.slice(0, i);
      let variants: World[] = [w];
      const preferred = w.rust.preferredReading();
      const other: Reading = preferred === 'L-R1' ? 'L-R2' : 'L-R1';
      const label = (r: Reading, no: number | undefined): string => (r === 'L-R1' ? `msg ${no} placeholder before sending (L-R1)` : `msg ${no} placeholder after its J-Resp (L-R2)`);
      for (const serial of serials) {
        const grown: World[] = [];
        for (const v of variants) {
          const alt = this.room(next.length + grown.length + variants.length) ? v.clone() : undefined;
          const no = v.rust.frameMessage(serial);
          v.rust.decide(serial, preferred);
          v.rustLabel.push(label(preferred, no));
          grown.push(v);
          if (alt) {
            alt.rust.decide(serial, other);
            alt.rustLabel.push(label(other, no));
            grown.push(alt);
          } else {
            this.truncated = true;
          }
        }
        variants = grown;
      }
      next.push(...variants);
    }
    if (!next) return;
    this.worlds = next;
    this.maxWorldsSeen = Math.max(this.maxWorldsSeen, next.length);
  }

  private forkJs(d: DecodedMessage): Map<World, WindowChoice> | undefined {
    if (d.kind !== 'j-eval') return undefined;
    const choices = new Map<World, WindowChoice>();
    const next: World[] = [];
    for (const w of this.worlds) {
      const plan = w.js.forkPlan(d);
      if (!plan) {
        next.push(w);
        continue;
      }
      if (plan.choices.length === 1) {
        choices.set(w, plan.choices[0]!);
        next.push(w);
        continue;
      }
      const order = [plan.primary, ...plan.choices.map((_, i) => i).filter((i) => i !== plan.primary)];
      const frameNo = w.js.openFrames().find((f) => f.serial === plan.serial)?.lm.no ?? '?';
      // Copies first, from the world as it is, then each gets its own choice.
      const targets: Array<[World, WindowChoice]> = [];
      for (const i of order) {
        const c = plan.choices[i]!;
        if (targets.length === 0) {
          targets.push([w, c]);
          continue;
        }
        const copy = this.room(next.length + targets.length) ? w.clone() : undefined;
        if (!copy) {
          this.truncated = true;
          continue;
        }
        targets.push([copy, c]);
      }
      for (const [t, c] of targets) {
        if (plan.choices.length > 1) t.jsLabel.push(`op ${c.kmin === c.kmax ? c.kmin : `${c.kmin}–${c.kmax}`} of msg ${frameNo}`);
        choices.set(t, c);
        next.push(t);
      }
    }
    this.worlds = next;
    this.maxWorldsSeen = Math.max(this.maxWorldsSeen, next.length);
    return choices;
  }

  private room(count: number): boolean {
    return count < this.maxWorlds;
  }

  // ---- comparisons across the two models ------------------------------------------------

  /**
   * legacy-freelist: both sides allocate for a value JS sent; their free lists decide. Called by
   * the step that set its side's allocations: only that can complete a pair.
   */
  private compareAllocs(w: World, lm: LMsg, out: StepOut): void {
    const r = w.rustAllocs.get(lm.no);
    const j = w.jsAllocs.get(lm.no);
    if (!r || !j) return;
    w.rustAllocs.delete(lm.no);
    w.jsAllocs.delete(lm.no);
    if (this.ctx.features.allocator !== 'freelist') return;
    const rust = new Map(r.map((a) => [a.key, a]));
    for (const a of j) {
      const b = rust.get(a.key);
      if (!b || b.id === a.id) continue;
      out.add({
        kind: 'freelist-divergence',
        severity: 'error',
        key: `freelist-divergence|${lm.no}|${a.key}`,
        mismatch: true,
        message: `msg ${lm.no}: Rust gives a value JS sent #${b.id}${b.reused ? ' (reused from its free list)' : ' (fresh)'}, JS stored it at #${a.id}${a.reused ? ' (reused from its free list)' : ' (fresh)'}: the two free lists differ`,
        location: locationOf(this.ctx, lm, 'js'),
        rustId: b.id,
        jsId: a.id,
        detail: { value: a.key, rustFreeList: w.rust.snapshot().freeList ?? [], jsFreeList: w.js.snapshot().freeList ?? [] },
      });
    }
  }

  /** INV-6: counters agree whenever no exchange is open. */
  private compareQuiet(w: World, lm: LMsg, out: StepOut): void {
    const r = w.rustQuiet.get(lm.no);
    const j = w.jsQuiet.get(lm.no);
    if (!r || !j) return;
    w.rustQuiet.delete(lm.no);
    w.jsQuiet.delete(lm.no);
    if (r.maxId === undefined || j.maxId === undefined) return;
    const delta = j.maxId - r.maxId;
    if (delta === w.lastDrift) return;
    w.lastDrift = delta;
    if (delta === 0) return;
    out.add({
      kind: 'counter-drift',
      severity: 'error',
      key: `counter-drift|${lm.no}`,
      message: `after msg ${lm.no}, with no exchange open, Rust's next heap ID is ${r.maxId} and JS's is ${j.maxId} (JS ${delta > 0 ? 'ahead' : 'behind'} by ${Math.abs(delta)})`,
      location: locationOf(this.ctx, lm, 'js'),
      rustId: r.maxId,
      jsId: j.maxId,
      detail: { delta },
    });
  }

  /** INV-2: with no exchange open, the borrow stack is empty. */
  private borrowBalance(side: 'rust' | 'js', lm: LMsg, q: { pointer: number; frames: number }, out: StepOut): void {
    const state = `${q.pointer}/${q.frames}`;
    if (q.pointer === 128 && q.frames === 0) {
      this.lastBorrowKey[side] = '';
      return;
    }
    if (this.lastBorrowKey[side] === state) return;
    this.lastBorrowKey[side] = state;
    out.add({
      kind: 'borrow-frame-unbalanced',
      severity: 'error',
      key: `borrow-frame-unbalanced|${side}|${lm.no}`,
      message: `after msg ${lm.no} no exchange is open on the ${side === 'rust' ? 'Rust' : 'JS'} side, yet its borrow stack pointer is ${q.pointer} with ${q.frames} frame${q.frames === 1 ? '' : 's'} pushed (expected 128 and none): a frame was pushed and never popped`,
      location: locationOf(this.ctx, lm, side),
      detail: { side, pointer: q.pointer, frames: q.frames },
    });
  }

  /** Whether an imbalance with this state was already reported at a quiescent point. */
  borrowReported(side: 'rust' | 'js', q: { pointer: number; frames: number }): boolean {
    return this.lastBorrowKey[side] === `${q.pointer}/${q.frames}`;
  }

  // ---- settling drafts across worlds ----------------------------------------------------

  /** The drafts of the only reading followed become findings. */
  private emitAll(out: StepOut): void {
    for (const d of out.drafts) {
      if (this.truncated && d.mismatch && d.certainty !== 'possible') {
        this.hooks.emit({ ...d, certainty: 'possible', detail: { ...d.detail, why: 'some readings of where nested calls ran were not followed (limit reached or a user heap that cannot be copied)' } });
      } else {
        this.hooks.emit(d);
      }
    }
  }

  private settle(results: Array<{ w: World; out: StepOut }>): void {
    const consistent = results.length === 1 ? results : results.filter((r) => !r.out.inconsistent);
    if (consistent.length > 0 && consistent.length < results.length) {
      const keep = new Set(consistent.map((r) => r.w));
      this.worlds = this.worlds.filter((w) => keep.has(w));
      results = consistent;
    }
    if (results.length === 1) {
      this.emitAll(results[0]!.out);
      return;
    }
    const byKey = new Map<string, { draft: Draft; worlds: World[] }>();
    for (const r of results) {
      for (const d of r.out.drafts) {
        const e = byKey.get(d.key);
        if (e) e.worlds.push(r.w);
        else byKey.set(d.key, { draft: d, worlds: [r.w] });
      }
    }
    const prune = new Set<World>();
    const all = results.map((r) => r.w);
    for (const { draft, worlds } of byKey.values()) {
      const holds = new Set(worlds);
      const passes = all.filter((w) => !holds.has(w));
      if (passes.length === 0) {
        if (this.truncated && draft.mismatch && draft.certainty !== 'possible') {
          this.hooks.emit({ ...draft, certainty: 'possible', detail: { ...draft.detail, why: 'not every reading was followed' } });
        } else {
          this.hooks.emit(draft);
        }
        continue;
      }
      const jsDependent = worlds.some((f) => passes.some((p) => sameList(f.rustLabel, p.rustLabel)));
      if (jsDependent) {
        const holdsFor = unique(worlds.map((w) => w.jsLabel.join(', ') || 'the preferred reading'));
        const failsFor = unique(passes.map((w) => w.jsLabel.join(', ') || 'the preferred reading'));
        this.hooks.emit({
          ...draft,
          severity: draft.severity === 'error' ? 'warning' : draft.severity,
          certainty: 'possible',
          message: `${draft.message} (possible: holds if the nested call ran in ${holdsFor.join(' or ')}, not if in ${failsFor.join(' or ')})`,
          detail: { ...draft.detail, holdsFor, failsFor, heuristic: !this.ctx.strict },
        });
      }
      if (draft.mismatch) for (const w of worlds) prune.add(w);
    }
    if (prune.size > 0 && prune.size < this.worlds.length) this.worlds = this.worlds.filter((w) => !prune.has(w));
  }
}

function quietOf(lm: LMsg, q: { maxId?: number }): Quiet {
  return q.maxId !== undefined ? { no: lm.no, maxId: q.maxId } : { no: lm.no };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
