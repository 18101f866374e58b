/**
 * Flattening one conversation into calls, in the order JS ran them.
 *
 * Messages group calls differently in batch and non-batch runs: a batched R-Eval lists
 * several ops, and a callback JS calls while running op k arrives after the whole R-Eval,
 * although it ran between op k's start and op k+1. The wire does not say which op k was
 * (docs/protocol.md §5.9), so the flattener places each nested J-Eval with the
 * callback-holder heuristic:
 *
 *  1. the op that receives the callback's closure (its heap ID) as an argument, at or after
 *     the op running now (the closure is known from the cast op that created it, or predicted
 *     for a cast later in the same R-Eval: reserved slot, or the next insert);
 *  2. else, if an op of the R-Eval passes the callback key itself (a stack closure), that op;
 *  3. else the first op from the current one on that is not a bridge helper
 *     (drop/clone/cast/dispose), or the last op.
 *
 * Placement never goes backwards (ops run in order). Calls are emitted as soon as they are
 * final: an op without nested calls when it completes (the next placement is later, or the
 * J-Resp arrived); an op with nested calls when its first nested call is placed (status
 * `open`), followed by a `return` call when it completes. Nothing is held back beyond the
 * current op of each open R-Eval, so memory does not grow with the depth of a conversation.
 *
 * Releases (`drop_heap_ref`, `dispose_rust_function`, native-ref drops) are not calls: their
 * position depends on Rust's drop deferral and on JS garbage collection, which differ between
 * batch and non-batch runs of the same program. They are reported separately.
 */
import type { Conversation } from '../protocol/stream.js';
import type { DecodedMessage, JsCall, Op, OpResult, REvalBody, RRespBody } from '../protocol/messages.js';
import { formatType, type TypeDef } from '../protocol/types.js';
import { forEachCallback, forEachRef, type Value } from '../protocol/values.js';
import { formatValue } from '../protocol/format.js';
import { EMPTY_TPL, makeItem, TplBuilder, type Item, type ItemDraft, type ItemLocation, type ItemStatus, type Release, type Tpl } from './items.js';
import { ValueModel, type Namer, type Rec, type ValueRec } from './model.js';

export interface FlattenSink {
  item(it: Item): void;
  release(r: Release): void;
}

export interface FlattenOptions {
  readonly exactIds: boolean;
}

interface REvalFrame {
  readonly type: 'r-eval';
  readonly serial: number;
  readonly depth: number;
  readonly msg: DecodedMessage;
  readonly body: REvalBody;
  /** Index of the op running now (0-based); -1 before the first. */
  cur: number;
  /** The current op's call, built at its start, emitted when final. */
  draft: ItemDraft | undefined;
  /** The current op's call was emitted as `open` (nested calls were placed in it). */
  opened: boolean;
  /** The current op has completed (its result is known). */
  completed: boolean;
  preludeShown: boolean;
}

interface JEvalFrame {
  readonly type: 'j-eval';
  readonly serial: number;
  readonly depth: number;
  readonly msg: DecodedMessage;
  readonly call: JsCall;
  readonly draft: ItemDraft | undefined;
  opened: boolean;
}

type Frame = REvalFrame | JEvalFrame;

const HELPERS = new Set(['drop_heap_ref', 'clone_heap_ref', 'cast', 'dispose_rust_function']);

function num(v: Value | undefined): number | undefined {
  if (v?.kind !== 'int') return undefined;
  return typeof v.value === 'bigint' ? Number(v.value) : v.value;
}

function paramsText(params: readonly TypeDef[]): string {
  return `(${params.map(formatType).join(', ')})`;
}

function usesUnknown(d: ItemDraft): boolean {
  return d.args.refs.some((r) => r.rec.unknown);
}

/** Turns the decoded messages of one conversation into calls and releases. */
export class Flattener {
  private readonly stack: Frame[] = [];
  private model: ValueModel | undefined;

