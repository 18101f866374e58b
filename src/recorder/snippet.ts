/**
 * The JS-side recorder: a dependency-free script to inject into the webview as its
 * initialization script (wry `with_initialization_script`, Playwright `addInitScript`).
 * It wraps the bridge's two entry points and prints one `@btrace side=js` line per
 * message (docs/recording.md, docs/trace-lines.md):
 *
 * - `window.evaluate_from_rust_binary(b64)`: an R→J message delivered by script, recorded
 *   when the call starts (before the app runs it);
 * - `XMLHttpRequest` to the handler (`…/__wbg__/handler`, `wry://handler…`, or any request
 *   with a `dioxus-data` header): the header's J→R message recorded just before `send`,
 *   the reply (base64 text, or raw bytes as an `arraybuffer`) just after it returns; a
 *   blank reply is not a message.
 *
 * The wrappers change nothing the app can observe apart from the identity of the wrapped
 * function: same arguments, return values and exceptions, same order. Recording runs in
 * its own try/catch; a failing sink is ignored.
 */

/** A `rev` or `ctx` value that cannot go into an `@btrace` line. */
export class RecorderOptionError extends Error {
  override readonly name: string = 'RecorderOptionError';
}

export interface RecorderOptions {
  /** Protocol revision written into the meta line (`@btrace meta rev=… side=js`). Without it no meta line is written. */
  rev?: string;
  /** Session label written into every line. */
  ctx?: string;
}

/** Same limit as the trace reader (docs/trace-lines.md §5). */
const MAX_LABEL_BYTES = 4096;

