/**
 * Reference checks (INV-3, INV-4, INV-5): every ID Rust wrote, checked when JS uses it against
 * what Rust meant by it, and the wording that qualifies a finding resting on an op-window
 * heuristic or a drop/dispose guess.
 */
import type { FindingKind, FindingLocation } from '../findings.js';
import { JSIDX_OFFSET, JSIDX_RESERVED, describe, provenanceOf, type Belief, type RefIntent } from '../ids.js';
import { locationOf, type Draft, type LMsg, type StepOut } from '../context.js';
import type { JsVal } from './heap.js';
import type { JsFrame } from './state.js';
import { JsOpWindows } from './window.js';

export abstract class JsRefChecks extends JsOpWindows {
  /**
   * Checks one ID Rust wrote, when JS uses it, against what Rust meant by it. Returns
   * false when JS will not find what Rust meant.
   */
  protected checkRef(r: RefIntent, lm: LMsg, f: JsFrame | undefined, op: number | undefined, out: StepOut, opGuess?: string): boolean {
    const id = r.id;
    // Taken before `evidence`, which may run ops (and so make guesses) in enclosing R-Evals.
    const guess = (r.role === 'drop' || r.role === 'dispose' ? opGuess : undefined) ?? (this.guessed.length > 0 ? this.guessOn(id) : undefined);
    const b = r.belief;
    if (r.role === 'cached-string') {
      if (id >= JSIDX_RESERVED && this.heap.get(id)) return true;
    } else if (id > 0 && id < JSIDX_OFFSET) {
      return this.checkBorrowed(r, lm, locationOf(this.ctx, lm, 'js', op), keyBaseOf(r, lm, op), out);
    } else if (id >= JSIDX_OFFSET && id < JSIDX_RESERVED) {
      return true;
    }
    this.evidence(b, f, out);
    const v = id >= JSIDX_RESERVED ? this.heap.get(id) : undefined;
    const meant = b.info && (b.state === 'live' || b.state === 'freed' || b.state === 'pending') ? b.info : undefined;
    if (v && (!meant || v.key === meant.key)) return true;
    // From here on a finding is made.
    const guarded = (d: Draft): Draft => this.withGuess(this.withAssumptions(d), guess);
    const loc = locationOf(this.ctx, lm, 'js', op);
    const keyBase = keyBaseOf(r, lm, op);
    if (meant) {
      // nested-encode-order: the ID is a placeholder that a later op of this same R-Eval fills.
      if (f && op !== undefined && meant.origin.no === f.lm.no && meant.origin.op !== undefined && meant.origin.op >= op && !v) {
        const key = `nested-encode-order|${keyBase}`;
        out.add(guarded({
          kind: 'nested-encode-order',
          severity: 'error',
          key,
          mismatch: true,
          message: `op ${op} of msg ${lm.no} passes #${id}, which Rust gave to the result of op ${meant.origin.op} of the same message (encoding op ${op}'s argument called JS first): JS fills #${id} ${meant.origin.op === op ? `with op ${op}'s own result` : `only when op ${meant.origin.op} completes`}, so op ${op} reads an empty slot`,
          location: loc,
          rustId: id,
          provenance: [provenanceOf(id, 'rust', meant)],
          detail: { filledBy: meant.origin.op },
        }));
        return false;
      }
      const jsAt = this.keyIndex.get(meant.key);
      if (jsAt !== undefined || v) {
        const jsAtVal = jsAt !== undefined ? this.heap.get(jsAt) : undefined;
        const freelist = this.allocator === 'freelist' && (meant.reused || v?.info.reused || jsAtVal?.info.reused);
        const kind: FindingKind = freelist ? 'freelist-divergence' : 'placeholder-id-mismatch';
        const here = v ? `JS #${id} holds ${describe(v.info)}` : `JS #${id} is ${this.emptyText(id)}`;
        const key = `${kind}|${keyBase}`;
        if (jsAt === undefined) this.await(meant.key, key);
        const prov = [provenanceOf(id, 'rust', meant)];
        if (jsAt !== undefined && jsAtVal) prov.push(provenanceOf(jsAt, 'js', jsAtVal.info));
        if (v) prov.push(provenanceOf(id, 'js', v.info));
        out.add(guarded({
          kind,
          severity: 'error',
          key,
          mismatch: true,
          message: `${this.useText(r, lm, op)}: Rust: #${id} = ${describe(meant)}; ${jsAt !== undefined ? `JS stored it at #${jsAt}` : 'JS has not stored it anywhere'}; ${here}`,
          location: loc,
          rustId: id,
          ...(jsAt !== undefined && { jsId: jsAt }),
          provenance: prov,
          detail: { role: r.role, ...(r.param !== undefined && { param: r.param }), rust: describe(meant), js: v ? describe(v.info) : null },
        }));
        if (!v) this.emptyFinding(r, lm, loc, keyBase, out, key, guess);
        return false;
      }
    }
    if (v) return true; // Rust does not know the ID in this reading; JS has something there.
    this.emptyFinding(r, lm, loc, keyBase, out, undefined, guess);
    return false;
  }