  constructor(
    readonly conversation: Conversation,
    private readonly namer: Namer,
    private readonly input: string,
    private readonly options: FlattenOptions,
    private readonly sink: FlattenSink,
  ) {}

  private get m(): ValueModel {
    // The revision is final by the first message (meta records precede it, guesses are made before).
    if (!this.model) this.model = new ValueModel(this.conversation.decoder.features, this.namer);
    return this.model;
  }

  /** Values and callbacks the model keeps alive (for the memory bound). */
  get liveRecords(): number {
    return this.model?.size ?? 0;
  }

  message(msg: DecodedMessage): void {
    for (const x of msg.abandoned) this.finishSerial(x.serial, 'no-answer');
    const body = msg.body;
    if (!body) return;
    switch (body.kind) {
      case 'r-eval':
        this.rEval(msg, body);
        return;
      case 'j-eval':
        this.jEval(msg, body.call);
        return;
      case 'j-resp':
        if (msg.exchange) this.closeREval(msg.exchange.serial, msg);
        return;
      case 'r-resp':
        if (msg.exchange) this.closeJEval(msg.exchange.serial, body);
        else this.m.installFrom(body);
        return;
    }
  }

  /** The trace ended: everything still open never got its answer. */
  end(): void {
    while (this.stack.length > 0) this.finishFrame(this.stack.length - 1, 'no-answer');
  }

  // ---- locations and rendering -------------------------------------------------------------

  private loc(msg: DecodedMessage, op?: number): ItemLocation {
    const r = msg.record;
    return {
      input: this.input,
      ...(r.loc.line !== undefined && { line: r.loc.line }),
      ...(r.loc.offset !== undefined && { offset: r.loc.offset }),
      ...(r.side && { side: r.side }),
      ...(r.seq !== undefined && { seq: r.seq }),
      ...(r.ctx !== undefined && { ctx: r.ctx }),
      ...(op !== undefined && { op }),
      message: msg.messageIndex + 1,
    };
  }

  private fnLabel(op: Op): { label: string; name?: string; role?: string } {
    const helpers = this.conversation.helpers;
    const role = helpers.roleOf(op)?.role;
    const name = helpers.nameOf(op.fnId) ?? role;
    return { label: name ?? `fn ${op.fnId}`, ...(name !== undefined && { name }), ...(role !== undefined && { role }) };
  }

  /** A value Rust wrote (op argument, R-Resp value). */
  private rustValue(b: TplBuilder, v: Value, origin: string, created: Rec[]): void {
    const m = this.m;
    switch (v.kind) {
      case 'heapref':
        if (v.id === undefined) b.lit('#?');
        else b.heapId(v.id, (raw) => m.resolve(raw));
        return;
      case 'borrowed':
        b.lit(v.id === undefined ? '&?' : `&${v.id}`);
        return;
      case 'cached-string':
        b.lit('str').heapId(v.id, (raw) => m.resolve(raw));
        return;
      case 'callback': {
        const before = m.peekCallback(v.key);
        const rec = m.callback(v.key, origin, true);
        if (rec !== before) created.push(rec);
        b.ref(rec, v.key);
        if (this.options.exactIds && v.policy !== undefined) b.lit(`/${['rust-owned', 'js-owned', 'js-owned-once'][v.policy] ?? `policy ${v.policy}`}`);
        return;
      }
      case 'option':
        if (v.value === null) b.lit('None');
        else {
          b.lit('Some(');
          this.rustValue(b, v.value, origin, created);
          b.lit(')');
        }
        return;
      case 'result':
        b.lit(v.ok ? 'Ok(' : 'Err(');
        this.rustValue(b, v.value, origin, created);
        b.lit(')');
        return;
      case 'array':
        b.lit('[');
        v.items.forEach((x, i) => {
          if (i > 0) b.lit(', ');
          this.rustValue(b, x, origin, created);
        });
        b.lit(']');
        return;
      case 'string':
        b.lit(JSON.stringify(v.value));
        return;
      default:
        b.lit(formatValue(v));
    }
  }

