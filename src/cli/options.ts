import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { isRevision, REVISIONS, type Revision } from '../protocol/revisions.js';
import { parseSymbolTable, type SymbolTable } from '../protocol/helpers.js';
import { UsageError } from './io.js';

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
    throw new UsageError(`--symbols ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return parseSymbolTable(text);
  } catch (e) {
    throw new UsageError(`--symbols ${path}: ${(e as Error).message}`);
  }
}
