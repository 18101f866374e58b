import type { Direction, Side } from '../trace/record.js';
import { RecordStreamDecoder, type DecodeEvent } from '../protocol/stream.js';
import type { Revision } from '../protocol/revisions.js';
import { badRecordJson, renderEventText, TextBytes, writeMessageJson } from '../report/dump.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, UsageError, colorFor, writeOut, type CliIO } from './io.js';
import { loadSymbols, type SeqRange } from './options.js';
import { readInputs, type InputProblem } from './inputs.js';
import { numberRecords, taggedBatches, type MessageNumbers } from './message-numbers.js';

export interface DumpOptions {
  json?: boolean;
  rev?: Revision;
  symbols?: string;
  dir?: Direction;
  side?: Side;
  ctx?: string;
  fn?: number;
  seq?: SeqRange;
  /** Only the records of these message numbers (as analyze numbers them); numbers every record shown. */
  msg?: SeqRange;
  color?: boolean;
  format?: 'text' | 'json';
}

/** Output is written once this many bytes are waiting… */
const WRITE_CHUNK_BYTES = 1 << 20;
/** …except the first write, which goes out sooner: the first lines show early, and a reader that went away is noticed early. */
const FIRST_WRITE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** `bridge-trace dump`: every record, decoded, for a person or as NDJSON. */
export async function runDump(inputs: string[], options: DumpOptions, io: CliIO): Promise<number> {
  const opts: DumpOptions = { ...options, json: options.json === true || options.format === 'json' };
  const symbols = await loadSymbols(opts.symbols);
  const color = colorFor(io, 'stdout', opts.color);
  let messages = 0;
  let bad = 0;
  let withIssues = 0;
  const problems: InputProblem[] = [];
  let numbers: MessageNumbers | undefined;
  if (opts.msg) {
    if (inputs.includes('-')) throw new UsageError('--msg needs files, not - (stdin): the records are numbered by a replay of the inputs first');
    numbers = await numberRecords(inputs, io, { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }) });
  }
  const tags = new WeakMap<object, [number, number]>();
  const messageOf = (e: DecodeEvent): number | undefined => {
    if (!numbers || e.type !== 'message') return undefined;
    const at = tags.get(e.message.record);
    return at ? numbers.get(at[0], at[1]) : undefined;
  };

  const filtered = opts.dir !== undefined || opts.side !== undefined || opts.ctx !== undefined || opts.seq !== undefined || opts.msg !== undefined || opts.fn !== undefined;
  const shown = (e: DecodeEvent): boolean => {
    if (!filtered) return true;
    if (e.type === 'meta') return opts.side === undefined || e.record.side === undefined || e.record.side === opts.side;
    const r = e.type === 'message' ? e.message.record : e.record;
    if (opts.dir && 'dir' in r && r.dir !== opts.dir) return false;
    if (opts.side && r.side !== opts.side) return false;
    if (opts.ctx !== undefined && r.ctx !== opts.ctx) return false;
    if (opts.seq && (r.seq === undefined || r.seq < opts.seq.from || r.seq > opts.seq.to)) return false;
    if (opts.msg) {
      const n = messageOf(e);
      if (n === undefined || n < opts.msg.from || n > opts.msg.to) return false;
    }
    if (opts.fn !== undefined) {
      if (e.type !== 'message') return false;
      const b = e.message.body;
      if (b?.kind !== 'r-eval' || !b.ops.some((op) => op.fnId === opts.fn)) return false;
    }
    return true;
  };

  // Output is collected as bytes and written about a MiB at a time: dump --json writes
  // several times the bytes it reads, so per-line writes (and strings) would dominate.
  const out = new TextBytes(WRITE_CHUNK_BYTES + (WRITE_CHUNK_BYTES >> 2));
  const emit = (line: string): void => {
    out.text(line);
    out.byte(NEWLINE);
  };
  let writeAt = FIRST_WRITE_BYTES;
  const decodeOptions = { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }) };
  const guessedNoted = new Map<string, Set<string>>();
  const heuristicNoted = new Map<string, Set<string>>();
  let inputIndex = 0;
  for await (const { input, batches: raw } of readInputs(inputs, io, problems)) {
    const batches = numbers ? taggedBatches(raw, inputIndex, tags) : raw;
    inputIndex++;
    // The notes are once per input name and conversation key (a released conversation that comes back is not noted again).
    const guessedHere = setFor(guessedNoted, input);
    const heuristicHere = setFor(heuristicNoted, input);
    // Each record's events are handled before the next record is decoded, as one at a time:
    // the helper names printed follow the evidence seen so far (wire §9.1), no further.
    const decoder = new RecordStreamDecoder(decodeOptions);
    const events: DecodeEvent[] = [];
    const handle = (): void => {
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!;
        if (e.type === 'bad' || e.type === 'undecidable') bad++;
        if (e.type === 'message') {
          messages++;
          if (e.message.issues.length > 0 && e.message.issues.some((x) => x.severity !== 'info')) withIssues++;
          const c = e.conversation;
          if (c.revisionSource === 'guess' && !guessedHere.has(c.key)) {
            guessedHere.add(c.key);
            const note = `revision guessed as ${c.decoder.revision} (${c.guess?.reason ?? 'no meta rev'}${c.guess && c.guess.tied.length > 1 ? `; also fits ${c.guess.tied.slice(1).join(', ')}` : ''}); declare it with a meta record or --rev`;
            if (opts.json) emit(JSON.stringify({ note: { input, ...(c.ctx !== undefined && { ctx: c.ctx }), ...(c.side && { side: c.side }), revision: c.decoder.revision, guessed: true, message: note } }));
            else emit(color.yellow(`note: ${input}${c.ctx !== undefined ? ` ctx=${c.ctx}` : ''}${c.side ? ` side=${c.side}` : ''}: ${note}`));
          }
          if (!heuristicHere.has(c.key) && c.helpers.reliedOnHeuristic()) {
            heuristicHere.add(c.key);
            const note = 'helper functions (drop/clone/cast) identified by the signature heuristic: the trace names none with fn.* meta keys and no --symbols entry names them';
            if (opts.json) emit(JSON.stringify({ note: { input, helperSource: 'heuristic', message: note } }));
            else emit(color.yellow(`note: ${input}: ${note}`));
          }
        }
        if (shown(e)) {
          if (opts.json) {
            if (e.type === 'message') {
              writeMessageJson(out, e.message, e.conversation, messageOf(e));
              out.byte(NEWLINE);
            }
            else if (e.type === 'bad')
              emit(JSON.stringify(badRecordJson(e.record.loc, e.record.message, { ...(e.record.seq !== undefined && { seq: e.record.seq }), ...(e.record.side && { side: e.record.side }) })));
            else if (e.type === 'undecidable') emit(JSON.stringify(badRecordJson(e.record.loc, e.reason)));
            else emit(JSON.stringify({ meta: { input: e.record.loc.input, ...(e.record.loc.line !== undefined && { line: e.record.loc.line }), ...(e.record.loc.offset !== undefined && { offset: e.record.loc.offset }), fields: Object.fromEntries(e.record.fields), ...(e.problems.length && { problems: e.problems }) } }));
          } else {
            for (const line of renderEventText(e, color, messageOf(e))) emit(line);
          }
        }
      }
      events.length = 0;
    };
    for await (const batch of batches) {
      for (let r = 0; r < batch.length; r++) {
        decoder.push(batch[r]!, events);
        if (events.length > 0) handle();
        if (out.length >= writeAt) {
          await writeOut(io.stdout, out.take());
          writeAt = WRITE_CHUNK_BYTES;
        }
      }
    }
    decoder.end(events);
    handle();
  }
  if (out.length > 0) await writeOut(io.stdout, out.take());
  const err = colorFor(io, 'stderr', opts.color);
  for (const p of problems) io.stderr.write(`${err.red('error:')} ${p.message}\n`);
  if (!opts.json) {
    const summary = `${messages} message${messages === 1 ? '' : 's'} decoded, ${withIssues} with problems, ${bad} bad record${bad === 1 ? '' : 's'}`;
    io.stderr.write(`${summary}\n`);
  }
  if (problems.length > 0 && messages === 0 && bad === 0) return EXIT_BAD_INPUT;
  if (messages === 0 && bad > 0) {
    io.stderr.write(`${err.red('error:')} nothing readable in ${inputs.join(', ')}: ${bad} record${bad === 1 ? '' : 's'}, none of them could be read\n`);
    return EXIT_BAD_INPUT;
  }
  if (messages === 0 && problems.length === 0) {
    io.stderr.write(`${err.yellow('warning:')} no @btrace records found in ${inputs.join(', ')}\n`);
    return EXIT_OK;
  }
  return bad > 0 || problems.length > 0 ? EXIT_FINDINGS : EXIT_OK;
}

function setFor(sets: Map<string, Set<string>>, input: string): Set<string> {
  let set = sets.get(input);
  if (!set) sets.set(input, (set = new Set()));
  return set;
}