  /** A value JS wrote (op result in a J-Resp, callback argument): its HeapRefs are values JS creates. */
  private jsValue(b: TplBuilder, v: Value, origin: string, created: Rec[], create: (origin: string, explicitRaw?: number) => ValueRec): void {
    switch (v.kind) {
      case 'heapref': {
        const rec = create(origin, v.id);
        created.push(rec);
        b.ref(rec, rec.raw);
        return;
      }
      case 'borrowed':
        b.lit(`&${this.m.borrow()}`);
        return;
      case 'option':
        if (v.value === null) b.lit('None');
        else {
          b.lit('Some(');
          this.jsValue(b, v.value, origin, created, create);
          b.lit(')');
        }
        return;
      case 'result':
        b.lit(v.ok ? 'Ok(' : 'Err(');
        this.jsValue(b, v.value, origin, created, create);
        b.lit(')');
        return;
      case 'array':
        b.lit('[');
        v.items.forEach((x, i) => {
          if (i > 0) b.lit(', ');
          this.jsValue(b, x, `${origin} [${i}]`, created, create);
        });
        b.lit(']');
        return;
      case 'string':
        b.lit(JSON.stringify(v.value));
        return;
      default:
        b.lit(formatValue(v));
    }
  }

  /**
   * Emits a call made inside `self` (a frame on the stack, or one just taken off it). The frames
   * below it are its ancestors: an op or callback is shown `open` only once a call is made inside
   * it, so that nested traffic made only of releases (a callback's closing drops, which batching
   * moves around) does not change the shape of the calls.
   */
  private emit(d: ItemDraft, self?: Frame): void {
    for (const frame of this.stack) {
      if (frame === self) break;
      if (frame.type === 'r-eval') {
        if (!frame.opened && !frame.completed && frame.draft) {
          frame.opened = true;
          this.sink.item(makeItem({ ...frame.draft, status: 'open' }));
        }
      } else if (!frame.opened && frame.draft) {
        frame.opened = true;
        this.sink.item(makeItem({ ...frame.draft, status: 'open' }));
      }
    }
    this.sink.item(makeItem(d));
  }

  // ---- R-Eval -------------------------------------------------------------------------------

  private rEval(msg: DecodedMessage, body: REvalBody): void {
    const parent = this.stack[this.stack.length - 1];
    if (parent?.type === 'r-eval') this.placeChild(parent, undefined);
    for (const op of body.ops) this.conversation.helpers.observe(op);
    if (!msg.exchange) return;
    this.m.evalStart(body);
    const frame: REvalFrame = { type: 'r-eval', serial: msg.exchange.serial, depth: msg.depth, msg, body, cur: -1, draft: undefined, opened: false, completed: true, preludeShown: false };
    this.stack.push(frame);
    this.startOp(frame, 0);
  }

