/** Streaming conversion between containers: read one trace, write every readable record to another. */

import type { Readable, Writable } from 'node:stream';

import { headerRevProblem, type BinaryTraceHeader, type RecordingSide } from './binary.js';
import type { BadRecord, MessageRecord, MetaRecord, TraceRecord } from './record.js';
import { openTrace, type TraceFormat } from './source.js';
import { createTraceWriter, formatForPath, type TraceHeaderInfo } from './writer.js';

export interface ConvertOptions {
  /** Output container. Default: from the output path (formatForPath), `lines` for a stream. */
  format?: TraceFormat;
  /** Gzip the output. Default: from the output path, false for a stream. */
  gzip?: boolean;
  /** Binary header. Default: the input's own header if it is binary, else derived (see deriveHeader). */
  header?: TraceHeaderInfo;
  /** The stream `-` reads from. */
  stdin?: Readable;
  /** End an output stream when done (default true). */
  end?: boolean;
  /** Called for each bad record (they cannot be written and are left out). */
  onBadRecord?: (record: BadRecord) => void;
}

export interface ConvertResult {
  /** Records written (messages + metas). */
  records: number;
  messages: number;
  metas: number;
  /** Bad records read and left out. */
  badRecords: number;
}

/** Records looked at before the binary header must be written; see deriveHeader. */
const HEADER_LOOKAHEAD = 1024;

/**
 * Streams `input` into `output`. Bad records are counted and skipped, everything else is
 * written with every field. TraceInputError if the input cannot be read (then no output
 * is created), TraceOutputError if the output cannot be written.
 */
export async function convertTrace(
  input: string,
  output: string | Writable,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  const implied = typeof output === 'string' ? formatForPath(output) : { format: 'lines' as const, gzip: false };
  const format = options.format ?? implied.format;
  let inputHeader: BinaryTraceHeader | undefined;
  const records = openTrace(input, {
    stdin: options.stdin,
    onContainer: (info) => {
      inputHeader = info.header;
    },
  })[Symbol.asyncIterator]();

  const result: ConvertResult = { records: 0, messages: 0, metas: 0, badRecords: 0 };
  // Hold back the leading records (up to the first message) so the header can describe them.
  const leading: TraceRecord[] = [];
  let next = await records.next();
  for (; !next.done; next = await records.next()) {
    leading.push(next.value);
    if (next.value.kind === 'message' || leading.length >= HEADER_LOOKAHEAD) {
      next = await records.next();
      break;
    }
  }

  const header = options.header ?? (inputHeader ? { rev: inputHeader.rev, side: inputHeader.side } : deriveHeader(leading));
  const writer = createTraceWriter(output, format, header, { gzip: options.gzip ?? implied.gzip, end: options.end });
  const take = async (record: TraceRecord): Promise<void> => {
    if (record.kind === 'bad') {
      result.badRecords++;
      options.onBadRecord?.(record);
      return;
    }
    await writer.write(record);
    result.records++;
    if (record.kind === 'message') result.messages++;
    else result.metas++;
  };
  try {
    for (const record of leading) await take(record);
    for (; !next.done; next = await records.next()) await take(next.value);
  } catch (error) {
    await records.return?.();
    await writer.close().catch(() => undefined); // release the output; the first error is the one to report
    throw error;
  }
  await writer.close();
  return result;
}

/**
 * The header a converted binary file gets when nobody says otherwise, from the meta records
 * before the first message record: their rev if they all name the same one (and it fits a
 * header), else empty; their side if one, `both` if both, else `unknown`.
 */
export function deriveHeader(leading: ReadonlyArray<TraceRecord>): TraceHeaderInfo {
  const metas = leading.filter((r): r is MetaRecord => r.kind === 'meta');
  const revs = new Set(metas.map((m) => m.rev));
  const sides = new Set(metas.map((m) => m.side).filter((s): s is NonNullable<MessageRecord['side']> => s !== undefined));
  const [rev] = revs;
  const side: RecordingSide = sides.size === 2 ? 'both' : sides.size === 1 ? [...sides][0] : 'unknown';
  return {
    rev: revs.size === 1 && rev !== undefined && headerRevProblem(rev) === undefined ? rev : '',
    side,
  };
}
