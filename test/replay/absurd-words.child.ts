// Child process of absurd-words.test.ts: runs analyze, timeline and diff on every variant file named on the
// command line and prints one `ok <file> <command> <ms>` line each, so the parent can tell which one hung.
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { CliIO } from '../../src/cli/io.js';

function sinkIO(): CliIO {
  const sink = (): PassThrough => {
    const s = new PassThrough();
    s.resume();
    return s;
  };
  return { stdout: sink(), stderr: sink(), stdin: Readable.from([]), env: { NO_COLOR: '1' }, stdoutIsTTY: false, stderrIsTTY: false };
}

const [original, outHtml, ...variants] = process.argv.slice(2);
for (const file of variants) {
  const runs: Array<[string, string[]]> = [
    ['analyze', ['analyze', '--json', file]],
    ['timeline', ['timeline', '-o', outHtml!, file]],
    ['diff', ['diff', original!, file]],
  ];
  for (const [name, args] of runs) {
    const started = performance.now();
    const code = await main(args, sinkIO());
    process.stdout.write(`ok ${file} ${name} ${Math.round(performance.now() - started)} ${code}\n`);
  }
}
