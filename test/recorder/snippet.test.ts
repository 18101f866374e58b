import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { RecorderOptionError, recorderSnippet } from '../../src/recorder/snippet.js';
import { parseTraceLine } from '../../src/trace/lines.js';
import type { MessageRecord, MetaRecord } from '../../src/trace/record.js';

/**
 * The snippet in a bare V8 context with a fake window and a fake XMLHttpRequest, so every
 * path (arraybuffer replies, throwing sinks, late definitions) is checked without a browser.
 * test/e2e/recorder.test.ts runs it in a real Chromium.
 */
interface Reply {
  status?: number;
  text?: string;
  bytes?: Uint8Array;
  throws?: Error;
}

interface Page {
  ctx: vm.Context;
  lines: string[];
  requests: Array<{ url: string; header: string | null }>;
  run: (code: string) => unknown;
  fire: (type: string) => void;
}

function makePage(options: { rev?: string; ctx?: string; reply?: (header: string | null, url: string) => Reply; inject?: number } = {}): Page {
  const lines: string[] = [];
  const requests: Array<{ url: string; header: string | null }> = [];
  const listeners = new Map<string, Array<() => void>>();
  let clock = 1000;
  const reply: (header: string | null, url: string) => Reply = options.reply ?? (() => ({ text: '' }));

  class FakeXHR {
    readyState = 0;
    status = 0;
    responseType = '';
    responseText = '';
    response: unknown = '';
    private url = '';
    private async = true;
    private header: string | null = null;
    private handlers: Array<() => void> = [];
    open(_method: string, url: string, async?: boolean): void {
      this.url = url;
      this.async = async !== false;
      this.readyState = 1;
    }
    setRequestHeader(name: string, value: string): void {
      if (this.readyState !== 1) throw new Error('InvalidStateError');
      if (name.toLowerCase() === 'dioxus-data') this.header = value;
    }
    addEventListener(type: string, f: () => void): void {
      if (type === 'readystatechange') this.handlers.push(f);
    }
    send(_body?: unknown): void {
      if (this.readyState !== 1) throw new Error('InvalidStateError');
      requests.push({ url: this.url, header: this.header });
      const r = reply(this.header, this.url);
      if (r.throws) throw r.throws;
      const finish = (): void => {
        this.status = r.status ?? 200;
        this.readyState = 4;
        if (this.responseType === 'arraybuffer') {
          const b = r.bytes ?? new Uint8Array(0);
          this.response = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
        } else {
          this.responseText = r.text ?? '';
          this.response = this.responseText;
        }
        for (const h of this.handlers) h();
      };
      if (this.async) queueMicrotask(finish);
      else finish();
    }
  }

  const ctx = vm.createContext({
    console: { log: (s: unknown) => lines.push(String(s)) },
    performance: { now: () => (clock += 0.0125) },
    XMLHttpRequest: FakeXHR,
    ArrayBuffer,
    Uint8Array,
    queueMicrotask,
  });
  const run = (code: string): unknown => vm.runInContext(code, ctx);
  run('var window = globalThis;');
  (ctx as { addEventListener: unknown }).addEventListener = (type: string, f: () => void): void => {
    listeners.set(type, [...(listeners.get(type) ?? []), f]);
  };
  const snippet = recorderSnippet({ ...(options.rev && { rev: options.rev }), ...(options.ctx && { ctx: options.ctx }) });
  for (let i = 0; i < (options.inject ?? 1); i++) run(snippet);
  return { ctx, lines, requests, run, fire: (type) => listeners.get(type)?.forEach((f) => f()) };
}

function records(lines: string[]): Array<MessageRecord | MetaRecord> {
  return lines.map((l, i) => {
    const r = parseTraceLine(l, { input: 'test', line: i + 1 });
    if (!r || r.kind === 'bad') throw new Error(`line ${i + 1} is not a record: ${l} (${r?.kind === 'bad' ? r.message : 'no marker'})`);
    return r;
  });
}

const b64 = (bytes: number[]): string => Buffer.from(bytes).toString('base64');
const M1 = b64([12, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 0]);
const J1 = b64([12, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 1]);
const R1 = b64([12, 0, 0, 0, 12, 0, 0, 0, 13, 0, 0, 0, 1, 0xff, 0xfe]);

