/**
 * Loads the user's own JS heap implementation (the `heap.ts` of the bridge being
 * debugged, or a built `.js` that contains it) so the JS model can drive it in place of
 * the built-in model. The source is transpiled to CommonJS with the `typescript`
 * package's `transpileModule` and evaluated in a fresh `node:vm` context.
 *
 * The file must provide one of (checked in this order):
 *  - a named export `JSHeap` (a class; `new JSHeap()` is called once per session),
 *  - a named export `createHeap` (a function returning a heap),
 *  - a default export that is a class or such a function,
 *  - or, for a built bundle, a `window.jsHeap` instance (its constructor is reused).
 * The heap object must have the methods the trace's revision uses (`RealHeap` in
 * heap.ts; docs/findings.md "Driving your own heap").
 */
import { readFile } from 'node:fs/promises';
import * as vm from 'node:vm';
import type { RealHeap } from './heap.js';

export class JsHeapLoadError extends Error {
  override readonly name = 'JsHeapLoadError';
}

type Factory = () => RealHeap;

export async function loadJsHeap(path: string): Promise<Factory> {
  let source: string;
  try {
    source = await readFile(path, 'utf8');
  } catch (e) {
    throw new JsHeapLoadError(`cannot read the JS heap file ${path}: ${(e as Error).message}`);
  }
  return compileJsHeap(source, path);
}

export async function compileJsHeap(source: string, path: string): Promise<Factory> {
  let ts: typeof import('typescript');
  try {
    ts = (await import('typescript')).default ?? (await import('typescript'));
  } catch {
    throw new JsHeapLoadError(`loading ${path} needs the "typescript" package (npm install typescript)`);
  }
  const out = ts.transpileModule(source, {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true, allowJs: true },
  });
  const syntax = out.diagnostics?.filter((d) => d.category === ts.DiagnosticCategory.Error) ?? [];
  if (syntax.length > 0) {
    const d = syntax[0]!;
    throw new JsHeapLoadError(`${path}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  }
  const module = { exports: {} as Record<string, unknown> };
  const window: Record<string, unknown> = {};
  const sandbox: Record<string, unknown> = {
    module,
    exports: module.exports,
    window,
    console: { log() {}, warn() {}, error() {}, info() {}, debug() {} },
    require: (name: string) => {
      throw new JsHeapLoadError(`${path} requires "${name}": the heap file must be self-contained`);
    },
  };
  sandbox.globalThis = sandbox;
  sandbox.self = sandbox;
  const context = vm.createContext(sandbox);
  try {
    vm.runInContext(out.outputText, context, { filename: path, timeout: 5000 });
  } catch (e) {
    if (e instanceof JsHeapLoadError) throw e;
    throw new JsHeapLoadError(`${path} threw while loading: ${(e as Error).message}`);
  }
  const exp = module.exports;
  const candidates: Array<[string, unknown]> = [
    ['JSHeap', exp.JSHeap],
    ['createHeap', exp.createHeap],
    ['default', exp.default],
  ];
  for (const [name, value] of candidates) {
    if (typeof value !== 'function') continue;
    const make = value as (new () => unknown) & (() => unknown);
    const factory: Factory = () => {
      let heap: unknown;
      try {
        heap = isClass(make) || name === 'JSHeap' ? new make() : make();
      } catch (e) {
        throw new JsHeapLoadError(`${path}: ${name} failed: ${(e as Error).message}`);
      }
      return check(heap, path, name);
    };
    check(factory(), path, name);
    return factory;
  }
  const instance = window.jsHeap;
  if (typeof instance === 'object' && instance !== null) {
    const ctor = (instance as { constructor?: new () => unknown }).constructor;
    if (typeof ctor === 'function') {
      const factory: Factory = () => check(new ctor(), path, 'window.jsHeap');
      check(factory(), path, 'window.jsHeap');
      return factory;
    }
  }
  throw new JsHeapLoadError(`${path} exports no JSHeap class, createHeap function or default export, and sets no window.jsHeap`);
}

function isClass(f: unknown): boolean {
  return typeof f === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(f));
}

function check(heap: unknown, path: string, name: string): RealHeap {
  if (typeof heap !== 'object' || heap === null) throw new JsHeapLoadError(`${path}: ${name} did not produce an object`);
  const h = heap as Record<string, unknown>;
  const missing = ['get', 'remove', 'addBorrowedRef', 'pushBorrowFrame', 'popBorrowFrame'].filter((m) => typeof h[m] !== 'function');
  if (missing.length > 0) throw new JsHeapLoadError(`${path}: the heap from ${name} lacks ${missing.map((m) => `${m}()`).join(', ')}`);
  return heap as RealHeap;
}
