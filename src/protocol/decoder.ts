import type { MessageRecord } from '../trace/record.js';
import { FrameReader, type ReaderPosition } from '../wire/frame.js';
import { InvalidHeaderError, WireError } from '../wire/errors.js';
import { featuresOf, type Revision, type RevisionFeatures } from './revisions.js';
import {
  CALL_EXPORT,
  CALL_RUST_CALLBACK,
  DROP_NATIVE_REF,
  MESSAGE_TYPE_EVALUATE,
  MESSAGE_TYPE_RESPOND,
  TYPE_CACHED,
  TYPE_FULL,
  type DecodeIssue,
  type DecodedMessage,
  type Exchange,
  type JEvalBody,
  type JRespBody,
  type JsCall,
  type MessageBody,
  type MessageKind,
  type Op,
  type OpResult,
  type REvalBody,
  type RRespBody,
} from './messages.js';
import { readSignature, sameBytes, shortHex, type CallbackType, type Signature, type TypeDef } from './types.js';
import { decodeValue, NEW_HEAPREF, wordsToNumber, type Value, type ValueCodecContext } from './values.js';

/** The abandoned list of the messages that abandon nothing (almost all): one shared, frozen. */
const NO_EXCHANGES: readonly Exchange[] = Object.freeze([]);

/** Ops in one R-Eval beyond this are refused (a real batch holds at most a few thousand). */
export const MAX_OPS_PER_MESSAGE = 1 << 20;

/** Per-conversation knowledge a decoder needs and gains: types, callbacks, open exchanges. */
export interface ConversationState {
  readonly types: ReadonlyMap<number, Signature>;
  readonly callbacks: ReadonlyMap<number, CallbackType>;
  readonly open: readonly Exchange[];
}

/**
 * Decodes the messages of one conversation (one ctx, one recording side) in order. It keeps
 * what the conversation has taught it: the type cache (TYPE_FULL → TYPE_CACHED), the
 * Callback definition under which each key was last sent, and the stack of open
 * Evaluates that Responds are decoded against. Errors are values: `decode` never throws
 * for bad bytes.
 */
export class ConversationDecoder implements ConversationState {
  private featuresValue: RevisionFeatures;
  readonly types = new Map<number, Signature>();
  readonly callbacks = new Map<number, CallbackType>();
  readonly open: Exchange[] = [];
  private messageCount = 0;
  private exchangeSerial = 0;
  /** Set after a lost or undecodable record: later context errors are probably consequences. */
  private damaged = false;

  /** The value contexts of the two directions, made once per revision (every message needs one). */
  private r2j: ValueCodecContext;
  private j2r: ValueCodecContext;

  constructor(rev: Revision) {
    this.featuresValue = featuresOf(rev);
    this.r2j = { dir: 'r2j', features: this.featuresValue };
    this.j2r = { dir: 'j2r', features: this.featuresValue };
  }

  get revision(): Revision {
    return this.featuresValue.name;
  }

  get features(): RevisionFeatures {
    return this.featuresValue;
  }

  setRevision(rev: Revision): void {
    this.featuresValue = featuresOf(rev);
    this.r2j = { dir: 'r2j', features: this.featuresValue };
    this.j2r = { dir: 'j2r', features: this.featuresValue };
  }

  /** A record of this conversation was unreadable: the context it carried is missing. */
  noteLostRecord(): void {
    this.damaged = true;
  }

  decode(record: MessageRecord): DecodedMessage {
    const messageIndex = this.messageCount++;
    const issues: DecodeIssue[] = [];
    const ctx: MessageDecodeContext = { record, messageIndex, issues, damaged: this.damaged };
    let reader: FrameReader;
    try {
      reader = new FrameReader(record.data);
    } catch (e) {
      return this.failed(ctx, undefined, issueFromError(e, 'invalid-header'));
    }
    let type: number;
    try {
      type = reader.u8('message type');
    } catch (e) {
      return this.failed(ctx, undefined, issueFromError(e, 'invalid-header'));
    }
    if (type !== MESSAGE_TYPE_EVALUATE && type !== MESSAGE_TYPE_RESPOND) {
      return this.failed(ctx, undefined, {
        kind: 'decode-error',
        message: `unknown message type ${type} (expected 0 Evaluate or 1 Respond)`,
        fatal: true,
        severity: 'error',
        byteOffset: reader.byteOffsetOf('u8') - 1,
      });
    }
    const kind: MessageKind =
      record.dir === 'r2j' ? (type === MESSAGE_TYPE_EVALUATE ? 'r-eval' : 'r-resp') : type === MESSAGE_TYPE_EVALUATE ? 'j-eval' : 'j-resp';
    switch (kind) {
      case 'r-eval':
        return this.decodeREval(reader, ctx);
      case 'j-eval':
        return this.decodeJEval(reader, ctx);
      case 'j-resp':
        return this.decodeJResp(reader, ctx);
      case 'r-resp':
        return this.decodeRResp(reader, ctx);
    }
  }

