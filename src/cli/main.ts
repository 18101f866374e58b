import { Command, CommanderError, Option } from 'commander';
import { REVISIONS } from '../protocol/revisions.js';
import { DEFAULT_MAX_OPEN_SESSIONS } from '../trace/sessions.js';
import { EXIT_BAD_INPUT, UsageError, colorFor, isBrokenPipe, processIO, type CliIO } from './io.js';
import { formatFromExtension, parseChoice, parsePositive, parseRevisionOption, parseSeqRange, parseUint } from './options.js';
import { withOutput } from './output.js';
import { VERSION } from './version.js';

/**
 * Errors of the layers below that are the input's or the user's fault (a message, exit 2).
 * Told by name: the commands are loaded only when run, so their classes may not be loaded.
 */
const INPUT_ERRORS: ReadonlySet<string> = new Set(['TraceInputError', 'TraceOutputError', 'JsHeapLoadError']);

function isInputError(e: unknown): e is Error {
  return e instanceof Error && INPUT_ERRORS.has(e.name);
}

/**
 * The command-line program. It only parses arguments, calls the library, renders, and
 * returns the exit code; the caller sets `process.exitCode` (never `process.exit`, which
 * would cut a piped report short). Each command's module is imported when it runs, not at
 * start-up: `analyze` does not load the simulator, the timeline renderer or the diff engine.
 */
