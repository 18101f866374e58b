import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles a TypeScript entry (and the project sources it imports) into one ES module in a temp folder, so
 * that a test can run today's sources in a child process it can kill: a synchronous hang inside the test's
 * own process would stop the test runner's timeouts too.
 */
export async function bundleForChild(entry: string): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'bt-child-')), 'child.mjs');
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    logLevel: 'silent',
    // chalk and commander stay external: they resolve from the project's node_modules via this banner.
    banner: { js: "import { createRequire as __btRequire } from 'node:module'; const require = __btRequire(import.meta.url);" },
  });
  return out;
}