  private failed(ctx: MessageDecodeContext, kind: MessageKind | undefined, issue: DecodeIssue): DecodedMessage {
    this.damaged = true;
    ctx.issues.push(issue);
    return {
      record: ctx.record,
      messageIndex: ctx.messageIndex,
      kind,
      body: undefined,
      depth: this.open.length,
      abandoned: NO_EXCHANGES,
      issues: ctx.issues,
    };
  }

  private valueContext(dir: 'r2j' | 'j2r'): ValueCodecContext {
    return dir === 'r2j' ? this.r2j : this.j2r;
  }

  // ---- Rust → JS Evaluate -------------------------------------------------------------

  private decodeREval(r: FrameReader, ctx: MessageDecodeContext): DecodedMessage {
    const f = this.featuresValue;
    let evaluateId: number | undefined;
    let reservedCount: number | undefined;
    let installIds: number[] | undefined;
    let reservedIds: number[] | undefined;
    const ops: Op[] = [];
    let fatal: DecodeIssue | undefined;
    try {
      switch (f.evalPrelude) {
        case 'none':
          break;
        case 'reserved-count':
          reservedCount = r.u32('reserved count');
          break;
        case 'id-and-count':
          evaluateId = r.u32('evaluate id');
          reservedCount = r.u32('reserved count');
          break;
        case 'install-and-reserved':
          installIds = readIdList(r, 'install list');
          reservedIds = readIdList(r, 'reserved list');
          break;
      }
      const vctx = this.valueContext('r2j');
      while (r.hasMoreU32()) {
        if (ops.length >= MAX_OPS_PER_MESSAGE) {
          throw new WireError(`more than ${MAX_OPS_PER_MESSAGE} ops in one message`, r.byteOffsetOf('u32'), 'u32');
        }
        const op = this.readOp(r, ops.length + 1, vctx, ctx);
        ops.push(op);
      }
    } catch (e) {
      fatal = issueFromError(e, 'decode-error', ops.length + 1);
    }
    if (!fatal) this.checkTrailing(r, ctx, 'warning', 'JS ignores them');
    settleStrings(r, ctx);
    if (fatal) {
      ctx.issues.push(fatal);
      this.damaged = true;
    }
    // Built field by field (no spreads: this runs for every R-Eval), keys in the order of REvalBody.
    // Whole literals for each revision's prelude when it was read in full; else field by field.
    let body: Mutable<REvalBody>;
    if (evaluateId === undefined && installIds === undefined && reservedIds === undefined) {
      body = reservedCount !== undefined ? { kind: 'r-eval', ops, reservedCount } : { kind: 'r-eval', ops };
    } else if (evaluateId !== undefined && reservedCount !== undefined && installIds === undefined && reservedIds === undefined) {
      body = { kind: 'r-eval', ops, evaluateId, reservedCount };
    } else if (evaluateId === undefined && reservedCount === undefined && installIds && reservedIds) {
      body = { kind: 'r-eval', ops, installIds, reservedIds };
    } else {
      body = { kind: 'r-eval', ops };
      if (evaluateId !== undefined) body.evaluateId = evaluateId;
      if (reservedCount !== undefined) body.reservedCount = reservedCount;
      if (installIds) body.installIds = installIds;
      if (reservedIds) body.reservedIds = reservedIds;
    }
    const reserving = f.evalPrelude === 'install-and-reserved' ? (reservedIds?.length ?? 0) > 0 : (reservedCount ?? 0) > 0;
    return this.openExchange(ctx, 'r-eval', body, evaluateId, ops, reserving, undefined, fatal !== undefined);
  }

