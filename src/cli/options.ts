import { access, constants, stat, writeFile } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import type { AnalysisSummary } from '../replay/index.js';
import { InvalidArgumentError } from 'commander';
import { isRevision, REVISIONS, type Revision } from '../protocol/revisions.js';
import { parseSymbolTable, type SymbolTable } from '../protocol/helpers.js';
import { UsageError, joinedChunks } from './io.js';

/** Option parsers shared by the commands; each fails with one line naming the option. */
export function parseRevisionOption(value: string): Revision {
  if (!isRevision(value)) throw new InvalidArgumentError(`expected one of ${REVISIONS.join(', ')}`);
  return value;
}

export function parseChoice<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return value as T;
  };
}

export function parseUint(value: string): number {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

export function parsePositive(value: string): number {
  const n = parseUint(value);
  if (n === 0) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** `A..B`, `A..`, `..B` or `N`: an inclusive seq range. */
export interface SeqRange {
  from: number;
  to: number;
}

export function parseSeqRange(value: string): SeqRange {
  const m = /^(\d*)(?:\.\.(\d*))?$/.exec(value);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw new InvalidArgumentError('expected N, A..B, A.. or ..B');
  const from = m[1] === '' ? 0 : Number(m[1]);
  const to = m[2] === undefined ? from : m[2] === '' ? Number.MAX_SAFE_INTEGER : Number(m[2]);
  if (to < from) throw new InvalidArgumentError(`the range ${value} is empty`);
  return { from, to };
}

export async function loadSymbols(path: string | undefined): Promise<SymbolTable | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UsageError(`--symbols ${path}: ${reason(e)}`);
  }
  try {
    return parseSymbolTable(text);
  } catch (e) {
    throw new UsageError(`--symbols ${path}: ${(e as Error).message}`);
  }
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (e as Error)?.message ?? String(e);
}

/** An input file an option names (`--js-heap FILE`): checked before the trace is read. */
export async function checkReadable(option: string, path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch (e) {
    throw new UsageError(`${option} ${path}: ${reason(e)}`);
  }
}

/**
 * An output file an option names (`--junit FILE`): its directory must exist, checked before
 * the trace is read so that a typo does not cost a whole replay.
 */
export async function checkWritableDir(option: string, path: string): Promise<void> {
  if (path === '-') return;
  const dir = dirname(path);
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new UsageError(`${option} ${path}: no such directory ${dir}`);
}

/** Writes a file an option names (text given in pieces is written as they come); a failure is one line naming the option and the file. */
export async function writeOptionFile(option: string, path: string, data: string | Iterable<string>): Promise<void> {
  try {
    await writeFile(path, typeof data === 'string' ? data : joinedChunks(data));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    throw new UsageError(`${option} ${path}: ${code === 'ENOENT' ? 'no such directory' : reason(e)}`);
  }
}

/** The format an output's extension names (`.csv`, `.json`, …; `.gz` looked through), if any. */
export function formatFromExtension<T extends string>(path: string | undefined, byExt: Readonly<Record<string, T>>): T | undefined {
  if (path === undefined || path === '-') return undefined;
  const base = path.toLowerCase().endsWith('.gz') ? path.slice(0, -3) : path;
  return byExt[extname(base).toLowerCase()];
}

/**
 * Exit 2 for a trace that had records, none of them readable (analyze, timeline and diff
 * agree on it): the one-line error to print, or undefined when something was read.
 */
export function nothingReadable(s: AnalysisSummary, inputs: readonly string[]): string | undefined {
  if (s.messages > 0 || s.records === 0 || !Object.keys(s.byKind).every((k) => k === 'bad-record')) return undefined;
  return `nothing readable in ${inputs.join(', ')}: ${s.records} record${s.records === 1 ? '' : 's'}, none of them could be read (see dump for each)`;
}