  /** `--exact-ids`: the R-Eval's prelude, on the first call of the R-Eval (drops are not calls). */
  private prelude(frame: REvalFrame): string | undefined {
    if (!this.options.exactIds || frame.preludeShown) return undefined;
    frame.preludeShown = true;
    const b = frame.body;
    const parts: string[] = [];
    if (b.reservedCount !== undefined) parts.push(`reserved ${b.reservedCount}`);
    if (b.installIds) parts.push(`install [${b.installIds.map((i) => `#${i}`).join(', ')}]`);
    if (b.reservedIds) parts.push(`reserved [${b.reservedIds.map((i) => `#${i}`).join(', ')}]`);
    return parts.length ? parts.join(', ') : undefined;
  }

  private startOp(f: REvalFrame, i: number): void {
    const ops = f.body.ops;
    if (i >= ops.length) return;
    f.cur = i;
    f.opened = false;
    f.completed = false;
    const op = ops[i]!;
    const { label, name, role } = this.fnLabel(op);
    if (role === 'drop_heap_ref' || role === 'dispose_rust_function') {
      f.draft = undefined;
      return;
    }
    const title = `op ${op.index}: fn ${op.fnId}${name !== undefined ? ` ${name}` : ''}`;
    const created: Rec[] = [];
    const b = new TplBuilder();
    op.args.forEach((arg, k) => {
      if (k > 0) b.lit(', ');
      b.at = `argument ${k + 1}`;
      // clone_heap_ref takes the heap ID as a U64, not a HeapRef (protocol §3.12).
      const id = role === 'clone_heap_ref' ? num(arg) : undefined;
      if (id !== undefined) b.heapId(id, (raw) => this.m.resolve(raw));
      else this.rustValue(b, arg, `argument ${k + 1} of ${title}`, created);
    });
    const prelude = this.prelude(f);
    f.draft = {
      kind: 'op',
      depth: f.depth,
      label,
      title,
      fnId: op.fnId,
      ...(name !== undefined && { name }),
      params: paramsText(op.signature.params),
      ret: formatType(op.signature.ret),
      args: b.build(),
      callee: EMPTY_TPL,
      result: EMPTY_TPL,
      status: 'done',
      ...(prelude !== undefined && { prelude }),
      creates: created,
      loc: this.loc(f.msg, op.index),
    };
  }

  /** The current op finished (`done`), or never will (`no-answer`), or never started (`not-run`). */
  private completeOp(f: REvalFrame, result: OpResult | undefined, status: ItemStatus): void {
    if (f.cur < 0 || f.completed) return;
    f.completed = true;
    const op = f.body.ops[f.cur]!;
    const d = f.draft;
    if (!d) {
      // A release helper: it frees what it names when JS runs it.
      if (status !== 'done') return;
      const raw = num(op.args[0]);
      if (raw === undefined) return;
      const role = this.fnLabel(op).role;
      const rec = role === 'dispose_rust_function' ? this.m.dispose(raw) : this.m.drop(raw);
      if (rec) this.sink.release({ what: role === 'dispose_rust_function' ? 'dispose' : 'drop', rec, raw, loc: this.loc(f.msg, op.index) });
      return;
    }
    const created: Rec[] = f.opened ? [] : [...d.creates];
    let resultTpl: Tpl = EMPTY_TPL;
    const ret = op.signature.ret;
    if (status === 'done') {
      const origin = `result of ${d.title}`;
      const b = new TplBuilder();
      b.at = 'result';
      if (ret.kind === 'heapref') {
        const explicit = result?.value.kind === 'heapref' ? result.value.id : undefined;
        const rec = this.m.opResult(origin, explicit);
        created.push(rec);
        b.ref(rec, rec.raw);
        // A closure: the cast op's result is the heap value that holds the callback.
        for (const arg of op.args) forEachCallback(arg, (cb) => (this.m.callback(cb.key, origin, false).closure = rec));
      } else if (ret.kind !== 'null') {
        if (result) this.jsValue(b, result.value, origin, created, (o, raw) => this.m.insert(o, raw));
        else b.lit('?');
      }
      resultTpl = b.build();
    }
    if (f.opened) {
      this.emit(
        {
          ...d,
          kind: 'return',
          title: `return from ${d.title}`,
          args: EMPTY_TPL,
          result: resultTpl,
          status,
          creates: created,
          prelude: undefined,
        },
        f,
      );
    } else {
      this.emit({ ...d, result: resultTpl, status, creates: created }, f);
    }
    f.draft = undefined;
    f.opened = false;
  }

  /** Moves the R-Eval to the op a nested J-Eval ran in (it opens when a call is made inside). */
  private placeChild(f: REvalFrame, call: JsCall | undefined): void {
    if (f.cur < 0) return;
    const target = this.placement(f, call);
    while (f.cur < target) {
      this.completeOp(f, undefined, 'done');
      this.startOp(f, f.cur + 1);
    }
  }

  private placement(f: REvalFrame, call: JsCall | undefined): number {
    const ops = f.body.ops;
    const c = f.cur;
    const last = ops.length - 1;
    const fallback = (lb: number): number => {
      for (let j = Math.max(lb, c); j <= last; j++) {
        const role = this.conversation.helpers.roleOf(ops[j]!)?.role;
        if (!role || !HELPERS.has(role)) return j;
      }
      return Math.max(c, last);
    };
    const holder = (from: number, raw: number): number => {
      for (let j = Math.max(from, c); j <= last; j++) {
        let found = false;
        for (const a of ops[j]!.args) forEachRef(a, (r) => (found ||= r.id === raw));
        if (found) return j;
      }
      return -1;
    };
    if (call?.kind !== 'callback') return fallback(c);
    const closure = this.m.callback(call.key, '', false).closure;
    if (closure?.raw !== undefined) {
      const j = holder(c, closure.raw);
      if (j >= 0) return j;
    }
    let m = -1;
    for (let j = 0; j <= last && m < 0; j++) {
      for (const a of ops[j]!.args) forEachCallback(a, (cb) => (m = cb.key === call.key && m < 0 ? j : m));
    }
    if (m < 0) return fallback(c);
    const role = this.conversation.helpers.roleOf(ops[m]!)?.role;
    const castLike = role === 'cast' || ops[m]!.signature.ret.kind === 'heapref';
    // A callback passed to an ordinary function (a stack closure) is called by that op.
    if (!castLike) return Math.max(c, m);
    if (m >= c) {
      // The closure's ID is not known yet: predict it (nothing nested allocates before it).
      let ahead = 0;
      for (let j = c; j < m; j++) if (ops[j]!.signature.ret.kind === 'heapref' && !(j === c && f.completed)) ahead++;
      const predicted = this.m.predictReserved(ahead) ?? this.m.predictInsert(ahead);
      const j = holder(m + 1, predicted);
      if (j >= 0) return j;
    }
    return role === 'cast' ? fallback(m + 1) : Math.max(c, m);
  }

  private closeREval(serial: number, msg: DecodedMessage): void {
    const index = this.stack.findIndex((x) => x.serial === serial);
    if (index < 0) return;
    const f = this.stack[index]!;
    if (f.type !== 'r-eval') return;
    // Frames above a Respond answered out of order (evaluate-id* set-aside) stay open.
    this.stack.splice(index, 1);
    const body = msg.body?.kind === 'j-resp' ? msg.body : undefined;
    const results = new Map<number, OpResult>();
    for (const r of body?.results ?? []) results.set(r.op, r);
    this.m.beginJMessage();
    if (f.cur >= 0) {
      this.completeOp(f, results.get(f.cur + 1), 'done');
      for (let i = f.cur + 1; i < f.body.ops.length; i++) {
        this.startOp(f, i);
        this.completeOp(f, results.get(i + 1), 'done');
      }
    }
    this.m.endJMessage();
    this.m.evalEnd();
  }

  // ---- J-Eval -------------------------------------------------------------------------------

  private jEval(msg: DecodedMessage, call: JsCall): void {
    const parent = this.stack[this.stack.length - 1];
    const serial = msg.exchange?.serial ?? -1;
    if (call.kind === 'drop-native') {
      const rec = this.m.releaseCallback(call.key);
      this.sink.release({ what: 'native-drop', rec, raw: call.key, loc: this.loc(msg) });
      this.stack.push({ type: 'j-eval', serial, depth: msg.depth, msg, call, draft: undefined, opened: false });
      return;
    }
    if (parent?.type === 'r-eval') this.placeChild(parent, call);
    const m = this.m;
    m.callStart();
    m.beginJMessage();
    const created: Rec[] = [];
    const args = new TplBuilder();
    const callee = new TplBuilder();
    let draft: ItemDraft;
    const loc = this.loc(msg);
    if (call.kind === 'callback') {
      const rec = m.callback(call.key, '', false);
      callee.at = 'callee';
      callee.ref(rec, call.key);
      call.args.forEach((a, k) => {
        if (k > 0) args.lit(', ');
        args.at = `argument ${k + 1}`;
        this.jsValue(args, a, `argument ${k + 1} of callback ${rec.name}`, created, (o, raw) => m.insert(o, raw));
      });
      draft = {
        kind: 'callback',
        depth: msg.depth,
        label: 'callback',
        title: 'callback',
        params: call.type ? paramsText(call.type.params) : '(?)',
        ret: call.type ? formatType(call.type.ret) : '?',
        args: args.build(),
        callee: callee.build(),
        result: EMPTY_TPL,
        status: 'done',
        creates: created,
        loc,
      };
    } else if (call.kind === 'export') {
      args.lit(call.args.join(', '));
      draft = {
        kind: 'export',
        depth: msg.depth,
        label: `export ${call.name}`,
        title: `export ${JSON.stringify(call.name)}`,
        params: `(${call.args.map(() => 'u32').join(', ')})`,
        ret: 'i32',
        args: args.build(),
        callee: EMPTY_TPL,
        result: EMPTY_TPL,
        status: 'done',
        creates: created,
        loc,
      };
    } else {
      draft = {
        kind: 'call',
        depth: msg.depth,
        label: `call kind ${call.fnId}`,
        title: `unknown call kind 0x${call.fnId.toString(16).padStart(8, '0')}`,
        params: '(?)',
        ret: '?',
        args: EMPTY_TPL,
        callee: EMPTY_TPL,
        result: EMPTY_TPL,
        status: 'done',
        creates: created,
        loc,
      };
    }
    m.endJMessage();
    this.stack.push({ type: 'j-eval', serial, depth: msg.depth, msg, call, draft, opened: false });
  }

  private closeJEval(serial: number, body: RRespBody): void {
    const index = this.stack.findIndex((x) => x.serial === serial);
    if (index < 0) {
      this.m.installFrom(body);
      return;
    }
    const g = this.stack[index]!;
    if (g.type !== 'j-eval') return;
    this.stack.splice(index, 1);
    if (!g.draft) {
      this.m.installFrom(body);
      return;
    }
    this.m.callEnd(body);
    const b = new TplBuilder();
    b.at = 'return value';
    const created: Rec[] = [];
    if (body.value && body.value.kind !== 'unit') this.rustValue(b, body.value, `return value of ${g.draft.title}`, created);
    this.finishJEval(g, b.build(), 'done');
  }

  private finishJEval(g: JEvalFrame, result: Tpl, status: ItemStatus): void {
    const d = g.draft;
    if (!d) return;
    if (g.opened) {
      this.emit({ ...d, kind: 'return', title: `return from ${d.title}`, args: EMPTY_TPL, result, status, creates: [] }, g);
    } else {
      this.emit({ ...d, result, status }, g);
    }
  }

  // ---- abandoned exchanges --------------------------------------------------------------------

  private finishSerial(serial: number, status: ItemStatus): void {
    const index = this.stack.findIndex((x) => x.serial === serial);
    if (index >= 0) this.finishFrame(index, status);
  }

  private finishFrame(index: number, status: ItemStatus): void {
    // Frames above it end with it.
    while (this.stack.length - 1 > index) this.finishFrame(this.stack.length - 1, status);
    const f = this.stack.pop();
    if (!f) return;
    if (f.type === 'r-eval') {
      if (f.cur >= 0) {
        if (!f.opened && !f.completed) {
          // Which op JS was running when the answer failed to come is not on the wire. Take
          // the first op from here that names an ID JS never stored (JS gets `undefined` and
          // most likely throws there), else the last op; the ops before it ran.
          const last = f.body.ops.length - 1;
          while (f.cur < last && !(f.draft && usesUnknown(f.draft))) {
            this.completeOp(f, undefined, 'done');
            this.startOp(f, f.cur + 1);
          }
        }
        this.completeOp(f, undefined, status);
        for (let i = f.cur + 1; i < f.body.ops.length; i++) {
          this.startOp(f, i);
          this.completeOp(f, undefined, 'not-run');
        }
      }
      this.m.evalEnd();
    } else if (f.draft) {
      this.m.callEnd();
      this.finishJEval(f, EMPTY_TPL, status);
    }
  }
}