  private readOp(r: FrameReader, index: number, vctx: ValueCodecContext, ctx: MessageDecodeContext): Op {
    const fnId = r.u32('fn id');
    const markerAt = r.byteOffsetOf('u8');
    const marker = r.u8('type marker');
    const typeId = r.u32('type id');
    let signature: Signature;
    if (marker === TYPE_FULL) {
      signature = internSignature(readSignature(r));
      const known = this.types.get(typeId);
      if (known && !sameBytes(known.bytes, signature.bytes)) {
        ctx.issues.push({
          kind: 'type-redefined',
          message: `op ${index}: TYPE_FULL redefines type id ${typeId} as ${shortHex(signature.bytes)} (was ${shortHex(known.bytes)})`,
          fatal: false,
          severity: 'error',
          op: index,
          byteOffset: markerAt,
        });
      }
      this.types.set(typeId, signature);
    } else if (marker === TYPE_CACHED) {
      const known = this.types.get(typeId);
      if (!known) {
        throw new ContextError({
          kind: 'unknown-type-id',
          message: `op ${index}: TYPE_CACHED type id ${typeId} was never defined in this conversation`,
          fatal: true,
          severity: 'error',
          op: index,
          byteOffset: markerAt,
          ...(ctx.damaged && { consequence: true }),
        });
      }
      signature = known;
    } else {
      throw new WireError(`op ${index}: unknown type marker 0x${marker.toString(16)} (expected 0xfe or 0xff)`, markerAt, 'u8');
    }
    const args: Value[] = [];
    const params = signature.params;
    for (let i = 0; i < params.length; i++) {
      const v = decodeValue(r, params[i]!, vctx);
      args.push(v);
      if (v.kind !== 'int' && v.kind !== 'heapref' && v.kind !== 'borrowed') {
        rememberCallbacks(v, this.callbacks);
        noteNonAscii(v, ctx, index);
      }
    }
    return { index, fnId, marker: marker === TYPE_FULL ? 'full' : 'cached', typeId, signature, args };
  }

  // ---- JS → Rust Evaluate -------------------------------------------------------------

  private decodeJEval(r: FrameReader, ctx: MessageDecodeContext): DecodedMessage {
    const f = this.featuresValue;
    let call: JsCall | undefined;
    let fatal: DecodeIssue | undefined;
    try {
      const fnId = r.u32('call kind');
      if (fnId === CALL_RUST_CALLBACK || fnId === DROP_NATIVE_REF) {
        const key = f.callbackKeyWords === 2 ? wordsToNumber(r.u32('callback key'), r.u32('callback key')) : r.u32('callback handle');
        if (fnId === DROP_NATIVE_REF) {
          call = { kind: 'drop-native', key };
          if (!this.callbacks.has(key)) ctx.issues.push(unknownCallback(key, 'native-ref drop', ctx, false));
        } else {
          const type = this.callbacks.get(key);
          if (!type) {
            call = { kind: 'callback', key, args: [] };
            throw new ContextError(unknownCallback(key, 'callback call', ctx, true));
          }
          const args: Value[] = [];
          call = { kind: 'callback', key, type, args };
          const vctx = this.valueContext('j2r');
          for (const p of type.params) args.push(decodeValue(r, p, vctx));
        }
      } else if (fnId === CALL_EXPORT) {
        const vctx = this.valueContext('j2r');
        const name = decodeValue(r, { kind: 'string' }, vctx);
        const args: number[] = [];
        // Up to seq-id every export argument is one u32; explicit-ids types them off the wire.
        if (!f.typedExports) while (r.hasMoreU32()) args.push(r.u32('export argument'));
        call = { kind: 'export', name: name.kind === 'string' ? name.value : '', args };
      } else {
        call = { kind: 'unknown', fnId };
        throw new ContextError({
          kind: 'unknown-call-kind',
          message: `J-Eval call kind 0x${fnId.toString(16).padStart(8, '0')} is none of 0 (callback), 0xfffffffe (export), 0xffffffff (drop)`,
          fatal: true,
          severity: 'error',
          byteOffset: r.layout.u32Start,
        });
      }
    } catch (e) {
      fatal = issueFromError(e, 'decode-error');
    }
    if (fatal) {
      ctx.issues.push(fatal);
      this.damaged = true;
    } else if (call?.kind === 'export' && f.typedExports) {
      // explicit-ids types export arguments from JS class metadata, not from the wire:
      // what follows the name is unreadable here, not trailing.
    } else {
      this.checkTrailing(r, ctx, call?.kind === 'export' ? 'error' : 'warning', call?.kind === 'export' ? 'Rust panics' : 'Rust does not check');
    }
    const body: JEvalBody | undefined = call ? { kind: 'j-eval', call } : undefined;
    if (!body) return this.failed(ctx, 'j-eval', ctx.issues.pop()!);
    // A J-Eval cannot be sent while JS waits for the R-Resp of another: that R-Resp was lost.
    let abandoned: readonly Exchange[] = NO_EXCHANGES;
    if (this.open.length > 0 && this.open[this.open.length - 1]!.kind === 'j-eval') {
      const lost: Exchange[] = [];
      while (this.open.length > 0 && this.open[this.open.length - 1]!.kind === 'j-eval') lost.push(this.open.pop()!);
      abandoned = lost;
    }
    return this.openExchange(ctx, 'j-eval', body, undefined, undefined, undefined, body.call, fatal !== undefined, abandoned);
  }

