import type { Direction, Side } from '../trace/record.js';
import { openTrace } from '../trace/source.js';
import { decodeRecords, type DecodeEvent } from '../protocol/stream.js';
import type { Revision } from '../protocol/revisions.js';
import { badRecordJson, messageToJson, renderEventText } from '../report/dump.js';
import { EXIT_BAD_INPUT, EXIT_FINDINGS, EXIT_OK, LineBuffer, UsageError, colorFor, type CliIO } from './io.js';
import { loadSymbols, type SeqRange } from './options.js';
import { readInputs, type InputProblem } from './inputs.js';
import { numberRecords, tagged, type MessageNumbers } from './message-numbers.js';

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

/** `bridge-trace dump`: every record, decoded, for a person or as NDJSON. */
export async function runDump(inputs: string[], options: DumpOptions, io: CliIO): Promise<number> {
  const opts: DumpOptions = { ...options, json: options.json === true || options.format === 'json' };
  const symbols = await loadSymbols(opts.symbols);
  const color = colorFor(io, 'stdout', opts.color);
  const out = new LineBuffer(io.stdout);
  let messages = 0;
  let bad = 0;
  let withIssues = 0;
  const guessedNoted = new Set<string>();
  const heuristicNoted = new Set<string>();
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

  const shown = (e: DecodeEvent): boolean => {
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

  let inputIndex = 0;
  for await (const { input, records: raw } of readInputs(inputs, io, problems)) {
    const records = numbers ? tagged(raw, inputIndex, tags) : raw;
    inputIndex++;
    for await (const e of decodeRecords(records, { ...(opts.rev && { rev: opts.rev }), ...(symbols && { symbols }) })) {
      if (e.type === 'bad' || e.type === 'undecidable') bad++;
      if (e.type === 'message') {
        messages++;
        if (e.message.issues.some((i) => i.severity !== 'info')) withIssues++;
        const c = e.conversation;
        if (c.revisionSource === 'guess' && !guessedNoted.has(input + c.key)) {
          guessedNoted.add(input + c.key);
          const note = `revision guessed as ${c.decoder.revision} (${c.guess?.reason ?? 'no meta rev'}${c.guess && c.guess.tied.length > 1 ? `; also fits ${c.guess.tied.slice(1).join(', ')}` : ''}); declare it with a meta record or --rev`;
          if (opts.json) await out.push(JSON.stringify({ note: { input, ...(c.ctx !== undefined && { ctx: c.ctx }), ...(c.side && { side: c.side }), revision: c.decoder.revision, guessed: true, message: note } }));
          else await out.push(color.yellow(`note: ${input}${c.ctx !== undefined ? ` ctx=${c.ctx}` : ''}${c.side ? ` side=${c.side}` : ''}: ${note}`));
        }
        if (!heuristicNoted.has(input + c.key) && c.helpers.reliedOnHeuristic()) {
          heuristicNoted.add(input + c.key);
          const note = 'helper functions (drop/clone/cast) identified by the signature heuristic: the trace names none with fn.* meta keys and no --symbols entry names them';
          if (opts.json) await out.push(JSON.stringify({ note: { input, helperSource: 'heuristic', message: note } }));
          else await out.push(color.yellow(`note: ${input}: ${note}`));
        }
      }
      if (!shown(e)) continue;
      if (opts.json) {
        if (e.type === 'message') {
          const n = messageOf(e);
          await out.push(JSON.stringify(n !== undefined ? { message: n, ...messageToJson(e.message, e.conversation) } : messageToJson(e.message, e.conversation)));
        }
        else if (e.type === 'bad')
          await out.push(JSON.stringify(badRecordJson(e.record.loc, e.record.message, { ...(e.record.seq !== undefined && { seq: e.record.seq }), ...(e.record.side && { side: e.record.side }) })));
        else if (e.type === 'undecidable') await out.push(JSON.stringify(badRecordJson(e.record.loc, e.reason)));
        else await out.push(JSON.stringify({ meta: { input: e.record.loc.input, ...(e.record.loc.line !== undefined && { line: e.record.loc.line }), ...(e.record.loc.offset !== undefined && { offset: e.record.loc.offset }), fields: Object.fromEntries(e.record.fields), ...(e.problems.length && { problems: e.problems }) } }));
      } else {
        for (const line of renderEventText(e, color, messageOf(e))) await out.push(line);
      }
    }
  }
  await out.flush();
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