describe('recorder snippet: options', () => {
  it('rejects rev and ctx values that cannot be one @btrace field value', () => {
    for (const bad of ['a b', 'a"b', "a'b", 'a\tb', '', 'a\\b', 'x\u0001']) {
      expect(() => recorderSnippet({ ctx: bad }), JSON.stringify(bad)).toThrow(RecorderOptionError);
    }
    expect(() => recorderSnippet({ rev: 'reserved count' })).toThrow(/--rev "reserved count" contains a space/);
    expect(() => recorderSnippet({ ctx: 'x'.repeat(4097) })).toThrow(/4096/);
    expect(() => recorderSnippet({ rev: 'reserved-count', ctx: 'webview-1' })).not.toThrow();
  });

  it('is plain ES2017 without imports, and a ctx cannot close a <script> element', () => {
    const s = recorderSnippet({ rev: 'reserved-count', ctx: '</script>' });
    expect(s).not.toContain('</script>');
    expect(s).not.toMatch(/^\s*(import|export)\s/m);
    expect(s).not.toMatch(/=>|`|\?\?|\?\.|\bclass\b|\blet\b|\bconst\b/); // ES5-style syntax
    expect(() => new vm.Script(s)).not.toThrow();
  });
});

describe('recorder snippet: what it records', () => {
  it('an R-Eval by script, then its J-Resp and the blank reply; meta first, seq from 1, t in µs', () => {
    const page = makePage({ rev: 'reserved-count', ctx: 'w1', reply: () => ({ text: '' }) });
    page.run(`
      window.evaluate_from_rust_binary = function (data) {
        console.log('app: got ' + data.length);
        var x = new XMLHttpRequest();
        x.open('POST', 'http://wry.localhost/__wbg__/handler', false);
        x.setRequestHeader('dioxus-data', '${J1}');
        x.send();
        return 'ret:' + x.responseText;
      };
    `);
    expect(page.run(`evaluate_from_rust_binary('${M1}')`)).toBe('ret:');
    expect(page.lines[0]).toBe('@btrace meta rev=reserved-count side=js ctx=w1');
    expect(page.lines[1]).toMatch(new RegExp(`^@btrace side=js seq=1 t=\\d+ ctx=w1 dir=r2j data=${M1.replace(/\+/g, '\\+')}$`));
    expect(page.lines[2]).toBe('app: got 20'); // the record comes before the app runs the message
    const recs = records(page.lines.filter((l) => l.startsWith('@btrace'))) as MessageRecord[];
    expect(recs.slice(1).map((r) => [r.seq, r.dir, Buffer.from(r.data).toString('base64'), r.side, r.ctx])).toEqual([
      [1, 'r2j', M1, 'js', 'w1'],
      [2, 'j2r', J1, 'js', 'w1'],
    ]);
    expect(recs[1]!.t).toBeGreaterThan(0);
    expect(recs[2]!.t).toBeGreaterThanOrEqual(recs[1]!.t!);
    expect(Number.isInteger(recs[2]!.t)).toBe(true);
  });

  it('a reply as base64 text and as an arraybuffer, recorded after the XHR returns; other requests are not recorded', () => {
    const raw = Uint8Array.from(Buffer.from(R1, 'base64'));
    const page = makePage({
      rev: 'legacy',
      reply: (h, url) => (url.includes('other') ? { text: 'hello' } : h === M1 ? { bytes: raw } : { text: R1 }),
    });
    const got = page.run(`
      var out = [];
      var a = new XMLHttpRequest();
      a.open('POST', '/__wbg__/handler', false);
      a.setRequestHeader('dioxus-data', '${J1}');
      a.send();
      out.push(a.responseText);
      var b = new XMLHttpRequest();
      b.open('POST', 'wry://handler', false);
      b.responseType = 'arraybuffer';
      b.setRequestHeader('Dioxus-Data', '${M1}');
      b.send();
      out.push(new Uint8Array(b.response).length);
      var c = new XMLHttpRequest();
      c.open('GET', '/other?x=/__wbg__/handler', false);
      c.send();
      out.push(c.responseText);
      out;
    `);
    expect(got).toEqual([R1, raw.length, 'hello']);
    const recs = records(page.lines) as MessageRecord[];
    expect(recs.map((r) => (r.kind === 'message' ? [r.dir, Buffer.from(r.data).toString('base64')] : 'meta'))).toEqual([
      'meta',
      ['j2r', J1],
      ['r2j', R1],
      ['j2r', M1],
      ['r2j', R1],
    ]);
  });

  it('an asynchronous request has its reply recorded when it completes', async () => {
    const page = makePage({ reply: () => ({ text: R1 }) });
    page.run(`
      var a = new XMLHttpRequest();
      a.open('POST', '/__wbg__/handler');
      a.setRequestHeader('dioxus-data', '${J1}');
      a.send();
    `);
    await new Promise((r) => setTimeout(r, 0));
    expect(records(page.lines).map((r) => (r as MessageRecord).dir)).toEqual(['j2r', 'r2j']);
  });

  it('wraps a global function declaration once the page is loaded, and never wraps twice', () => {
    const page = makePage({ rev: 'reserved-count', inject: 2 });
    page.run(`function evaluate_from_rust_binary(d) { return d.length; }`);
    page.fire('DOMContentLoaded');
    page.fire('load');
    expect(page.run(`evaluate_from_rust_binary('${M1}')`)).toBe(M1.length);
    expect(page.run(`window.evaluate_from_rust_binary('${M1}')`)).toBe(M1.length);
    expect(page.lines.filter((l) => l.includes('dir=r2j'))).toHaveLength(2);
    expect(page.lines.filter((l) => l.includes('meta'))).toHaveLength(1);
  });

  it('without --rev there is no meta line', () => {
    const page = makePage();
    page.run(`window.evaluate_from_rust_binary = function () {}; evaluate_from_rust_binary('${M1}')`);
    expect(page.lines).toHaveLength(1);
    expect(page.lines[0]).toMatch(/^@btrace side=js seq=1 t=\d+ dir=r2j data=/);
  });
});

describe('recorder snippet: the app sees no difference', () => {
  it('return values, this, arguments and exceptions of evaluate_from_rust_binary pass through unchanged', () => {
    const page = makePage({ rev: 'reserved-count' });
    page.run(`
      var thrown = new TypeError('cb2 is not a function');
      window.evaluate_from_rust_binary = function (d, extra) {
        if (d === 'throw') throw thrown;
        if (d === 'throw-string') throw 'plain';
        return { self: this, d: d, extra: extra, n: arguments.length };
      };
    `);
    const r = page.run(`window.evaluate_from_rust_binary('${M1}', 7)`) as { self: unknown; d: string; extra: number; n: number };
    expect(r.self).toBe(page.run('window'));
    expect([r.d, r.extra, r.n]).toEqual([M1, 7, 2]);
    expect(page.run(`try { evaluate_from_rust_binary('throw'); 'no' } catch (e) { e === thrown }`)).toBe(true);
    expect(page.run(`try { evaluate_from_rust_binary('throw-string'); 'no' } catch (e) { e }`)).toBe('plain');
    expect(page.run(`typeof window.evaluate_from_rust_binary`)).toBe('function');
    expect(page.run(`window.evaluate_from_rust_binary.name`)).toBe('');
    // replacing the function later records through the new one
    page.run(`window.evaluate_from_rust_binary = function named(d) { return 'second:' + d; }`);
    expect(page.run(`evaluate_from_rust_binary('${J1}')`)).toBe(`second:${J1}`);
    expect(page.run(`window.evaluate_from_rust_binary.name`)).toBe('named');
    expect(page.lines.filter((l) => l.includes('dir=r2j'))).toHaveLength(4); // 'throw' and 'throw-string' are recorded too
  });

  it('XHR results and exceptions are unchanged', () => {
    const boom = new Error('NetworkError');
    const page = makePage({ reply: (h) => (h === 'fail' ? { throws: boom } : { text: R1 }) });
    expect(
      page.run(`
        var a = new XMLHttpRequest();
        a.open('POST', '/__wbg__/handler', false);
        a.setRequestHeader('dioxus-data', '${J1}');
        var ret = a.send();
        [ret, a.responseText, a.status, a.readyState];
      `),
    ).toEqual([undefined, R1, 200, 4]);
    const caught = page.run(`
      var b = new XMLHttpRequest();
      b.open('POST', '/__wbg__/handler', false);
      b.setRequestHeader('dioxus-data', 'fail');
      try { b.send(); null } catch (e) { e }
    `);
    expect(caught).toBe(boom);
    // setRequestHeader before open throws as before
    expect(page.run(`try { new XMLHttpRequest().setRequestHeader('dioxus-data', 'x'); 'no' } catch (e) { e.message }`)).toBe('InvalidStateError');
    expect(page.lines.map((l) => l.replace(/ t=\d+/, ''))).toEqual([
      `@btrace side=js seq=1 dir=j2r data=${J1}`,
      `@btrace side=js seq=2 dir=r2j data=${R1}`,
      `@btrace side=js seq=3 dir=j2r data=fail`,
    ]);
  });

  it('a throwing sink breaks nothing; a sink set after injection is used for every line', () => {
    const page = makePage({ rev: 'reserved-count', reply: () => ({ text: R1 }) });
    page.run(`
      window.__btraceSink = function () { throw new Error('sink broken'); };
      window.evaluate_from_rust_binary = function (d) {
        var x = new XMLHttpRequest();
        x.open('POST', '/__wbg__/handler', false);
        x.setRequestHeader('dioxus-data', '${J1}');
        x.send();
        return x.responseText;
      };
    `);
    expect(page.run(`evaluate_from_rust_binary('${M1}')`)).toBe(R1);
    expect(page.run('__btraceRecorder.state.errors')).toBe(6); // 3 messages, each after a try of the meta line
    expect(page.run('__btraceRecorder.state.lastError')).toBe('sink broken');
    expect(page.lines).toEqual([]);
    page.run(`var got = []; window.__btraceSink = function (l) { got.push(l); };`);
    expect(page.run(`evaluate_from_rust_binary('${M1}')`)).toBe(R1);
    expect((page.run('got') as string[]).map((l) => l.replace(/ t=\d+/, ''))).toEqual([
      '@btrace meta rev=reserved-count side=js',
      `@btrace side=js seq=4 dir=r2j data=${M1}`,
      `@btrace side=js seq=5 dir=j2r data=${J1}`,
      `@btrace side=js seq=6 dir=r2j data=${R1}`,
    ]);
  });
});
