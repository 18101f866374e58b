import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recorderSnippet } from '../../src/recorder/snippet.js';
import { analyze } from '../../src/replay/index.js';
import { runSimulation } from '../../src/sim/index.js';
import { openTrace } from '../../src/trace/source.js';
import type { MessageRecord, TraceRecord } from '../../src/trace/record.js';
import { findChromium } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';

/**
 * End to end in a real headless Chromium: the recorder snippet is injected as an init
 * script into a page whose scripted JS peer uses the bridge's real globals
 * (`evaluate_from_rust_binary`, synchronous XHR to `/__wbg__/handler` with `dioxus-data`),
 * while a local HTTP server plays the Rust peer from a simulator trace. The console lines
 * the recorder prints, analyzed, must be the simulator's JS-side records and give its
 * ground truth.
 */

const b64 = (data: Uint8Array): string => Buffer.from(data).toString('base64');

type Kind = 'r-eval' | 'r-resp' | 'j-eval' | 'j-resp';

/** The message type is the first byte of the u8 buffer: 0 Evaluate, 1 Respond (docs/protocol.md §3.2). */
function kindOf(r: MessageRecord): Kind {
  const view = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  const evaluate = r.data[view.getUint32(4, true)] === 0;
  return r.dir === 'r2j' ? (evaluate ? 'r-eval' : 'r-resp') : evaluate ? 'j-eval' : 'j-resp';
}

/** What the test drives from outside: an R-Eval delivered by script, or a J-Eval JS starts on its own (timer, GC). */
interface TopEvent {
  kind: 'script' | 'js-call';
  data: string;
}

interface Plan {
  events: TopEvent[];
  /** Every J→R message, in the order JS sends it: the page's script. */
  queue: string[];
  /** Per XHR, in order: the `dioxus-data` the Rust peer expects, and its reply ('' = blank). */
  replies: Array<{ expect: string; reply: string }>;
}

/**
 * Splits the JS-side records (JS's processing order) into what arrives by script, what JS
 * sends, and which R→J message is which XHR's reply. JS is synchronous: a J-Eval's XHR is
 * always answered by the next R→J record; a J-Resp's XHR too while JS is blocked inside a
 * J-Eval (or when the next record is an R-Resp); the J-Resp closing a top-level R-Eval is
 * answered blank, so the next R-Eval comes by script (docs/protocol.md §4.5).
 */
function planFrom(records: MessageRecord[]): Plan {
  const plan: Plan = { events: [], queue: [], replies: [] };
  const stack: Array<'reval' | 'jeval'> = [];
  let i = 0;
  while (i < records.length) {
    const r = records[i++]!;
    const k = kindOf(r);
    if (r.dir === 'r2j') {
      if (stack.length > 0 || k !== 'r-eval') throw new Error(`JS-side record ${r.seq}: ${k} outside any XHR reply (not supported by this scripted peer)`);
      plan.events.push({ kind: 'script', data: b64(r.data) });
      stack.push('reval');
      continue;
    }
    if (stack.length === 0) {
      if (k !== 'j-eval') throw new Error(`JS-side record ${r.seq}: J-Resp with no R-Eval open`);
      plan.events.push({ kind: 'js-call', data: b64(r.data) });
    }
    plan.queue.push(b64(r.data));
    if (k === 'j-eval') stack.push('jeval');
    else if (stack.pop() !== 'reval') throw new Error(`JS-side record ${r.seq}: J-Resp does not close an R-Eval`);
    const xhr = { expect: b64(r.data), reply: '' };
    plan.replies.push(xhr);
    const next = records[i];
    if (next && next.dir === 'r2j' && (k === 'j-eval' || stack.length > 0 || kindOf(next) === 'r-resp')) {
      i++;
      xhr.reply = b64(next.data);
      if (kindOf(next) === 'r-eval') stack.push('reval');
      else if (stack.pop() !== 'jeval') throw new Error(`JS-side record ${next.seq}: R-Resp does not close a J-Eval`);
    }
  }
  return plan;
}

