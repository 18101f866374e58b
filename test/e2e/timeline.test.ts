import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSimulation } from '../../src/sim/index.js';
import { findChromium } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

/**
 * `bridge-trace timeline` rendered in a real headless Chromium: no console errors, no
 * network, the chart, the lifetime lanes and the findings list are there, a finding marker
 * leads to its detail. UPDATE_SCREENSHOT=1 rewrites docs/timeline.png from the seed trace.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
// Relative, as a person would type it: the report shows the name as given.
const SEED = 'traces/deep-nesting.legacy.batch.log';
const SCREENSHOT = join(root, 'docs/timeline.png');

let browser: Browser | undefined;
const dir = mkdtempSync(join(tmpdir(), 'btrace-timeline-'));

beforeAll(async () => {
  process.chdir(root);
  const launch = await findChromium();
  browser = await chromium.launch({ executablePath: launch.executablePath, headless: true, args: launch.args });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  page: Page;
  errors: string[];
  requests: string[];
  loadMs: number;
}

/** Opens a file:// URL; collects console errors, page errors and every request made. */
async function open(file: string): Promise<Opened> {
  const page = await browser!.newPage({ viewport: { width: 1320, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const started = Date.now();
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  return { page, errors, requests, loadMs: Date.now() - started };
}

async function timeline(trace: string, out: string, ...extra: string[]): Promise<void> {
  const r = await runCli(['timeline', trace, '-o', out, ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
}

describe('timeline report in a headless browser', () => {
  it('seed trace: charts, lanes and findings render without errors; a marker leads to its finding', async () => {
    const html = join(dir, 'seed.html');
    await timeline(SEED, html);
    const analyzed = JSON.parse((await runCli(['analyze', '--json', SEED])).stdout) as { findings: unknown[] };
    expect(analyzed.findings.length).toBeGreaterThan(0);

    const { page, errors, requests } = await open(html);
    try {
      // The main chart: four panels with their series and legends.
      expect(await page.locator('#timeline-chart').isVisible()).toBe(true);
      expect(await page.locator('#timeline-chart g.panel').count()).toBe(4);
      expect(await page.locator('#timeline-chart path.series').count()).toBe(8);
      for (const label of ['Live heap objects', 'Reservation scopes (JS)', 'Borrow stack depth', 'Conversation nesting depth', 'Rust live IDs', 'JS live objects']) {
        expect(await page.locator('#timeline-chart text', { hasText: label }).count(), label).toBeGreaterThan(0);
      }
      // Lifetime lanes, grouped by creating function, with provenance on hover.
      expect(await page.locator('#lifetimes-chart').isVisible()).toBe(true);
      expect(await page.locator('#lifetimes-chart g.lifetime-group').count()).toBeGreaterThan(0);
      const bars = page.locator('#lifetimes-chart rect.lifetime');
      expect(await bars.count()).toBeGreaterThan(0);
      await bars.first().hover();
      const tip = page.locator('#tip');
      expect(await tip.isVisible()).toBe(true);
      expect(await tip.textContent()).toMatch(/#\d+: .* created in msg \d+/);
      // The lanes of the IDs the placeholder-id-mismatch names are marked and link to it.
      expect(await page.locator('#lifetimes-chart a[href^="#finding-"] rect.lifetime').count()).toBeGreaterThan(0);
      // Findings list, one item per finding, with the summary header above.
      expect(await page.locator('ol.findings > li').count()).toBe(analyzed.findings.length);
      expect(await page.locator('ol.findings').textContent()).toContain('placeholder-id-mismatch');
      expect(await page.locator('header .cards .card').count()).toBeGreaterThan(5);
      // A finding marker links to its detail.
      const marker = page.locator('#timeline-chart a.finding-marker').first();
      const target = await marker.getAttribute('href');
      expect(target).toMatch(/^#finding-\d+$/);
      await marker.click();
      // Strings, not functions: the tests are type-checked without the DOM library.
      await page.waitForFunction(`location.hash === ${JSON.stringify(target)}`);
      const inView = await page.evaluate(`(() => { const r = document.getElementById(${JSON.stringify(target!.slice(1))}).getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight && r.height > 0; })()`);
      expect(inView).toBe(true);
      await page.evaluate('scrollTo(0, 0)');
      await page.screenshot({ path: join(dir, 'seed.png'), fullPage: true });
      expect(statSync(join(dir, 'seed.png')).size).toBeGreaterThan(10_000);
      if (process.env.UPDATE_SCREENSHOT === '1') {
        await page.evaluate("history.replaceState(null, '', location.pathname)");
        await page.reload({ waitUntil: 'load' });
        await page.screenshot({ path: join(dir, 'docs.png'), fullPage: true });
        copyFileSync(join(dir, 'docs.png'), SCREENSHOT);
      }
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('the checked-in screenshot exists', () => {
    expect(existsSync(SCREENSHOT), `${SCREENSHOT}: run UPDATE_SCREENSHOT=1 npx vitest run test/e2e/timeline.test.ts`).toBe(true);
  });

  it('a 100k-message trace gives a small, downsampled report that opens quickly', async () => {
    const trace = join(dir, 'stress.log');
    await writeSimulation({ scenario: 'stress', revision: 'explicit-ids', mode: 'batch', seed: 1, size: 100_000 }, trace);
    const html = join(dir, 'stress.html');
    const started = Date.now();
    await timeline(trace, html);
    const buildMs = Date.now() - started;
    const size = statSync(html).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    const { page, errors, requests, loadMs } = await open(html);
    try {
      expect(await page.locator('#over-time').textContent()).toContain('Downsampled');
      expect(await page.locator('#timeline-chart path.series').count()).toBe(8);
      expect(await page.locator('#lifetimes-chart rect.lifetime').count()).toBeGreaterThan(0);
      expect(loadMs).toBeLessThan(5000);
      expect(errors).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
    } finally {
      await page.close();
    }
    console.log(`timeline of 100k messages: report ${(size / 1024).toFixed(0)} KiB, built in ${buildMs} ms, loaded in ${loadMs} ms`);
  }, 120_000);

  it('--format svg is the chart alone and opens on its own; --format csv is the series', async () => {
    const svg = join(dir, 'seed.svg');
    await timeline(SEED, svg, '--format', 'svg');
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(text).not.toContain('href=');
    const { page, errors } = await open(svg);
    try {
      expect(await page.locator('path.series').count()).toBe(8);
      expect(await page.locator('g.finding-marker').count()).toBeGreaterThan(0);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
    const csv = join(dir, 'seed.csv');
    await timeline(SEED, csv, '--format', 'csv');
    const lines = readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^bucket,msg_from,msg_to,t_from_us,t_to_us,steps,rust_live_min,/);
    const header = lines[0]!.split(',');
    for (const l of lines.slice(1)) expect(l.split(',')).toHaveLength(header.length);
    expect(lines.length).toBeGreaterThan(2);
  });
});
