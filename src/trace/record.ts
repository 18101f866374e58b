/**
 * Records: the unit a trace container yields. A record is what one `@btrace` line or one
 * binary frame carries; the message bytes inside stay opaque at this layer (the protocol
 * layer decodes them).
 */

export type Direction = 'r2j' | 'j2r';
export type Side = 'rust' | 'js';

/** Where a record came from, precise enough for a one-line error. */
export interface RecordLocation {
  /** The input's name as the user gave it (`-` for stdin). */
  input: string;
  /** 1-based line number, for line-oriented inputs. */
  line?: number;
  /** Byte offset of the record's first byte (of the decompressed stream), for binary inputs. */
  offset?: number;
}

export interface MessageRecord {
  kind: 'message';
  dir: Direction;
  /** The IPC message bytes exactly as they crossed the bridge. */
  data: Uint8Array;
  side?: Side;
  /** Per-side 1-based count of recorded messages. */
  seq?: number;
  /** Microseconds since that side started recording. */
  t?: number;
  ctx?: string;
  loc: RecordLocation;
}

export interface MetaRecord {
  kind: 'meta';
  /** Revision name as written (validated by the protocol layer). */
  rev?: string;
  side?: Side;
  ctx?: string;
  /** Every key=value of the record, including `rev`, `side`, `ctx` and the `fn.*` keys, in order. */
  fields: ReadonlyArray<readonly [string, string]>;
  loc: RecordLocation;
}

/** A record that could not be read. Analysis goes on with the next one. */
export interface BadRecord {
  kind: 'bad';
  message: string;
  /** What could still be read of the broken record, to place it in its conversation. */
  dir?: Direction;
  side?: Side;
  seq?: number;
  ctx?: string;
  loc: RecordLocation;
}

export type TraceRecord = MessageRecord | MetaRecord | BadRecord;

/** Formats a location as `input:line` or `input@offset`. */
export function formatLocation(loc: RecordLocation): string {
  if (loc.line !== undefined) return `${loc.input}:${loc.line}`;
  if (loc.offset !== undefined) return `${loc.input}@${loc.offset}`;
  return loc.input;
}
