/**
 * The scenario simulator: runs a scenario program between a simulated Rust peer and JS
 * peer of one protocol revision and yields the trace records both sides would have
 * written, plus the ground truth (which id each side really gave every value).
 *
 *   const sim = simulate({ scenario: 'deep-nesting', revision: 'legacy', mode: 'batch' });
 *   for (const record of sim.records) ...;   // lazily generated, constant memory
 *   const truth = sim.truth();
 *
 * Deterministic: the same options (seed included) give the same records, byte for byte.
 */
import type { Writable } from 'node:stream';
import { isRevision, REVISIONS, type Revision } from '../protocol/revisions.js';
import type { MessageRecord, MetaRecord, Side } from '../trace/record.js';
import type { TraceFormat } from '../trace/source.js';
import { createTraceWriter, formatForPath } from '../trace/writer.js';
import { behaviourOf } from './behaviour.js';
import { Session, type ScenarioProgram } from './bridge.js';
import { FaultState, FAULTS, isFaultName, type FaultName } from './faults.js';
import { HELPER_FN_IDS } from './registry.js';
import { Rng } from './rng.js';
import { misroutePrologue, scenarioByName, SCENARIOS, type ScenarioName } from './scenarios.js';
import { TruthCollector, type GroundTruth, type TruthSink } from './truth.js';

export { FAULTS, FAULT_NAMES, type FaultName } from './faults.js';
export { SCENARIOS, type ScenarioInfo, type ScenarioName } from './scenarios.js';
export type { ScenarioContext, ScenarioProgram } from './bridge.js';
export type { RustApi } from './rust-peer.js';
export { JsObject, JsValue, moved, Some, type JsVal, type RVal, type RustArg, type ImportDef } from './model.js';
export { F, LEVEL_CB, OBJ_CB, MAP_CB, BORROW_CB, UNIT_CB, STACK_CB, HELPER_FN_IDS, callback, T } from './registry.js';
export type { GroundTruth, ValueTruth, EvalTruth, TruthEvent, TruthEventKind, SessionTruth, SideEnd, TruthItem, TruthSink } from './truth.js';

export type SimMode = 'batch' | 'non-batch';
export type SimSides = 'both' | 'rust' | 'js';
export type SimRecord = MetaRecord | MessageRecord;

export const MODES: readonly SimMode[] = ['batch', 'non-batch'];

export interface SimulationOptions {
  /** A scenario of SCENARIOS, or a label when `program` is given. */
  readonly scenario: ScenarioName | string;
  /** A custom scenario program (tests, experiments); `scenario` is then only its label. */
  readonly program?: ScenarioProgram;
  readonly revision: Revision;
  /** `batch` (default) wraps the scenario's sections in `batch()`; `non-batch` runs every call on its own. */
  readonly mode?: SimMode;
  /** PRNG seed (default 1): clock steps and the stress program. */
  readonly seed?: number;
  readonly faults?: readonly (FaultName | string)[];
  /** Which sides record (default both). */
  readonly sides?: SimSides;
  /** Write the helper fn ids into the meta record (default true); false tests the analyzer's heuristic. */
  readonly helperMeta?: boolean;
  /** ctx label for the records (stress sessions get `<ctx>-<n>`, default `stress-<n>`). */
  readonly ctx?: string;
  /** Scenario size: callbacks in many-callbacks, messages in stress. */
  readonly size?: number;
  /** Simulate JS garbage collection of unreachable RustFunction wrappers (native-ref drops). Default true. */
  readonly gc?: boolean;
  /** Stress: allow timers racing batched placeholders and stack closures (see stress.ts). Default false. */
  readonly racy?: boolean;
  /** How many items each ground-truth list keeps (default 1000); counters keep counting. */
  readonly truthLimit?: number;
  /** Receives every ground-truth item as it is final (to write it incrementally). */
  readonly truthSink?: TruthSink;
  /** The record the lost-record fault removes (default: the first recorded side's seq 3). */
  readonly lostRecord?: { readonly side: Side; readonly seq: number };
  /** `loc.input` of the records (default `sim:<scenario>`). */
  readonly input?: string;
}

export interface Simulation {
  /** The records, generated lazily (iterate once). */
  readonly records: IterableIterator<SimRecord>;
  /** The ground truth so far (complete once the records are exhausted). */
  truth(): GroundTruth;
}

/** Most sessions a stress run starts (each after the previous one hung or panicked). */
export const MAX_STRESS_SESSIONS = 100_000;

export function simulate(options: SimulationOptions): Simulation {
  const scenario = options.program
    ? { name: options.scenario, program: options.program, defaultSize: 0, description: 'custom program' }
    : scenarioByName(options.scenario);
  if (!scenario) throw new RangeError(`unknown scenario ${JSON.stringify(options.scenario)} (known: ${SCENARIOS.map((s) => s.name).join(', ')})`);
  if (!isRevision(options.revision)) throw new RangeError(`unknown revision ${JSON.stringify(options.revision)} (known: ${REVISIONS.join(', ')})`);
  const faultNames: FaultName[] = [];
  for (const f of options.faults ?? []) {
    if (!isFaultName(f)) throw new RangeError(`unknown fault ${JSON.stringify(f)} (known: ${FAULTS.map((x) => x.name).join(', ')})`);
    if (!faultNames.includes(f)) faultNames.push(f);
  }
  const mode: SimMode = options.mode ?? 'batch';
  if (!MODES.includes(mode)) throw new RangeError(`unknown mode ${JSON.stringify(mode)} (batch or non-batch)`);
  const seed = options.seed ?? 1;
  const sides: SimSides = options.sides ?? 'both';
  const limit = options.truthLimit ?? 1000;
  const truth = new TruthCollector(
    { scenario: scenario.name, revision: options.revision, mode, seed, faults: faultNames, sides },
    limit,
    options.truthSink,
  );
  return { records: run(options, scenario.name, scenario.program, scenario.defaultSize, mode, seed, sides, faultNames, truth), truth: () => truth.truth };
}

