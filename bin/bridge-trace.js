#!/usr/bin/env node
// Thin launcher: the program lives in dist/ (built by `npm install` through `prepare`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`internal error: ${error?.message ?? error}\n`);
    process.exitCode = 2;
  },
);