  // ---- Responds -------------------------------------------------------------------------

  private decodeJResp(r: FrameReader, ctx: MessageDecodeContext): DecodedMessage {
    const f = this.featuresValue;
    let evaluateId: number | undefined;
    try {
      if (f.jRespPrelude === 'id') evaluateId = r.u32('evaluate id');
    } catch (e) {
      return this.failed(ctx, 'j-resp', issueFromError(e, 'decode-error'));
    }
    const { exchange, abandoned } = this.findAnswered('r-eval', evaluateId, ctx);
    let results: OpResult[] = [];
    if (exchange) {
      const start = r.position();
      const attempt = readOpResults(r, exchange, this.j2r);
      if (attempt.ok) {
        results = attempt.results;
      } else if (!exchange.incomplete) {
        // Misrouting shows as a Respond shaped for another open R-Eval (failure-modes).
        const other = this.open.find((x) => x !== exchange && x.kind === 'r-eval' && !x.incomplete && fits(r, start, x, this.j2r));
        if (other) {
          ctx.issues.push({
            kind: 'respond-shape-mismatch',
            message: `J-Resp does not decode as the answer to the R-Eval it closes (message ${exchange.messageIndex + 1}: ${attempt.problem.message}) but decodes exactly as the answer to the open R-Eval of message ${other.messageIndex + 1}`,
            fatal: true,
            severity: 'error',
            exchange: other.serial,
            ...(ctx.damaged && { consequence: true }),
          });
        } else {
          ctx.issues.push({ ...attempt.problem, ...(ctx.damaged && { consequence: true }) });
        }
        results = attempt.results;
      }
    }
    const body: JRespBody = evaluateId !== undefined ? { kind: 'j-resp', evaluateId, results } : { kind: 'j-resp', results };
    return this.closeExchange(ctx, 'j-resp', body, exchange, abandoned);
  }

