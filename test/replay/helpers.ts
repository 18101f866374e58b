/** Builders for replay tests: real bytes from `encodeMessage`, records a person can read. */
import { encodeMessage } from '../../src/protocol/encoder.js';
import type { JEvalBody, JRespBody, MessageBody, Op, OpResult, REvalBody, RRespBody } from '../../src/protocol/messages.js';
import { featuresOf, type Revision } from '../../src/protocol/revisions.js';
import { makeSignature, type CallbackType, type TypeDef } from '../../src/protocol/types.js';
import type { Value } from '../../src/protocol/values.js';
import type { Direction, MessageRecord, MetaRecord, Side, TraceRecord } from '../../src/trace/record.js';
import { analyze, type AnalysisResult, type AnalyzeOptions } from '../../src/replay/index.js';
import type { Finding } from '../../src/replay/findings.js';
import { b64 } from '../fixtures/spec-examples.js';

export const T = {
  null: { kind: 'null' } as TypeDef,
  bool: { kind: 'bool' } as TypeDef,
  u32: { kind: 'u32' } as TypeDef,
  u64: { kind: 'u64' } as TypeDef,
  f64: { kind: 'f64' } as TypeDef,
  str: { kind: 'string' } as TypeDef,
  ref: { kind: 'heapref' } as TypeDef,
  borrowed: { kind: 'borrowed' } as TypeDef,
  option: (inner: TypeDef): TypeDef => ({ kind: 'option', inner }),
  callback: (params: TypeDef[], ret: TypeDef): CallbackType => ({ kind: 'callback', params, ret }),
};

export const V = {
  ref: (id?: number): Value => (id === undefined ? { kind: 'heapref' } : { kind: 'heapref', id }),
  borrowed: (): Value => ({ kind: 'borrowed' }),
  u64: (n: number): Value => ({ kind: 'int', type: 'u64', value: BigInt(n) }),
  u32: (n: number): Value => ({ kind: 'int', type: 'u32', value: n }),
  str: (s: string): Value => ({ kind: 'string', value: s, byteLength: s.length, nonAscii: false }),
  bool: (b: boolean): Value => ({ kind: 'bool', value: b }),
  unit: (): Value => ({ kind: 'unit' }),
  cb: (key: number, type: CallbackType, policy?: number): Value => ({ kind: 'callback', key, type, ...(policy !== undefined && { policy }) }),
  some: (v: Value): Value => ({ kind: 'option', value: v }),
};

/** Allocates type ids the way Rust does: first use of a signature gets the next id, TYPE_FULL once. */
export class Ops {
  private ids = new Map<string, number>();
  constructor(private readonly repeatFull = false) {}
  op(fnId: number, params: TypeDef[], ret: TypeDef, args: Value[]): Omit<Op, 'index'> {
    const sig = makeSignature(params, ret);
    const k = Array.from(sig.bytes).join(',');
    let typeId = this.ids.get(k);
    let marker: 'full' | 'cached' = 'cached';
    if (typeId === undefined) {
      typeId = this.ids.size;
      this.ids.set(k, typeId);
      marker = 'full';
    } else if (this.repeatFull) marker = 'full';
    return { fnId, marker, typeId, signature: sig, args };
  }
  drop(fnId: number, id: number): Omit<Op, 'index'> {
    return this.op(fnId, [T.u64], T.null, [V.u64(id)]);
  }
}

export function rEval(ops: Array<Omit<Op, 'index'>>, prelude: Partial<Omit<REvalBody, 'kind' | 'ops'>> = {}): REvalBody {
  return { kind: 'r-eval', ...prelude, ops: ops.map((o, i) => ({ ...o, index: i + 1 })) };
}

export function jResp(results: Array<{ type: TypeDef; value: Value; filled?: boolean }> = [], evaluateId?: number): JRespBody {
  const rs: OpResult[] = results.map((r, i) => ({ op: i + 1, type: r.type, value: r.value, filledReservation: r.filled ?? false }));
  return { kind: 'j-resp', ...(evaluateId !== undefined && { evaluateId }), results: rs };
}

export function jCallback(key: number, type: CallbackType, args: Value[]): JEvalBody {
  return { kind: 'j-eval', call: { kind: 'callback', key, type, args } };
}

export function rResp(type?: TypeDef, value?: Value, installIds?: number[]): RRespBody {
  return { kind: 'r-resp', ...(installIds && { installIds }), ...(type && value && { type, value }) };
}

export type Msg = [Direction, string | Uint8Array | MessageBody];

export interface TraceOptions {
  side?: Side;
  ctx?: string;
  meta?: Array<[string, string]>;
  seqStart?: number;
  input?: string;
  noMeta?: boolean;
}

function bytesOf(rev: Revision, m: string | Uint8Array | MessageBody): Uint8Array {
  if (typeof m === 'string') return b64(m);
  if (m instanceof Uint8Array) return m;
  return encodeMessage(featuresOf(rev), m);
}

/** A trace: a meta record declaring the revision (line 1), then one record per message (line 2..). */
export function trace(rev: Revision, msgs: Msg[], o: TraceOptions = {}): TraceRecord[] {
  const input = o.input ?? 'test';
  const out: TraceRecord[] = [];
  let line = 0;
  if (!o.noMeta) {
    const fields: Array<[string, string]> = [['rev', rev], ...(o.side ? [['side', o.side] as [string, string]] : []), ...(o.meta ?? [])];
    const meta: MetaRecord = { kind: 'meta', rev, fields, ...(o.side && { side: o.side }), ...(o.ctx !== undefined && { ctx: o.ctx }), loc: { input, line: ++line } };
    out.push(meta);
  }
  let seq = o.seqStart ?? 1;
  for (const [dir, m] of msgs) {
    const r: MessageRecord = {
      kind: 'message',
      dir,
      data: bytesOf(rev, m),
      seq: seq++,
      ...(o.side && { side: o.side }),
      ...(o.ctx !== undefined && { ctx: o.ctx }),
      loc: { input, line: ++line },
    };
    out.push(r);
  }
  return out;
}

export async function run(records: TraceRecord[], options: AnalyzeOptions = {}): Promise<AnalysisResult> {
  return analyze(records, options);
}

export function kinds(r: AnalysisResult): string[] {
  return r.findings.map((f) => f.kind);
}

export function only(r: AnalysisResult, kind: string): Finding[] {
  return r.findings.filter((f) => f.kind === kind);
}

/** A compact view for failure messages. */
export function show(r: AnalysisResult): string {
  return r.findings.map((f, i) => `${i}: ${f.kind} [${f.severity}${f.certainty ? `/${f.certainty}` : ''}]${f.causedBy !== undefined ? ` <-${f.causedBy}` : ''} ${f.message}`).join('\n');
}
