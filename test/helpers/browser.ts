import { existsSync } from 'node:fs';

/**
 * The Chromium the browser tests drive with playwright-core: the system one when installed
 * (Debian's /usr/bin/chromium), else the one the `@sparticuz/chromium` devDependency ships,
 * which unpacks offline into the temp directory. So `npm ci && npm test` needs nothing but Node.
 */

const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const COMMON_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface BrowserLaunch {
  executablePath: string;
  args: string[];
  source: 'system' | '@sparticuz/chromium';
}

export async function findChromium(): Promise<BrowserLaunch> {
  const fromEnv = process.env['BRIDGE_TRACE_CHROMIUM'];
  const system = [fromEnv, ...SYSTEM_CHROMIUM].find((p): p is string => p !== undefined && p !== '' && existsSync(p));
  if (system !== undefined) return { executablePath: system, args: COMMON_ARGS, source: 'system' };
  const { default: packaged } = await import('@sparticuz/chromium');
  // Its own args make the bundled build run without a GPU or a sandbox helper. Left out:
  // --single-process (closing one page would end the browser, and the tests open several),
  // its own headless spelling (playwright passes one) and --disable-web-security (the tests
  // check that a report makes no network request, so the page must stay confined).
  const dropped = new Set(['--single-process', '--disable-web-security', '--allow-running-insecure-content']);
  const own = packaged.args.filter((a) => !dropped.has(a) && !a.startsWith('--headless'));
  const args = [...new Set([...own, ...COMMON_ARGS])];
  return { executablePath: await packaged.executablePath(), args, source: '@sparticuz/chromium' };
}
