import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The checked-in sample trace, relative to the package root. */
export const SAMPLE = 'traces/deep-nesting.reserved-count.batch.log';

/**
 * The command the distribution tests run on the sample (`bridge-trace <SAMPLE_COMMAND> <sample>`),
 * and a line its output must contain. Change both here to test another command.
 */
export const SAMPLE_COMMAND: readonly string[] = ['analyze'];
export const SAMPLE_EXPECTED = 'no findings: 22 messages in 1 session replayed, both allocators agree';

/** These tests build, pack, install and copy a 100 MB executable: minutes, not the default 30 s. */
export const SLOW = 300_000;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The environment for child processes: the caller's, without what `npm test` exports about this
 * project (npm_config_local_prefix would point an `npm install` in a temporary project back at this
 * repository), without NODE_OPTIONS and colour forcing, and with NO_COLOR=1. Registry, cache and
 * proxy settings (npm_config_registry, …) are kept.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|command$|execpath$|node_execpath$|config_(local_prefix|prefix|global_prefix|call|user_agent|npm_version)$)/i.test(key)) continue;
    if (key === 'INIT_CWD' || key === 'NODE_OPTIONS' || key === 'FORCE_COLOR') continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

/** Runs a program without a shell and collects its output. */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: Date.now() - started }),
    );
  });
}

/** A failed run's output, for assertion messages. */
export function describeRun(r: Run): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` while holding a lock on this checkout's dist/. `npm pack` (through `prepare`) and
 * `npm run build:binary` both rewrite dist/ with tsc, and vitest runs test files in parallel: without
 * the lock one could bundle or pack a file while the other is rewriting it. The lock is a directory
 * in the temporary folder, named after the checkout, holding the owner's pid; a lock whose owner has
 * died is taken over.
 */
export async function withDistLock<T>(fn: () => Promise<T>, timeoutMs = SLOW - 60_000): Promise<T> {
  const lock = path.join(tmpdir(), `bridge-trace-dist-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  const owner = path.join(lock, 'pid');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      await writeFile(owner, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await readFile(owner, 'utf8').catch(() => ''));
      const age = Date.now() - (await stat(lock).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      // A lock without a pid file is being created right now, unless it is old (its creator died in between).
      if ((pid > 0 && !alive(pid)) || (!(pid > 0) && age > 60_000)) {
        await rm(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by pid ${pid || 'unknown'})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