  private decodeRResp(r: FrameReader, ctx: MessageDecodeContext): DecodedMessage {
    const f = this.featuresValue;
    let installIds: number[] | undefined;
    let preludeWord: number | undefined;
    try {
      if (f.rRespPrelude === 'zero-word') preludeWord = r.u32('R-Resp prelude word');
      else if (f.rRespPrelude === 'install') installIds = readIdList(r, 'install list');
    } catch (e) {
      return this.failed(ctx, 'r-resp', issueFromError(e, 'decode-error'));
    }
    if (preludeWord !== undefined && preludeWord !== 0) {
      ctx.issues.push({
        kind: 'decode-error',
        message: `R-Resp prelude word is ${preludeWord}; Rust always writes 0 there (JS skips it)`,
        fatal: false,
        severity: 'warning',
        byteOffset: r.layout.u32Start,
      });
    }
    const { exchange, abandoned } = this.findAnswered('j-eval', undefined, ctx);
    let value: Value | undefined;
    let type: TypeDef | undefined;
    let opaqueBytes: number | undefined;
    const call = exchange?.call;
    // What the reader does with leftovers depends on who reads the R-Resp (wire §11).
    let leftovers: { severity: 'error' | 'warning' | 'info'; why: string } | undefined =
      exchange && !exchange.incomplete ? { severity: 'error', why: 'JS throws' } : undefined;
    try {
      if (call?.kind === 'callback' && call.type) {
        type = call.type.ret;
        value = decodeValue(r, type, this.valueContext('r2j'));
      } else if (call?.kind === 'export') {
        if (f.typedExports) {
          const left = r.remaining();
          opaqueBytes = left.u32 * 4 + left.u16 * 2 + left.u8 + left.str;
          leftovers = undefined;
        } else {
          // Up to seq-id JS reads one i32 if a u32 word is there, and ignores the rest.
          if (r.hasMoreU32()) {
            type = { kind: 'i32' };
            value = decodeValue(r, type, this.valueContext('r2j'));
          }
          leftovers = { severity: 'info', why: 'JS reads at most one i32 of an export result and ignores the rest' };
        }
      } else if (call?.kind === 'drop-native') {
        leftovers = leftovers && { severity: 'warning', why: 'JS ignores the reply to a native-ref drop' };
      }
      const trailing = leftovers && describeTrailing(r);
      if (leftovers && trailing) {
        ctx.issues.push({ kind: 'trailing-bytes', message: `R-Resp has ${trailing} left after the value (${leftovers.why})`, fatal: false, severity: leftovers.severity });
      }
    } catch (e) {
      ctx.issues.push({ ...issueFromError(e, 'decode-error'), ...(ctx.damaged && { consequence: true }) });
    }
    if (value) {
      noteNonAscii(value, ctx, undefined);
      settleStrings(r, ctx);
    }
    // Field by field in RRespBody's order: no spreads on a path every R-Resp takes.
    const body: Mutable<RRespBody> = { kind: 'r-resp' };
    if (preludeWord !== undefined) body.preludeWord = preludeWord;
    if (installIds) body.installIds = installIds;
    if (value) body.value = value;
    if (type) body.type = type;
    if (opaqueBytes !== undefined) body.opaqueBytes = opaqueBytes;
    return this.closeExchange(ctx, 'r-resp', body, exchange, abandoned);
  }

  /**
   * Finds the open Evaluate a Respond answers: by id where the revision has one, else the
   * innermost open Evaluate of the other direction. Exchanges above it are abandoned.
   */
  private findAnswered(
    kind: 'r-eval' | 'j-eval',
    evaluateId: number | undefined,
    ctx: MessageDecodeContext,
  ): { exchange: Exchange | undefined; abandoned: readonly Exchange[] } {
    let index = -1;
    if (kind === 'r-eval' && evaluateId !== undefined && this.featuresValue.routing === 'by-id') {
      for (let i = this.open.length - 1; i >= 0; i--) {
        const x = this.open[i]!;
        if (x.kind === 'r-eval' && x.evaluateId === evaluateId) {
          index = i;
          break;
        }
      }
      const innermost = innermostREval(this.open);
      if (index < 0) {
        ctx.issues.push({
          kind: innermost ? 'misrouted-respond' : 'respond-without-evaluate',
          message: innermost
            ? `J-Resp echoes evaluate id ${evaluateId}, which no open R-Eval has (innermost open: id ${innermost.evaluateId})`
            : `J-Resp (evaluate id ${evaluateId}) arrived with no R-Eval open`,
          fatal: true,
          severity: 'error',
          ...(ctx.damaged && { consequence: true }),
        });
        return { exchange: undefined, abandoned: NO_EXCHANGES };
      }
      if (innermost && innermost !== this.open[index]) {
        ctx.issues.push({
          kind: 'misrouted-respond',
          message: `J-Resp answers R-Eval id ${evaluateId} (message ${this.open[index]!.messageIndex + 1}) while the innermost open R-Eval is id ${innermost.evaluateId} (message ${innermost.messageIndex + 1}): Rust sets it aside until that one is answered`,
          fatal: false,
          severity: 'warning',
          exchange: this.open[index]!.serial,
        });
        // Answered out of order: it leaves the stack alone, nothing above it is abandoned.
        const [x] = this.open.splice(index, 1);
        return { exchange: x, abandoned: NO_EXCHANGES };
      }
    } else {
      for (let i = this.open.length - 1; i >= 0; i--) {
        if (this.open[i]!.kind === kind) {
          index = i;
          break;
        }
      }
      if (index < 0) {
        ctx.issues.push({
          kind: 'respond-without-evaluate',
          message: `${kind === 'r-eval' ? 'J-Resp' : 'R-Resp'} arrived with no ${kind === 'r-eval' ? 'R-Eval' : 'J-Eval'} open`,
          fatal: true,
          severity: 'error',
          ...(ctx.damaged && { consequence: true }),
        });
        return { exchange: undefined, abandoned: NO_EXCHANGES };
      }
    }
    const abandoned = index + 1 < this.open.length ? this.open.splice(index + 1).reverse() : NO_EXCHANGES;
    const exchange = this.open.pop();
    return { exchange, abandoned };
  }

