import { FrameWriter } from '../wire/frame.js';
import type { RevisionFeatures } from './revisions.js';
import {
  CALL_EXPORT,
  CALL_RUST_CALLBACK,
  DROP_NATIVE_REF,
  MESSAGE_TYPE_EVALUATE,
  MESSAGE_TYPE_RESPOND,
  TYPE_CACHED,
  TYPE_FULL,
  type JEvalBody,
  type JRespBody,
  type MessageBody,
  type REvalBody,
  type RRespBody,
} from './messages.js';
import { encodeValue, type ValueCodecContext } from './values.js';

/**
 * Encodes a message body as the sending peer of that revision lays it out. The inverse of
 * `ConversationDecoder.decode`; used by the simulator and by tests to build real bytes.
 */
export function encodeMessage(features: RevisionFeatures, body: MessageBody): Uint8Array {
  const w = new FrameWriter();
  switch (body.kind) {
    case 'r-eval':
      encodeREval(w, features, body);
      break;
    case 'j-resp':
      encodeJResp(w, features, body);
      break;
    case 'j-eval':
      encodeJEval(w, features, body);
      break;
    case 'r-resp':
      encodeRResp(w, features, body);
      break;
  }
  return w.finish();
}

function writeIdList(w: FrameWriter, ids: readonly number[]): void {
  w.u32(ids.length);
  for (const id of ids) w.u64(id);
}

function encodeREval(w: FrameWriter, f: RevisionFeatures, body: REvalBody): void {
  w.u8(MESSAGE_TYPE_EVALUATE);
  switch (f.evalPrelude) {
    case 'none':
      break;
    case 'reserved-count':
      w.u32(body.reservedCount ?? 0);
      break;
    case 'id-and-count':
      w.u32(body.evaluateId ?? 0).u32(body.reservedCount ?? 0);
      break;
    case 'install-and-reserved':
      writeIdList(w, body.installIds ?? []);
      writeIdList(w, body.reservedIds ?? []);
      break;
  }
  const ctx: ValueCodecContext = { dir: 'r2j', features: f };
  for (const op of body.ops) {
    w.u32(op.fnId);
    w.u8(op.marker === 'full' ? TYPE_FULL : TYPE_CACHED);
    w.u32(op.typeId);
    if (op.marker === 'full') w.rawU8(op.signature.bytes);
    op.signature.params.forEach((p, i) => encodeValue(w, p, op.args[i]!, ctx));
  }
}

function encodeJResp(w: FrameWriter, f: RevisionFeatures, body: JRespBody): void {
  w.u8(MESSAGE_TYPE_RESPOND);
  if (f.jRespPrelude === 'id') w.u32(body.evaluateId ?? 0);
  const ctx: ValueCodecContext = { dir: 'j2r', features: f };
  for (const r of body.results) {
    if (!r.filledReservation) encodeValue(w, r.type, r.value, ctx);
  }
}

function encodeJEval(w: FrameWriter, f: RevisionFeatures, body: JEvalBody): void {
  w.u8(MESSAGE_TYPE_EVALUATE);
  const call = body.call;
  const ctx: ValueCodecContext = { dir: 'j2r', features: f };
  const writeKey = (key: number): void => {
    if (f.callbackKeyWords === 2) w.u64(key);
    else w.u32(key);
  };
  switch (call.kind) {
    case 'callback':
      w.u32(CALL_RUST_CALLBACK);
      writeKey(call.key);
      call.type?.params.forEach((p, i) => encodeValue(w, p, call.args[i]!, ctx));
      return;
    case 'drop-native':
      w.u32(DROP_NATIVE_REF);
      writeKey(call.key);
      return;
    case 'export':
      w.u32(CALL_EXPORT);
      encodeValue(w, { kind: 'string' }, { kind: 'string', value: call.name, byteLength: 0, nonAscii: false }, ctx);
      for (const a of call.args) w.u32(a);
      return;
    case 'unknown':
      w.u32(call.fnId);
      return;
  }
}

function encodeRResp(w: FrameWriter, f: RevisionFeatures, body: RRespBody): void {
  w.u8(MESSAGE_TYPE_RESPOND);
  if (f.rRespPrelude === 'zero-word') w.u32(0);
  else if (f.rRespPrelude === 'install') writeIdList(w, body.installIds ?? []);
  if (body.type && body.value) encodeValue(w, body.type, body.value, { dir: 'r2j', features: f });
}