function* run(
  options: SimulationOptions,
  name: string,
  scenarioProgram: ScenarioProgram,
  defaultSize: number,
  mode: SimMode,
  seed: number,
  sides: SimSides,
  faultNames: FaultName[],
  truth: TruthCollector,
): Generator<SimRecord, void, undefined> {
  const beh = behaviourOf(options.revision);
  const rng = new Rng(seed);
  const faults = new FaultState(new Set(faultNames), truth);
  const stress = !options.program && name === 'stress';
  const size = options.size ?? defaultSize;
  const input = options.input ?? `sim:${name}`;
  const recording = { rust: sides !== 'js', js: sides !== 'rust' };
  const firstSide: Side = sides === 'js' ? 'js' : 'rust';
  const lostRecord = faultNames.includes('lost-record') ? (options.lostRecord ?? { side: firstSide, seq: 3 }) : undefined;
  const program: ScenarioProgram = faultNames.includes('misrouted-respond')
    ? function* (c) {
        yield* misroutePrologue(c);
        yield* scenarioProgram(c);
      }
    : scenarioProgram;

  let total = 0;
  let records = 0;
  let line = 0;
  let sessionNo = 0;
  let sessionMessages = 0;
  const buffer: SimRecord[] = [];
  do {
    sessionNo++;
    const ctx = stress ? `${options.ctx ?? 'stress'}-${sessionNo}` : options.ctx;
    truth.startSession(ctx);
    for (const side of ['rust', 'js'] as const) {
      if (!recording[side]) continue;
      buffer.push(metaRecord(options, beh.explicit, name, mode, seed, faultNames, side, ctx, { input, line: ++line }));
    }
    let session: Session | undefined;
    const base = total;
    session = new Session({
      beh,
      truth,
      faults,
      rng,
      batchMode: mode === 'batch',
      gc: options.gc ?? true,
      ctx,
      sides: recording,
      lostRecord,
      input,
      program,
      size,
      racy: options.racy ?? false,
      shouldStop: () => stress && base + (session?.messages ?? 0) >= size,
      emit: (r) => {
        r.loc = { input, line: ++line };
        buffer.push(r);
      },
    });
    do {
      for (const r of buffer) {
        records++;
        yield r;
      }
      buffer.length = 0;
    } while (session.step());
    for (const r of buffer) {
      records++;
      yield r;
    }
    buffer.length = 0;
    total += session.messages;
    sessionMessages = session.messages;
    session.close(truth.limit);
    truth.truth.messages = { total, records };
    // A stress session that hung or panicked is followed by a fresh one (a restarted app),
    // unless it could not send anything at all (then every restart would do the same).
  } while (stress && total < size && sessionMessages > 0 && sessionNo < MAX_STRESS_SESSIONS);
}

function metaRecord(
  options: SimulationOptions,
  explicit: boolean,
  scenario: string,
  mode: SimMode,
  seed: number,
  faults: FaultName[],
  side: Side,
  ctx: string | undefined,
  loc: MetaRecord['loc'],
): MetaRecord {
  const fields: Array<readonly [string, string]> = [['rev', options.revision], ['side', side]];
  if (ctx !== undefined) fields.push(['ctx', ctx]);
  if (options.helperMeta ?? true) {
    fields.push(['fn.drop_heap_ref', String(HELPER_FN_IDS.drop_heap_ref)]);
    fields.push(['fn.clone_heap_ref', String(HELPER_FN_IDS.clone_heap_ref)]);
    if (explicit) fields.push(['fn.dispose_rust_function', String(HELPER_FN_IDS.dispose_rust_function)]);
    fields.push(['fn.cast', String(HELPER_FN_IDS.cast)]);
  }
  fields.push(['sim.scenario', scenario], ['sim.mode', mode], ['sim.seed', String(seed)]);
  if (faults.length > 0) fields.push(['sim.faults', faults.join(',')]);
  const record: MetaRecord = { kind: 'meta', rev: options.revision, side, fields, loc };
  if (ctx !== undefined) record.ctx = ctx;
  return record;
}

/** Runs a simulation to the end and returns every record and the ground truth (for small runs and tests). */
export function runSimulation(options: SimulationOptions): { records: SimRecord[]; truth: GroundTruth } {
  const sim = simulate(options);
  const records = [...sim.records];
  return { records, truth: sim.truth() };
}

export interface WriteSimulationOptions {
  /** Container format; default from the path (`.btrace` binary, else `@btrace` lines), lines for a stream. */
  readonly format?: TraceFormat;
  readonly gzip?: boolean;
  /** End the destination stream when done (default true; pass false for stdout). */
  readonly end?: boolean;
}

/** Writes a simulation's records through the trace writer (with backpressure) and returns the ground truth. */
export async function writeSimulation(
  options: SimulationOptions,
  target: string | Writable,
  writeOptions: WriteSimulationOptions = {},
): Promise<GroundTruth> {
  const format = writeOptions.format ?? (typeof target === 'string' ? formatForPath(target).format : 'lines');
  const side = options.sides === 'rust' || options.sides === 'js' ? options.sides : 'both';
  const writer = createTraceWriter(target, format, { rev: options.revision, side }, {
    ...(writeOptions.gzip !== undefined && { gzip: writeOptions.gzip }),
    ...(writeOptions.end !== undefined && { end: writeOptions.end }),
  });
  const sim = simulate(options);
  try {
    for (const record of sim.records) await writer.write(record);
  } finally {
    await writer.close();
  }
  return sim.truth();
}