  private openExchange(
    ctx: MessageDecodeContext,
    kind: 'r-eval' | 'j-eval',
    body: MessageBody,
    evaluateId: number | undefined,
    ops: readonly Op[] | undefined,
    reserving: boolean | undefined,
    call: JsCall | undefined,
    incomplete: boolean,
    abandoned: readonly Exchange[] = NO_EXCHANGES,
  ): DecodedMessage {
    const serial = ++this.exchangeSerial;
    const record = ctx.record;
    const messageIndex = ctx.messageIndex;
    const depth = this.open.length;
    let exchange: Mutable<Exchange>;
    // Whole literals for the usual shapes (a property added later costs an allocation per message);
    // keys in the order the general case gives them.
    if (ops !== undefined && reserving !== undefined && call === undefined) {
      exchange =
        evaluateId !== undefined
          ? { serial, kind, record, messageIndex, depth, incomplete, evaluateId, ops, reserving }
          : { serial, kind, record, messageIndex, depth, incomplete, ops, reserving };
    } else if (call !== undefined && evaluateId === undefined && ops === undefined && reserving === undefined) {
      exchange = { serial, kind, record, messageIndex, depth, incomplete, call };
    } else {
      exchange = { serial, kind, record, messageIndex, depth, incomplete };
      if (evaluateId !== undefined) exchange.evaluateId = evaluateId;
      if (ops !== undefined) exchange.ops = ops;
      if (reserving !== undefined) exchange.reserving = reserving;
      if (call !== undefined) exchange.call = call;
    }
    this.open.push(exchange);
    return {
      record: ctx.record,
      messageIndex: ctx.messageIndex,
      kind,
      body,
      depth: exchange.depth,
      exchange,
      abandoned,
      issues: ctx.issues,
    };
  }

  private closeExchange(
    ctx: MessageDecodeContext,
    kind: 'j-resp' | 'r-resp',
    body: MessageBody,
    exchange: Exchange | undefined,
    abandoned: readonly Exchange[],
  ): DecodedMessage {
    const record = ctx.record;
    const messageIndex = ctx.messageIndex;
    const issues = ctx.issues;
    // One literal each way, `exchange` last as before (added later, it would cost an allocation).
    if (exchange) return { record, messageIndex, kind, body, depth: exchange.depth, abandoned, issues, exchange };
    return { record, messageIndex, kind, body, depth: this.open.length, abandoned, issues };
  }