/** The page: a scripted JS peer behind the real globals, doing what the runtime does with replies (§4.5). */
function peerPage(queue: string[]): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>bridge-trace e2e</title></head><body>
<script>
(function () {
  var queue = ${JSON.stringify(queue)};
  var next = 0;
  function kindOf(b64) {
    var s = atob(b64);
    var u8 = s.charCodeAt(4) | (s.charCodeAt(5) << 8) | (s.charCodeAt(6) << 16) | (s.charCodeAt(7) << 24);
    return s.charCodeAt(u8) === 0 ? 'evaluate' : 'respond';
  }
  function xhr(b64) {
    var x = new XMLHttpRequest();
    x.open('POST', '/__wbg__/handler', false);
    x.setRequestHeader('dioxus-data', b64);
    x.send();
    if (x.status !== 200) throw new Error('handler answered ' + x.status + ': ' + x.responseText);
    var body = x.responseText;
    if (!body) return null;
    atob(body); // the runtime decodes the base64 text reply
    console.log('app: reply of ' + body.length + ' base64 chars');
    return body;
  }
  // Runs an R-Eval: sends the J-Evals its ops make (each handled to its R-Resp), then its J-Resp.
  // Returns the J-Resp's reply. An R-Eval the trace never answers is one where JS threw.
  function runEvaluate(b64) {
    for (;;) {
      if (next >= queue.length) throw new TypeError('scripted peer: JS threw in this R-Eval (the trace ends here)');
      var msg = queue[next++];
      if (kindOf(msg) === 'evaluate') callRust(msg);
      else return xhr(msg);
    }
  }
  function handleReply(reply) {
    while (reply && kindOf(reply) === 'evaluate') reply = runEvaluate(reply);
    return reply;
  }
  function callRust(b64) {
    return handleReply(xhr(b64));
  }
  window.evaluate_from_rust_binary = function (b64) {
    atob(b64);
    var rest = handleReply(runEvaluate(b64));
    if (rest) throw new Error('Unprocessed data remaining after Evaluate handling');
    return 'done';
  };
  window.__peer = {
    jsCall: function () { return callRust(queue[next++]) ? 'r-resp' : 'blank'; },
    remaining: function () { return queue.length - next; },
  };
  console.log('app: peer ready with ' + queue.length + ' messages to send');
})();
</script></body></html>`;
}

/** The same page without a recorder and with one must behave identically (probe() results). */
const IDENTITY_PAGE = `<!doctype html><html><head><meta charset="utf-8"></head><body>
<script>
function evaluate_from_rust_binary(b64) {
  if (b64 === 'AAAA') throw new TypeError('cb2 is not a function');
  return { len: b64.length, self: this === window || this === undefined };
}
function sync(header) {
  var x = new XMLHttpRequest();
  x.open('POST', '/__wbg__/handler', false);
  x.setRequestHeader('dioxus-data', header);
  try { var r = x.send(); } catch (e) { return { threw: e.name }; }
  return { ret: r === undefined, text: x.responseText, status: x.status, state: x.readyState, type: x.getResponseHeader('content-type') };
}
function asyncBytes(header) {
  return new Promise(function (resolve) {
    var x = new XMLHttpRequest();
    x.open('POST', '/__wbg__/handler');
    x.responseType = 'arraybuffer';
    x.setRequestHeader('dioxus-data', header);
    x.onload = function () { resolve(Array.prototype.slice.call(new Uint8Array(x.response))); };
    x.send();
  });
}
async function probe() {
  var out = {};
  out.eval = evaluate_from_rust_binary('DAAAAAwAAAANAAAAAA==');
  try { evaluate_from_rust_binary('AAAA'); out.evalThrow = 'no'; } catch (e) { out.evalThrow = [e instanceof TypeError, e.message]; }
  out.text = sync('DAAAAAwAAAANAAAAAQ==');
  out.blank = sync('DAAAAAwAAAANAAAAAA==');
  window.__btraceSink = function () { throw new Error('sink broken'); };
  out.withBrokenSink = sync('DAAAAAwAAAANAAAAAQ==');
  delete window.__btraceSink;
  out.network = sync('ZmFpbA==');
  out.bytes = await asyncBytes('Ynl0ZXM=');
  return out;
}
</script></body></html>`;

const IDENTITY_REPLY = 'FAAAABQAAAAVAAAAjAAAAAAAAAAB';
const IDENTITY_BYTES = Buffer.from([12, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 1, 0xff, 0x00, 0x80]);

interface RustPeer {
  url: string;
  /** Loads the script of the next run. */
  load(plan: Plan): void;
  /** XHRs answered so far, and what went wrong. */
  answered(): number;
  errors: string[];
  close(): Promise<void>;
}

async function startRustPeer(): Promise<RustPeer> {
  let plan: Plan = { events: [], queue: [], replies: [] };
  let k = 0;
  const errors: string[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/peer') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(peerPage(plan.queue));
    } else if (path === '/identity') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(IDENTITY_PAGE);
    } else if (path === '/__wbg__/handler' && req.url === '/__wbg__/handler' && req.headers.referer?.endsWith('/identity')) {
      const h = req.headers['dioxus-data'];
      if (h === 'ZmFpbA==') req.socket.destroy();
      else if (h === 'Ynl0ZXM=') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(IDENTITY_BYTES);
      else res.writeHead(200, { 'content-type': 'text/plain' }).end(h === 'DAAAAAwAAAANAAAAAQ==' ? IDENTITY_REPLY : '');
    } else if (path === '/__wbg__/handler') {
      const h = req.headers['dioxus-data'];
      const want = plan.replies[k];
      if (req.method !== 'POST' || !want || h !== want.expect) {
        errors.push(`XHR #${k + 1}: got ${req.method} dioxus-data=${String(h)}, expected ${want ? want.expect : 'no more requests'}`);
        res.writeHead(400, { 'content-type': 'text/plain' }).end('unexpected message');
        return;
      }
      k++;
      res.writeHead(200, { 'content-type': 'text/plain' }).end(want.reply);
    } else {
      res.writeHead(404).end();
    }
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    load(p) {
      plan = p;
      k = 0;
      errors.length = 0;
    },
    answered: () => k,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let context: BrowserContext | undefined;
