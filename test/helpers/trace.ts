import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory for one test file. */
export function tempDir(prefix = 'bridge-trace-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface LineSpec {
  dir: 'r2j' | 'j2r';
  data: string | Uint8Array;
  side?: 'rust' | 'js';
  seq?: number;
  t?: number;
  ctx?: string;
}

/** Builds `@btrace` lines from readable specs (base64 strings or raw bytes). */
export function traceLines(meta: string | undefined, records: LineSpec[], prefix = ''): string {
  const lines: string[] = [];
  if (meta !== undefined) lines.push(`${prefix}@btrace meta ${meta}`);
  for (const r of records) {
    const data = typeof r.data === 'string' ? r.data : Buffer.from(r.data).toString('base64');
    const fields = [
      r.side && `side=${r.side}`,
      r.seq !== undefined && `seq=${r.seq}`,
      r.t !== undefined && `t=${r.t}`,
      r.ctx !== undefined && `ctx=${r.ctx}`,
      `dir=${r.dir}`,
      `data=${data}`,
    ].filter(Boolean);
    lines.push(`${prefix}@btrace ${fields.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

export function writeTrace(dir: string, name: string, text: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}