  private checkTrailing(r: FrameReader, ctx: MessageDecodeContext, severity: 'error' | 'warning', why: string): void {
    const trailing = describeTrailing(r);
    if (trailing) {
      ctx.issues.push({ kind: 'trailing-bytes', message: `${trailing} left after the last op (${why})`, fatal: false, severity });
    }
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface MessageDecodeContext {
  readonly record: MessageRecord;
  readonly messageIndex: number;
  readonly issues: DecodeIssue[];
  readonly damaged: boolean;
  /** Rust→JS strings of the message in wire order, kept once one of them is not ASCII. */
  strings?: Array<{ readonly op: number | undefined; readonly len: number; readonly nonAscii: boolean }>;
  /** Bytes of the str buffer taken by the strings before `strings` starts (all ASCII). */
  asciiPrefix?: number;
}

/** A decode stopped by missing conversation context (not by bad bytes). */
class ContextError extends Error {
  constructor(readonly issue: DecodeIssue) {
    super(issue.message);
  }
}

function issueFromError(e: unknown, kind: 'decode-error' | 'invalid-header', op?: number): DecodeIssue {
  if (e instanceof ContextError) return e.issue;
  if (e instanceof InvalidHeaderError) {
    return { kind: 'invalid-header', message: e.message, fatal: true, severity: 'error', byteOffset: e.offset };
  }
  if (e instanceof WireError) {
    return {
      kind,
      message: op !== undefined ? `op ${op}: ${e.message}` : e.message,
      fatal: true,
      severity: 'error',
      byteOffset: e.offset,
      ...(op !== undefined && { op }),
    };
  }
  throw e;
}

function unknownCallback(key: number, what: string, ctx: MessageDecodeContext, fatal: boolean): DecodeIssue {
  return {
    kind: 'unknown-callback',
    message: `${what} for callback key ${key}, which was never passed to JS in this conversation`,
    fatal,
    severity: 'error',
    ...(ctx.damaged && { consequence: true }),
  };
}

/**
 * Notes the strings of a Rust→JS value in wire order. Only once one is not ASCII does JS's
 * reading of the message need checking (see settleStrings); ASCII strings before it are read
 * exactly, so only their byte count is kept.
 */
function noteNonAscii(x: Value, ctx: MessageDecodeContext, op: number | undefined): void {
  switch (x.kind) {
    case 'string':
      if (ctx.strings) ctx.strings.push({ op, len: x.byteLength, nonAscii: x.nonAscii });
      else if (x.nonAscii) ctx.strings = [{ op, len: x.byteLength, nonAscii: true }];
      else ctx.asciiPrefix = (ctx.asciiPrefix ?? 0) + x.byteLength;
      return;
    case 'option':
      if (x.value) noteNonAscii(x.value, ctx, op);
      return;
    case 'result':
      noteNonAscii(x.value, ctx, op);
      return;
    case 'array':
      for (let i = 0; i < x.items.length; i++) noteNonAscii(x.items[i]!, ctx, op);
      return;
    default:
      return;
  }
}

/** JS's TextDecoder as the runtime builds it (a leading BOM is dropped), and one that keeps it. */
const jsTextDecoder = new TextDecoder('utf-8');
const exactUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * How JS reads the strings of a Rust→JS message (ts/encoding.ts takeStr, every revision): the
 * whole str buffer is decoded to one JS string once, and each string is cut out of it with
 * substring(offset, offset + byteLength), offset advancing by byte lengths. So a string is
 * misread when an earlier one is not ASCII (its UTF-16 position lags its byte offset), or when
 * it is not ASCII itself and text follows it (the cut runs into the next string). Each string
 * JS reads differently from what Rust sent gets one note, with what JS reads.
 */
function settleStrings(r: FrameReader, ctx: MessageDecodeContext): void {
  const strings = ctx.strings;
  if (!strings) return;
  const l = r.layout;
  const section = r.bytes.subarray(l.strStart, l.end);
  const text = jsTextDecoder.decode(section);
  let at = ctx.asciiPrefix ?? 0;
  let shifted = false;
  for (const s of strings) {
    if (at + s.len > section.length) return;
    const meant = exactUtf8.decode(section.subarray(at, at + s.len));
    const read = text.substring(at, at + s.len);
    if (read !== meant) {
      const why = shifted ? 'an earlier string of the message is not ASCII, so the cut starts too late' : 'it is not ASCII, so the cut runs into the text after it';
      ctx.issues.push({
        kind: 'non-ascii-string',
        message: `${s.op !== undefined ? `op ${s.op}: ` : ''}Rust→JS string ${JSON.stringify(meant.slice(0, 40))} is read by JS as ${JSON.stringify(read.slice(0, 40))}: JS cuts each string out of the decoded text by its UTF-8 byte length, and ${why}`,
        fatal: false,
        severity: 'info',
        ...(s.op !== undefined && { op: s.op }),
      });
    }
    shifted ||= s.nonAscii;
    at += s.len;
  }
}

function readIdList(r: FrameReader, what: string): number[] {
  const count = r.u32(`${what} length`);
  const left = r.remainingU32();
  if (count * 2 > left) {
    throw new WireError(`${what} claims ${count} IDs but only ${left} u32 words are left`, r.byteOffsetOf('u32') - 4, 'u32');
  }
  const ids: number[] = [];
  for (let i = 0; i < count; i++) ids.push(r.u64Number(what));
  return ids;
}

function describeTrailing(r: FrameReader): string | undefined {
  if (r.atEnd()) return undefined;
  const left = r.remaining();
  const parts: string[] = [];
  if (left.u32) parts.push(`${left.u32} u32 word${left.u32 === 1 ? '' : 's'}`);
  if (left.u16) parts.push(`${left.u16} u16 word${left.u16 === 1 ? '' : 's'}`);
  if (left.u8) parts.push(`${left.u8} u8 byte${left.u8 === 1 ? '' : 's'}`);
  if (left.str) parts.push(`${left.str} string byte${left.str === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : undefined;
}

/** Whether a J-Resp body decodes exactly as the answer to `x` (used to spot misrouting). */
function fits(r: FrameReader, start: ReaderPosition, x: Exchange, vctx: ValueCodecContext): boolean {
  r.restore(start);
  return readOpResults(r, x, vctx).ok;
}

type OpResultsAttempt = { ok: true; results: OpResult[] } | { ok: false; results: OpResult[]; problem: DecodeIssue };

/** Reads a J-Resp's results as JS wrote them for the ops of `exchange` (wire §10). */
function readOpResults(r: FrameReader, exchange: Exchange, vctx: ValueCodecContext): OpResultsAttempt {
  const results: OpResult[] = [];
  const ops = exchange.ops ?? [];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    const type = op.signature.ret;
    if (type.kind === 'heapref' && exchange.reserving) {
      results.push({ op: op.index, type, value: NEW_HEAPREF, filledReservation: true });
      continue;
    }
    try {
      results.push({ op: op.index, type, value: decodeValue(r, type, vctx), filledReservation: false });
    } catch (e) {
      return { ok: false, results, problem: issueFromError(e, 'decode-error', op.index) };
    }
  }
  if (exchange.incomplete || r.atEnd()) return { ok: true, results };
  const trailing = describeTrailing(r);
  if (trailing) {
    return {
      ok: false,
      results,
      problem: { kind: 'trailing-bytes', message: `J-Resp has ${trailing} left after the results (Rust panics)`, fatal: false, severity: 'error' },
    };
  }
  return { ok: true, results };
}

/**
 * Signatures are immutable and the same few recur in every session of a long log: one shared
 * copy each keeps the memory of many conversations small.
 */
const SIGNATURES = new Map<string, Signature>();
const MAX_INTERNED_SIGNATURES = 4096;

/** Signatures longer than this are not interned: a damaged message can hold a huge one, and real ones are short. */
const MAX_INTERNED_SIGNATURE_BYTES = 1024;

function internSignature(sig: Signature): Signature {
  if (sig.bytes.length > MAX_INTERNED_SIGNATURE_BYTES) return sig;
  // One character per byte: an exact key (short ones, the usual, built in place; long ones without spreading the bytes onto the stack).
  const b = sig.bytes;
  let key = '';
  if (b.length <= 32) for (let i = 0; i < b.length; i++) key += String.fromCharCode(b[i]!);
  else key = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  const known = SIGNATURES.get(key);
  if (known) return known;
  if (SIGNATURES.size >= MAX_INTERNED_SIGNATURES) SIGNATURES.delete(SIGNATURES.keys().next().value!);
  SIGNATURES.set(key, sig);
  return sig;
}

function innermostREval(open: readonly Exchange[]): Exchange | undefined {
  for (let i = open.length - 1; i >= 0; i--) if (open[i]!.kind === 'r-eval') return open[i];
  return undefined;
}

/** Remembers the Callback definition of every callback in a value (the type a later J-Eval is decoded by). */
function rememberCallbacks(v: Value, callbacks: Map<number, CallbackType>): void {
  switch (v.kind) {
    case 'callback':
      callbacks.set(v.key, v.type);
      return;
    case 'option':
      if (v.value) rememberCallbacks(v.value, callbacks);
      return;
    case 'result':
      rememberCallbacks(v.value, callbacks);
      return;
    case 'array':
      for (let i = 0; i < v.items.length; i++) rememberCallbacks(v.items[i]!, callbacks);
      return;
    default:
      return;
  }
}
