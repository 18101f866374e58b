import { ConversationDecoder } from '../../src/protocol/decoder.js';
import type { DecodeIssue } from '../../src/protocol/messages.js';
import type { Revision } from '../../src/protocol/revisions.js';
import type { SimRecord } from '../../src/sim/index.js';
import type { MessageRecord, Side } from '../../src/trace/record.js';

export const messages = (records: readonly SimRecord[], side?: Side): MessageRecord[] =>
  records.filter((r): r is MessageRecord => r.kind === 'message' && (side === undefined || r.side === side));

export const base64 = (r: MessageRecord): string => Buffer.from(r.data).toString('base64');

/** Decodes every (ctx, side) conversation on its own, in that side's order; returns all issues. */
export function decodeIssues(rev: Revision, records: readonly SimRecord[]): Array<{ where: string; issue: DecodeIssue }> {
  const decoders = new Map<string, ConversationDecoder>();
  const out: Array<{ where: string; issue: DecodeIssue }> = [];
  for (const r of messages(records)) {
    const key = `${r.ctx ?? ''}/${r.side}`;
    let d = decoders.get(key);
    if (!d) decoders.set(key, (d = new ConversationDecoder(rev)));
    for (const issue of d.decode(r).issues) out.push({ where: `${key}#${r.seq}`, issue });
  }
  return out;
}