export async function main(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  let debug = argv.includes('--debug');
  const program = new Command()
    .name('bridge-trace')
    .description('Decode recorded wry-bindgen bridge traces, replay both heap-ID allocators, and report where they diverged.')
    .version(VERSION, '-V, --version')
    .option('--debug', 'show stack traces for internal errors')
    .option('--no-color', 'never colour the output (NO_COLOR and FORCE_COLOR are honoured too)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });

  const colorOption = (): boolean | undefined => (program.opts<{ color?: boolean }>().color === false ? false : undefined);
  const revOption = new Option('--rev <revision>', `protocol revision, overriding the trace's meta records (${REVISIONS.join(', ')})`).argParser(parseRevisionOption);

  program
    .command('analyze')
    .description('replay both heap-ID allocators and report every desync, with its cause')
    .argument('<trace...>', 'one session: one log (both sides, or one), or a Rust-side and a JS-side log; - for stdin')
    .option('--json', 'one JSON document (docs/json-schema.md); same as --format json')
    .addOption(new Option('--format <format>', 'text (default), json, or github (annotations + step summary, then the text report)').argParser(parseChoice(['text', 'json', 'github'] as const)))
    .addOption(new Option('--fail-on <severity>', 'lowest severity that makes the exit code 1').argParser(parseChoice(['error', 'warning', 'info'] as const)).default('error'))
    .addOption(new Option('--rev <revision>', `protocol revision, overriding the trace's meta records (${REVISIONS.join(', ')})`).argParser(parseRevisionOption))
    .option('--symbols <file>', 'JSON file naming fn ids: {"functions": {"12": "drop_heap_ref", ...}}')
    .option('--js-heap <file>', "drive your bridge's own JS heap (heap.ts or built .js) instead of the built-in JS model")
    .option('--strict', 'do not narrow op windows with the callback-holder heuristic')
    .option('--junit <file>', 'also write JUnit XML: one test case per session, failed by one failure listing its errors')
    .option('--allow-empty', 'a log without any @btrace record is not an error')
    .option('--quiet', 'only the summary line and one line per kind of root cause')
    .addOption(new Option('--max-findings <n>', 'root causes printed in the text report; the rest are counted').argParser(parsePositive).default(50))
    .option('--kind <kind>', 'only findings of this kind (docs/findings.md)')
    .option('--ctx <label>', 'only findings of the session with this ctx label')
    .addOption(new Option('--session <n>', 'only findings of the n-th session (as the report numbers them)').argParser(parsePositive))
    .addOption(new Option('--max-open-sessions <n>', 'sessions (ctx labels) replayed at once; past it the least recently seen is ended (raise it for logs interleaving more)').argParser(parsePositive).default(DEFAULT_MAX_OPEN_SESSIONS))
    .option('--explain <id>', 'one finding in full, by the ID the report gives it: provenance, consequences, and the records around it decoded')
    .option('-o, --output <file>', 'write the report to this file (.json: --format json); - for stdout')
    .action(async (traces: string[], opts) => {
      const color = colorOption();
      const format = opts.format ?? (opts.json ? undefined : formatFromExtension(opts.output, { '.json': 'json' as const }));
      exitCode = await withOutput(io, opts.output, async (out) => (await import('./analyze.js')).runAnalyze(traces, { ...opts, ...(format && { format }), ...(color !== undefined && { color }), ...(out !== io && { color: false }) }, out));
    });

  program
    .command('dump')
    .description('print every record decoded: prelude, ops with fn ids, types and arguments, results; nesting shown by indentation')
    .argument('<trace...>', 'trace files (@btrace lines or .btrace, optionally gzipped); - for stdin')
    .option('--json', 'NDJSON: one object per record (docs/json-schema.md); same as --format json')
    .addOption(new Option('--format <format>', 'text (default) or json (NDJSON)').argParser(parseChoice(['text', 'json'] as const)))
    .option('-o, --output <file>', 'write to this file (.json, .ndjson, .jsonl: --format json); - for stdout')
    .addOption(revOption)
    .option('--symbols <file>', 'JSON file naming fn ids: {"functions": {"12": "drop_heap_ref", ...}}')
    .addOption(new Option('--dir <dir>', 'only messages in this direction').argParser(parseChoice(['r2j', 'j2r'] as const)))
    .addOption(new Option('--side <side>', 'only records of this recording side').argParser(parseChoice(['rust', 'js'] as const)))
    .option('--ctx <label>', 'only records of this session label')
    .addOption(new Option('--fn <id>', 'only R-Evals with an op calling this fn id').argParser(parseUint))
    .addOption(new Option('--seq <range>', 'only records with seq in N, A..B, A.. or ..B').argParser(parseSeqRange))
    .addOption(new Option('--msg <range>', 'only messages numbered N, A..B, A.. or ..B as analyze numbers them ("msg 7"), each shown with its number').argParser(parseSeqRange))
    .action(async (traces: string[], opts) => {
      const color = colorOption();
      const format = opts.format ?? (opts.json ? undefined : formatFromExtension(opts.output, { '.json': 'json' as const, '.ndjson': 'json' as const, '.jsonl': 'json' as const }));
      exitCode = await withOutput(io, opts.output, async (out) => (await import('./dump.js')).runDump(traces, { ...opts, ...(format && { format }), ...(color !== undefined && { color }), ...(out !== io && { color: false }) }, out));
    });

  program
    .command('diff')
    .description('compare two traces call by call (message grouping and shifted IDs aside) and show where they part')
    .argument('<a>', 'first trace (A); - for stdin')
    .argument('<b>', 'second trace (B); - for stdin')
    .option('--json', 'one JSON document (docs/diff.md); same as --format json')
    .addOption(new Option('--format <format>', 'text (default) or json').argParser(parseChoice(['text', 'json'] as const)))
    .option('-o, --output <file>', 'write the report to this file (.json: --format json); - for stdout')
    .option('--ctx <label>', 'compare only the session with this ctx label in both traces')
    .option('--exact-ids', 'compare raw heap IDs, callback keys and R-Eval preludes instead of creation-order names')
    .addOption(new Option('--side <side>', 'recording side compared in both traces (default: js if a trace has it, else rust)').argParser(parseChoice(['rust', 'js'] as const)))
    .addOption(new Option('--context <n>', 'aligned calls shown before and after the first divergence').argParser(parseUint).default(3))
    .addOption(new Option('--window <n>', 'calls each trace is searched ahead to resynchronise after a difference').argParser(parseUint).default(1000))
    .addOption(new Option('--rev <revision>', `protocol revision of both traces, overriding their meta records (${REVISIONS.join(', ')})`).argParser(parseRevisionOption))
    .option('--symbols <file>', 'JSON file naming fn ids: {"functions": {"12": "drop_heap_ref", ...}}')
    .option('--no-findings', 'do not replay the traces to compare their findings')
    .action(async (a: string, b: string, opts) => {
      const color = colorOption();
      const format = opts.format ?? (opts.json ? undefined : formatFromExtension(opts.output, { '.json': 'json' as const }));
      exitCode = await withOutput(io, opts.output, async (out) => (await import('./diff.js')).runDiff(a, b, { ...opts, ...(format && { format }), ...(color !== undefined && { color }), ...(out !== io && { color: false }) }, out));
    });

  program
    .command('convert')
    .description('convert a trace between @btrace lines and the binary .btrace container, losslessly')
    .argument('<in>', 'input trace; - for stdin')
    .requiredOption('-o, --output <file>', 'output path (.btrace = binary, .gz = gzipped, otherwise lines); - for stdout')
    .addOption(new Option('--format <format>', 'container to write, overriding the extension').argParser(parseChoice(['lines', 'binary'] as const)))
    .option('--gzip', 'gzip the output whatever its name')
    .action(async (input: string, opts) => {
      const color = colorOption();
      exitCode = await (await import('./convert.js')).runConvert(input, { ...opts, ...(color !== undefined && { color }) }, io);
    });

  program
    .command('simulate')
    .description('run a scenario between a simulated Rust peer and JS peer of one revision, and record the trace both sides would write')
    .argument('[scenario]', 'deep-nesting, many-callbacks, mixed-returns, borrowed-refs, drops or stress (see --list)')
    .option('--list', 'list the scenarios and fault flags, and exit')
    .addOption(new Option('--rev <revision>', 'protocol revision to simulate').argParser(parseRevisionOption).default('reserved-count'))
    .addOption(new Option('--mode <mode>', 'batch (the default) or nobatch').argParser(parseChoice(['batch', 'nobatch', 'non-batch'] as const)))
    .addOption(new Option('--seed <n>', 'seed of the pseudo-random choices (same seed, same bytes)').argParser(parseUint))
    .addOption(new Option('--messages <n>', 'size: messages for stress, callbacks for many-callbacks').argParser(parseUint))
    .addOption(new Option('--side <side>', 'which sides record').argParser(parseChoice(['rust', 'js', 'both'] as const)))
    .option('--fault <name>', 'inject a fault (repeatable; see --list)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--truth <file>', 'write the ground truth (where each value really lives on each side) as JSON')
    .option('--no-fn-meta', 'leave the helper fn ids out of the meta records (tests the heuristic)')
    .option('--ctx <label>', 'session label written into the records')
    .option('--racy', 'stress: let timers race batched placeholders (real drift in the older revisions)')
    .option('-o, --output <file>', 'trace to write (.btrace = binary, .gz = gzipped, otherwise @btrace lines); - for stdout')
    .action(async (scenario: string | undefined, opts) => {
      if (opts.list) {
        io.stdout.write((await import('./simulate.js')).describeScenarios());
        return;
      }
      if (!scenario) throw new UsageError('simulate needs a scenario (see simulate --list)');
      if (!opts.output) throw new UsageError("simulate needs -o FILE (or -o - for stdout)");
      exitCode = await (await import('./simulate.js')).runSimulate(scenario, opts, io);
    });

  program
    .command('recorder')
    .description('print the JS snippet to inject into the webview: it logs every bridge message as an @btrace side=js line (docs/recording.md)')
    .addOption(new Option('--rev <revision>', `protocol revision written into the meta line (${REVISIONS.join(', ')})`).argParser(parseRevisionOption))
    .option('--ctx <label>', 'session label written into every line (no spaces or quotes)')
    .option('-o, --output <file>', 'write the snippet to this file instead of stdout; - for stdout')
    .action(async (opts) => {
      exitCode = await (await import('./recorder.js')).runRecorder(opts, io);
    });

  program
    .command('timeline')
    .description('write a self-contained HTML report of the replay over time: live heap objects, reservation scopes, borrow and nesting depth, ID lifetimes, findings')
    .argument('<trace...>', 'one session: one log (both sides, or one), or a Rust-side and a JS-side log; - for stdin')
    .requiredOption('-o, --output <file>', 'report to write (.csv, .svg: that format, else HTML); - for stdout')
    .addOption(new Option('--format <format>', 'html (the whole report), svg (the main chart alone) or csv (the series); default from the extension').argParser(parseChoice(['html', 'svg', 'csv'] as const)))
    .addOption(new Option('--rev <revision>', `protocol revision, overriding the trace's meta records (${REVISIONS.join(', ')})`).argParser(parseRevisionOption))
    .option('--symbols <file>', 'JSON file naming fn ids: {"functions": {"12": "drop_heap_ref", ...}}')
    .option('--strict', 'do not narrow op windows with the callback-holder heuristic')
    .addOption(new Option('--buckets <n>', 'most points per series (even); longer traces are downsampled').argParser(parseUint).default(600))
    .addOption(new Option('--lanes <n>', 'ID lifetimes kept per creating function and side').argParser(parseUint).default(40))
    .option('--ctx <label>', 'chart only the session with this ctx label (default with several sessions: the one that diverges first)')
    .action(async (traces: string[], opts) => {
      const color = colorOption();
      exitCode = await (await import('./timeline.js')).runTimeline(traces, { ...opts, ...(color !== undefined && { color }) }, io);
    });

  // A reader that closes the pipe early makes stdout emit EPIPE: end quietly, never a crash.
  const onStdoutError = (e: Error): void => {
    if (!isBrokenPipe(e)) throw e;
  };
  io.stdout.on('error', onStdoutError);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    debug = program.opts<{ debug?: boolean }>().debug === true;
  } catch (e) {
    if (isBrokenPipe(e)) return exitCode;
    if (e instanceof CommanderError) {
      // Help and version are exit 0; every usage error is exit 2 (the message is already printed).
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : EXIT_BAD_INPUT;
    }
    const err = colorFor(io, 'stderr');
    if (e instanceof UsageError || isInputError(e)) {
      io.stderr.write(`${err.red('error:')} ${e.message}\n`);
      return EXIT_BAD_INPUT;
    }
    io.stderr.write(`${err.red('internal error:')} ${(e as Error)?.message ?? String(e)}${debug ? `\n${(e as Error)?.stack ?? ''}` : ' (run with --debug for a stack trace)'}\n`);
    return EXIT_BAD_INPUT;
  } finally {
    io.stdout.off('error', onStdoutError);
  }
  return exitCode;
}