function checkLabel(name: 'rev' | 'ctx', value: string | undefined): void {
  if (value === undefined) return;
  if (value === '') throw new RecorderOptionError(`--${name} must not be empty`);
  // eslint-disable-next-line no-control-regex
  const bad = /[\s"'`\\\u0000-\u001f\u007f]/.exec(value);
  if (bad) {
    const what = bad[0] === ' ' ? 'a space' : /["'`]/.test(bad[0]) ? `a quote (${bad[0]})` : bad[0] === '\\' ? 'a backslash' : 'a control or whitespace character';
    throw new RecorderOptionError(`--${name} "${value.slice(0, 40)}" contains ${what}; @btrace field values are single words`);
  }
  if (new TextEncoder().encode(value).length > MAX_LABEL_BYTES) throw new RecorderOptionError(`--${name} is longer than ${MAX_LABEL_BYTES} UTF-8 bytes`);
}

/** A JS string literal safe inside a `<script>` element and in ES2017 source. */
function literal(value: string | undefined): string {
  if (value === undefined) return 'null';
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The recorder's source. Plain ES2017, no imports; safe to inject more than once (the
 * second copy does nothing). Throws RecorderOptionError for a `rev`/`ctx` with spaces,
 * quotes, backslashes or control characters.
 */
export function recorderSnippet(options: RecorderOptions = {}): string {
  checkLabel('rev', options.rev);
  checkLabel('ctx', options.ctx);
  return SNIPPET.replace('__BTRACE_REV__', literal(options.rev)).replace('__BTRACE_CTX__', literal(options.ctx));
}

const SNIPPET = `/* bridge-trace recorder: prints one "@btrace side=js" line per wry-bindgen bridge message. See docs/recording.md. */
(function () {
  'use strict';
  var REV = __BTRACE_REV__;
  var CTX = __BTRACE_CTX__;
  var g = typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : self;
  if (!g || g.__btraceRecorder) return;
  var ENTRY = 'evaluate_from_rust_binary';
  var HEADER = 'dioxus-data';
  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var perf = g.performance;
  var seq = 0;
  var lastT = 0;
  var metaWritten = false;
  var state = { seq: 0, errors: 0, lastError: null };

  function now() {
    try { if (perf && typeof perf.now === 'function') return perf.now(); } catch (e) { /* fall back */ }
    return Date.now();
  }
  var t0 = now();

  function fail(e) {
    state.errors++;
    try { state.lastError = String(e && e.message || e); } catch (e2) { state.lastError = 'unknown'; }
  }

  /** Prints one line through the sink, or console.log; false if that failed. */
  function output(line) {
    try {
      var sink = g.__btraceSink;
      if (typeof sink === 'function') {
        sink(line);
        return true;
      }
      var c = g.console;
      if (c && typeof c.log === 'function') {
        c.log(line);
        return true;
      }
    } catch (e) {
      fail(e);
    }
    return false;
  }

  function bytesToBase64(bytes) {
    var out = '';
    var n = bytes.length;
    var i = 0;
    for (; i + 2 < n; i += 3) {
      var v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
      out += B64.charAt(v >> 18) + B64.charAt((v >> 12) & 63) + B64.charAt((v >> 6) & 63) + B64.charAt(v & 63);
    }
    if (n - i === 1) {
      var a = bytes[i] << 16;
      out += B64.charAt(a >> 18) + B64.charAt((a >> 12) & 63) + '==';
    } else if (n - i === 2) {
      var b = (bytes[i] << 16) | (bytes[i + 1] << 8);
      out += B64.charAt(b >> 18) + B64.charAt((b >> 12) & 63) + B64.charAt((b >> 6) & 63) + '=';
    }
    return out;
  }

  /** The message as base64: a string is taken as written; bytes are encoded. Null for no message. */
  function asBase64(data) {
    if (data === null || data === undefined) return null;
    if (typeof data === 'string') return data.length > 0 ? data : null;
    if (typeof ArrayBuffer !== 'undefined') {
      if (data instanceof ArrayBuffer) return data.byteLength > 0 ? bytesToBase64(new Uint8Array(data)) : null;
      if (ArrayBuffer.isView(data)) return data.byteLength > 0 ? bytesToBase64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) : null;
    }
    return null;
  }

  function record(dir, data) {
    try {
      var b64 = asBase64(data);
      if (b64 === null) return;
      var ctx = CTX === null ? '' : ' ctx=' + CTX;
      // The meta line goes out before the first message line that reaches a working sink.
      if (!metaWritten) metaWritten = REV === null || output('@btrace meta rev=' + REV + ' side=js' + ctx);
      var t = Math.floor((now() - t0) * 1000);
      if (!(t >= lastT)) t = lastT;
      lastT = t;
      seq++;
      state.seq = seq;
      output('@btrace side=js seq=' + seq + ' t=' + t + ctx + ' dir=' + dir + ' data=' + b64);
    } catch (e) {
      fail(e);
    }
  }

  // ---- Rust -> JS by script: window.evaluate_from_rust_binary(b64) ----
  var wrappers = typeof WeakMap !== 'undefined' ? new WeakMap() : null;
  var wrapped = typeof WeakSet !== 'undefined' ? new WeakSet() : null;

  function wrapEntry(fn) {
    if (typeof fn !== 'function' || !wrappers || !wrapped) return fn;
    if (wrapped.has(fn)) return fn;
    var w = wrappers.get(fn);
    if (w) return w;
    w = function () {
      record('r2j', arguments[0]);
      return fn.apply(this, arguments);
    };
    try { Object.defineProperty(w, 'name', { value: fn.name, configurable: true }); } catch (e) { /* cosmetic */ }
    try { Object.defineProperty(w, 'length', { value: fn.length, configurable: true }); } catch (e) { /* cosmetic */ }
    wrappers.set(fn, w);
    wrapped.add(w);
    return w;
  }

  function installEntry() {
    try {
      var d = Object.getOwnPropertyDescriptor(g, ENTRY);
      if (d && (d.get || d.set)) return; // our accessor (or someone else's): leave it
      if (d && !d.configurable) {
        // a global function declaration: writable but not configurable
        if (d.writable && typeof d.value === 'function' && !(wrapped && wrapped.has(d.value))) g[ENTRY] = wrapEntry(d.value);
        return;
      }
      var current = d ? d.value : undefined;
      Object.defineProperty(g, ENTRY, {
        configurable: true,
        enumerable: d ? d.enumerable : true,
        get: function () { return wrapEntry(current); },
        set: function (v) { current = v; },
      });
    } catch (e) {
      fail(e);
    }
  }
  installEntry();
  // A page script declaring "function evaluate_from_rust_binary" replaces the accessor with a
  // plain property: wrap that one as soon as we get control again.
  try {
    if (typeof g.addEventListener === 'function') {
      g.addEventListener('DOMContentLoaded', installEntry, true);
      g.addEventListener('load', installEntry, true);
    }
  } catch (e) {
    fail(e);
  }

  // ---- JS -> Rust over XHR, and the replies ----
  var X = g.XMLHttpRequest;
  if (typeof X === 'function' && X.prototype && wrappers) {
    var P = X.prototype;
    var open = P.open;
    var setRequestHeader = P.setRequestHeader;
    var send = P.send;
    var info = new WeakMap();

    var isHandlerUrl = function (url) {
      var s = String(url);
      var path = s.split('#')[0].split('?')[0];
      return /\\/__wbg__\\/handler$/.test(path) || /^wry:\\/\\/handler/i.test(s);
    };

    var readReply = function (xhr) {
      var type = xhr.responseType;
      if (type === '' || type === 'text') return xhr.responseText;
      if (type === 'arraybuffer') return xhr.response;
      return null;
    };

    if (typeof open === 'function') {
      P.open = function (method, url) {
        var result = open.apply(this, arguments);
        try {
          var async = arguments.length < 3 || !!arguments[2];
          var xhr = this;
          var entry = { handler: isHandlerUrl(url), async: async, header: null, listening: false };
          info.set(xhr, entry);
          if (async && !entry.listening && typeof xhr.addEventListener === 'function') {
            entry.listening = true;
            xhr.addEventListener('readystatechange', function () {
              try {
                var e = info.get(xhr);
                if (e && e.sent && xhr.readyState === 4) {
                  e.sent = false;
                  record('r2j', readReply(xhr));
                }
              } catch (err) { fail(err); }
            });
          }
        } catch (e) {
          fail(e);
        }
        return result;
      };
    }

    if (typeof setRequestHeader === 'function') {
      P.setRequestHeader = function (name, value) {
        var result = setRequestHeader.apply(this, arguments);
        try {
          if (String(name).toLowerCase() === HEADER) {
            var e = info.get(this);
            if (e) e.header = e.header === null ? String(value) : e.header + ', ' + String(value);
          }
        } catch (err) {
          fail(err);
        }
        return result;
      };
    }

    if (typeof send === 'function') {
      P.send = function () {
        var e = null;
        try {
          installEntry();
          e = info.get(this) || null;
          if (e && (e.handler || e.header !== null) && this.readyState === 1) {
            record('j2r', e.header);
            e.sent = true;
            if (e.async) e = null;
          } else {
            e = null;
          }
        } catch (err) {
          fail(err);
          e = null;
        }
        var result = send.apply(this, arguments);
        if (e) {
          try {
            e.sent = false;
            record('r2j', readReply(this));
          } catch (err) {
            fail(err);
          }
        }
        return result;
      };
    }
  }

  try {
    Object.defineProperty(g, '__btraceRecorder', {
      configurable: true,
      enumerable: false,
      value: { version: 1, rev: REV, ctx: CTX, state: state },
    });
  } catch (e) {
    fail(e);
  }
})();
`;