  protected useText(r: RefIntent, lm: LMsg, op: number | undefined): string {
    switch (r.role) {
      case 'drop':
        return `drop_heap_ref(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'clone':
        return `clone_heap_ref(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'dispose':
        return `dispose_rust_function(#${r.id}) in op ${op} of msg ${lm.no}`;
      case 'return':
        return `the value #${r.id} returned in msg ${lm.no}`;
      default:
        return `argument ${r.param ?? '?'} (#${r.id}) of op ${op} in msg ${lm.no}`;
    }
  }

  protected emptyText(id: number): string {
    const shadow = this.heap.usesRealHeap ? this.heap.model.get(id) : undefined;
    if (shadow) return `empty in the JS heap file (the built-in model holds ${describe(shadow.info)} there)`;
    const fr = this.freed.get(id);
    if (fr) return `empty (JS freed ${describe(fr.info)} there in msg ${fr.at.message} op ${fr.at.op})`;
    switch (this.heap.model.why(id)) {
      case 'above-counter':
        return `empty (above JS's counter ${this.heap.model.maxId})`;
      case 'reserved-unfilled':
        return 'empty (reserved, not filled yet)';
      case 'hole':
        return 'empty (a reserved slot that was never filled)';
      case 'freed':
        return 'empty (freed earlier)';
      default:
        return 'empty (never stored)';
    }
  }

  /** An ID finding about a value JS has not stored yet: once JS stores it, the finding names that ID too. */
  protected await(key: string, draftKey: string): void {
    const list = this.awaiting.get(key) ?? [];
    if (list.length < 8) list.push(draftKey);
    this.awaiting.set(key, list);
  }

  /** The slot Rust uses is empty in JS: use-after-free, double-free or unknown-heap-id. */
  protected emptyFinding(r: RefIntent, lm: LMsg, loc: FindingLocation, keyBase: string, out: StepOut, causedByKey: string | undefined, guess?: string): void {
    const id = r.id;
    const shadow = this.heap.usesRealHeap && this.heap.model.get(id) !== undefined;
    const fr = shadow ? undefined : this.freed.get(id);
    const why = shadow ? 'never' : fr ? 'freed' : this.heap.model.why(id);
    const freed = why === 'freed';
    const kind: FindingKind = freed ? (r.role === 'drop' ? 'double-free' : 'use-after-free') : 'unknown-heap-id';
    const what = this.useText(r, lm, loc.op);
    const meantInfo = r.belief.info && (r.belief.state === 'live' || r.belief.state === 'freed' || r.belief.state === 'pending') ? r.belief.info : undefined;
    const jsAt = meantInfo ? this.keyIndex.get(meantInfo.key) : undefined;
    const meant = r.belief.info ? ` (Rust means ${describe(r.belief.info)}${jsAt !== undefined && jsAt !== id ? `, which JS stored at #${jsAt}` : ''})` : '';
    const draftKey = `${kind}|${keyBase}`;
    if (meantInfo && jsAt === undefined && kind !== 'double-free') this.await(meantInfo.key, draftKey);
    let message: string;
    if (kind === 'double-free') message = `${what} frees #${id} again${meant}: JS freed it already${fr ? ` (${describe(fr.info)}, in msg ${fr.at.message} op ${fr.at.op})` : ''} and nothing was stored there since`;
    else if (kind === 'use-after-free') message = `${what} uses #${id}${meant} after JS freed it${fr ? ` (${describe(fr.info)}, dropped in msg ${fr.at.message} op ${fr.at.op})` : ''}: JS ${this.allocator === 'explicit' ? 'throws "Unknown JS heap reference ID"' : 'reads undefined'}`;
    else if (jsAt !== undefined && jsAt !== id) message = `${what} uses #${id}${meant}; JS #${id} is ${this.emptyText(id)}`;
    else message = `${what} uses #${id}${meant}, which JS never stored: ${this.emptyText(id)}`;
    out.add(this.withGuess(this.withAssumptions({
      kind,
      severity: 'error',
      key: draftKey,
      mismatch: true,
      message,
      location: loc,
      rustId: id,
      ...(jsAt !== undefined && jsAt !== id && { jsId: jsAt }),
      ...(fr && { provenance: [provenanceOf(id, 'js', fr.info, fr.at)] }),
      detail: { role: r.role, reason: why },
      ...(causedByKey && { causedByKey }),
    }), guess));
  }

  protected checkBorrowed(r: RefIntent, lm: LMsg, loc: FindingLocation, keyBase: string, out: StepOut): boolean {
    const id = r.id;
    const pointer = this.heap.model.pointer;
    const v = this.heap.get(id);
    if (id < pointer || !v) {
      out.add({
        kind: 'borrow-ref-escaped',
        severity: 'error',
        key: `borrow-ref-escaped|${keyBase}`,
        mismatch: true,
        message: `${this.useText(r, lm, loc.op)} uses borrow slot ${id}${r.belief.info ? ` (${describe(r.belief.info)})` : ''} after the frame that held it was popped (JS borrow pointer is ${pointer})${v ? `; the slot now holds ${describe(v.info)}` : ''}`,
        location: loc,
        rustId: id,
        ...(r.belief.info && { provenance: [provenanceOf(id, 'rust', r.belief.info)] }),
      });
      return false;
    }
    if (r.belief.info && r.belief.state === 'borrow' && r.belief.info.key !== v.key) {
      out.add({
        kind: 'borrow-frame-unbalanced',
        severity: 'error',
        key: `borrow-frame-unbalanced|${keyBase}`,
        mismatch: true,
        message: `${this.useText(r, lm, loc.op)}: Rust's borrow slot ${id} is ${describe(r.belief.info)}, JS's holds ${describe(v.info)}: the borrow stacks are out of step`,
        location: loc,
        rustId: id,
        jsId: id,
        provenance: [provenanceOf(id, 'rust', r.belief.info), provenanceOf(id, 'js', v.info)],
      });
      return false;
    }
    return true;
  }

  /** An ID Rust names (reserved or installed) is live in JS. */
  protected occupied(id: number, occupant: JsVal | undefined, belief: Belief | undefined, list: 'reserved' | 'install', lm: LMsg, out0: StepOut): string {
    const loc = locationOf(this.ctx, lm, 'js');
    const guess = this.guessOn(id);
    const out = { add: (d: Draft): void => out0.add(this.withGuess(d, guess)) };
    if (belief?.releasedAt || (belief?.state === 'freed' && occupant && belief.info?.key === occupant.key)) {
      const key = `id-reused-before-drop|${lm.no}|${id}`;
      out.add({
        kind: 'id-reused-before-drop',
        severity: 'error',
        key,
        message: `msg ${lm.no} names #${id} in its ${list} list, but JS still holds ${occupant ? describe(occupant.info) : 'a value'} there: Rust released it ${belief?.freedAt ? `in msg ${belief.freedAt.message} op ${belief.freedAt.op}` : 'earlier'} and JS has not run that drop yet`,
        location: loc,
        rustId: id,
        jsId: id,
        ...(occupant && { provenance: [provenanceOf(id, 'js', occupant.info)] }),
      });
      return key;
    }
    const kind: FindingKind = list === 'reserved' ? 'reserved-id-occupied' : 'install-mismatch';
    const key = `${kind}|${lm.no}|${id}`;
    out.add({
      kind,
      severity: 'error',
      key,
      message:
        id < JSIDX_RESERVED
          ? `msg ${lm.no} names special slot #${id} in its ${list} list (JS throws)`
          : list === 'reserved'
            ? `msg ${lm.no} reserves #${id}, which JS still holds (${occupant ? describe(occupant.info) : 'a value'}): JS throws "Reserved heap slot ${id} is already occupied"`
            : `msg ${lm.no} installs #${id}, which JS still holds (${occupant ? describe(occupant.info) : 'a value'}): JS overwrites it silently`,
      location: loc,
      rustId: id,
      jsId: id,
      ...(occupant && { provenance: [provenanceOf(id, 'js', occupant.info)] }),
    });
    return key;
  }

  /** What the open windows rest on: positions only the callback-holder heuristic decided. */
  protected assumptions(): Array<{ message: number; op: number; window: [number, number]; callbackIn: number }> | undefined {
    const out = this.frames.filter((f) => f.assumed).map((f) => ({ message: f.lm.no, op: f.assumed!.op, window: f.assumed!.window, callbackIn: f.assumed!.callback }));
    return out.length > 0 ? out : undefined;
  }

  protected withAssumptions(d: Draft): Draft {
    const a = this.assumptions();
    if (!a) return d;
    const text = a.map((x) => `the callback of msg ${x.callbackIn} ran during op ${x.op} of msg ${x.message} (any of ops ${x.window[0]}..${x.window[1]} without it)`).join('; ');
    return { ...d, message: `${d.message} [relies on the callback-holder heuristic: ${text}]`, detail: { ...d.detail, reliesOnHeuristic: a } };
  }

  /**
   * docs/findings.md §3: a finding that rests on the drop/dispose guess of the signature
   * heuristic (explicit-ids, no fn.* keys) is possible, never definite, and says so.
   */
  protected withGuess(d: Draft, guess: string | undefined): Draft {
    if (!guess) return d;
    return {
      ...d,
      certainty: 'possible',
      severity: d.severity === 'error' ? 'warning' : d.severity,
      message: `${d.message} [relies on a guess of the signature heuristic: ${guess}]`,
      detail: { ...d.detail, reliesOnGuess: guess },
    };
  }

  /** Drafts wrapped the way this model wraps its own (window assumptions, drop/dispose guesses). */
  qualify(d: Draft, ids: readonly number[]): Draft {
    let g: string | undefined;
    for (const id of ids) g ??= this.guessOn(id);
    return this.withGuess(this.withAssumptions(d), g);
  }
}

/** The part of a reference check's key that names the use: message, op, parameter, ID as written. */
function keyBaseOf(r: RefIntent, lm: LMsg, op: number | undefined): string {
  return `${lm.no}|${op ?? 'r'}|${r.param ?? 0}|${r.id}`;
}
