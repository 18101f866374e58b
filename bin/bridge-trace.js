#!/usr/bin/env node
// Thin launcher: the program lives in dist/ (built by `npm install` through `prepare`).
import { setFlagsFromString } from 'node:v8';
import { main } from '../dist/cli/main.js';

// A replay allocates fast and keeps little. V8's default lets the heap grow to several times
// what survives a full collection before it collects again; 40% keeps peak memory near the
// live state for a few percent of time (issue 11). A flag given to node itself wins.
if (!process.execArgv.some((a) => a.includes('heap-growing-percent'))) {
  setFlagsFromString('--heap-growing-percent=40');
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`internal error: ${error?.message ?? error}\n`);
    process.exitCode = 2;
  },
);