let peer: RustPeer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'btrace-e2e-'));

beforeAll(async () => {
  const launch = await findChromium();
  peer = await startRustPeer();
  context = await chromium.launchPersistentContext(join(dir, 'profile'), { executablePath: launch.executablePath, headless: true, args: launch.args });
}, 30_000);

afterAll(async () => {
  await context?.close();
  await peer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a page with the recorder injected; collects its console in order. */
async function openPage(path: string, snippet: string | undefined): Promise<{ page: Page; console: string[]; flush: () => Promise<void> }> {
  const page = await context!.newPage();
  const lines: string[] = [];
  let waiting: { marker: string; resolve: () => void } | undefined;
  page.on('console', (m) => {
    const text = m.text();
    if (waiting && text === waiting.marker) waiting.resolve();
    else lines.push(text);
  });
  if (snippet !== undefined) await page.addInitScript(snippet);
  await page.goto(`${peer!.url}${path}`);
  let n = 0;
  // Console events arrive in order: once a marker logged last has come back, everything before it has.
  const flush = async (): Promise<void> => {
    const marker = `--flush ${++n}--`;
    const done = new Promise<void>((resolve) => (waiting = { marker, resolve }));
    await page.evaluate((m) => console.log(m), marker);
    await done;
  };
  return { page, console: lines, flush };
}

/** Runs a simulator scenario's JS side through Chromium; returns the log file and what the driver saw. */
async function record(revision: 'reserved-count' | 'legacy', ctx?: string) {
  const { records, truth } = runSimulation({ scenario: 'deep-nesting', revision, mode: 'batch' });
  const jsRecords = records.filter((r): r is MessageRecord => r.kind === 'message' && r.side === 'js');
  const plan = planFrom(jsRecords);
  peer!.load(plan);
  const { page, console: lines, flush } = await openPage('/peer', recorderSnippet({ rev: revision, ...(ctx && { ctx }) }));
  const outcomes: string[] = [];
  for (const ev of plan.events) {
    try {
      outcomes.push(
        ev.kind === 'script'
          ? await page.evaluate((data) => (globalThis as unknown as { evaluate_from_rust_binary(d: string): string }).evaluate_from_rust_binary(data), ev.data)
          : await page.evaluate(() => (globalThis as unknown as { __peer: { jsCall(): string } }).__peer.jsCall()),
      );
    } catch (e) {
      outcomes.push(`threw: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  const remaining = await page.evaluate(() => (globalThis as unknown as { __peer: { remaining(): number } }).__peer.remaining());
  await flush();
  await page.close();
  // A noisy log: every console line, @btrace or not, behind a timestamp and a log level.
  const log = join(dir, `${revision}.log`);
  const start = Date.parse('2026-11-24T03:51:04.000Z');
  writeFileSync(log, lines.map((l, i) => `${new Date(start + i).toISOString()} INFO webview: ${l}\n`).join(''));
  const recorded: TraceRecord[] = [];
  for await (const r of openTrace(log)) recorded.push(r);
  return { jsRecords, plan, truth, outcomes, remaining, console: lines, log, recorded };
}

function sameMessages(recorded: TraceRecord[], expected: MessageRecord[]): void {
  expect(recorded.filter((r) => r.kind === 'bad')).toEqual([]);
  const messages = recorded.filter((r): r is MessageRecord => r.kind === 'message');
  expect(messages.map((r) => [r.side, r.seq, r.dir, b64(r.data)])).toEqual(expected.map((r, i) => ['js', i + 1, r.dir, b64(r.data)]));
  const ts = messages.map((r) => r.t!);
  expect(ts.every((t, i) => Number.isInteger(t) && (i === 0 || t >= ts[i - 1]!))).toBe(true);
}

describe('recorder in a real Chromium (deep-nesting, batch)', () => {
  it('reserved-count: the recorded JS side equals the simulator\'s, and analyze finds nothing', async () => {
    const r = await record('reserved-count');
    expect(peer!.errors).toEqual([]);
    expect(peer!.answered()).toBe(r.plan.replies.length);
    expect(r.remaining).toBe(0);
    expect(r.plan.events.map((e) => e.kind)).toEqual(['script', 'js-call', 'script', 'js-call', 'js-call']);
    expect(r.outcomes).toEqual(['done', 'r-resp', 'done', 'r-resp', 'r-resp']);
    expect(r.jsRecords).toHaveLength(22);
    expect(r.console.some((l) => l.startsWith('app: '))).toBe(true); // the log is noisy
    const meta = r.recorded.filter((x) => x.kind === 'meta');
    expect(meta.map((m) => m.fields)).toEqual([[['rev', 'reserved-count'], ['side', 'js']]]);
    expect(r.recorded[0]!.kind).toBe('meta');
    sameMessages(r.recorded, r.jsRecords);

    expect(r.truth.mismatchCount).toBe(0);
    const result = await analyze(openTrace(r.log));
    expect(result.findings.map((f) => `${f.kind}: ${f.message}`)).toEqual([]);
    expect(result.sessions).toHaveLength(1);
    expect(result.sessions[0]).toMatchObject({ revision: 'reserved-count', revisionSource: 'meta', messages: 22 });
    const cli = await runCli(['analyze', r.log]);
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
  });

  it('legacy: JS throws in M2 and the recorded trace gives the root placeholder-id-mismatch (Rust #136, JS #134)', async () => {
    const r = await record('legacy', 'e2e-legacy');
    expect(peer!.errors).toEqual([]);
    expect(r.plan.events.map((e) => e.kind)).toEqual(['script']);
    expect(r.outcomes).toEqual([expect.stringContaining('TypeError: scripted peer: JS threw in this R-Eval')]);
    expect(r.jsRecords.map((x) => x.dir)).toEqual(['r2j', 'j2r', 'r2j']);
    sameMessages(r.recorded, r.jsRecords);
    expect(r.recorded.filter((x) => x.kind === 'message').every((x) => x.kind === 'message' && x.ctx === 'e2e-legacy')).toBe(true);

    const mismatch = r.truth.mismatches[0]!;
    expect([mismatch.rustId, mismatch.jsId]).toEqual([136, 134]);
    const result = await analyze(openTrace(r.log));
    const roots = result.findings.filter((f) => f.causedBy === undefined);
    expect(roots[0], JSON.stringify(result.findings.map((f) => f.kind))).toMatchObject({ kind: 'placeholder-id-mismatch', rustId: 136, jsId: 134 });
    expect(roots.map((f) => f.kind)).toEqual(['placeholder-id-mismatch']);
    const cli = await runCli(['analyze', r.log]);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toContain('placeholder-id-mismatch');
  });

  it('changes nothing the page can see: same results with and without the recorder, and the right lines', async () => {
    const results: unknown[] = [];
    let recordedConsole: string[] = [];
    for (const snippet of [undefined, recorderSnippet({ rev: 'reserved-count', ctx: 'identity' })]) {
      const { page, console: lines, flush } = await openPage('/identity', snippet);
      results.push(await page.evaluate(() => (globalThis as unknown as { probe(): Promise<unknown> }).probe()));
      await flush();
      await page.close();
      recordedConsole = lines;
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]).toMatchObject({
      eval: { len: 20, self: true },
      evalThrow: [true, 'cb2 is not a function'],
      text: { ret: true, text: IDENTITY_REPLY, status: 200, state: 4, type: 'text/plain' },
      blank: { text: '', status: 200 },
      withBrokenSink: { text: IDENTITY_REPLY },
      network: { threw: 'NetworkError' },
      bytes: [...IDENTITY_BYTES],
    });
    // the broken sink swallowed the two lines of that request; seq shows the gap
    expect(recordedConsole.filter((l) => l.includes('@btrace')).map((l) => l.replace(/ t=\d+/, ''))).toEqual([
      '@btrace meta rev=reserved-count side=js ctx=identity',
      '@btrace side=js seq=1 ctx=identity dir=r2j data=DAAAAAwAAAANAAAAAA==',
      '@btrace side=js seq=2 ctx=identity dir=r2j data=AAAA',
      '@btrace side=js seq=3 ctx=identity dir=j2r data=DAAAAAwAAAANAAAAAQ==',
      `@btrace side=js seq=4 ctx=identity dir=r2j data=${IDENTITY_REPLY}`,
      '@btrace side=js seq=5 ctx=identity dir=j2r data=DAAAAAwAAAANAAAAAA==',
      '@btrace side=js seq=8 ctx=identity dir=j2r data=ZmFpbA==',
      '@btrace side=js seq=9 ctx=identity dir=j2r data=Ynl0ZXM=',
      `@btrace side=js seq=10 ctx=identity dir=r2j data=${IDENTITY_BYTES.toString('base64')}`,
    ]);
  });
});
