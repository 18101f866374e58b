/**
 * `JSON.stringify(value, null, 2)` in pieces, byte for byte the same: the big arrays of a
 * report (findings, sessions) are written element by element, so the whole document never
 * has to be one string in memory.
 */

/** Arrays this long or longer are written one element at a time; shorter values in one piece. */
const PIECEWISE = 64;

/**
 * An array given as its length and a one-pass iterable of its elements, written exactly as
 * the array itself would be, without the array ever being in memory (when it is long).
 */
export class JsonArrayStream {
  constructor(
    readonly length: number,
    readonly items: Iterable<unknown>,
  ) {}
}

/** A value made only when the writer reaches it (it may depend on what was written before). */
export class JsonLater {
  constructor(readonly make: () => unknown) {}
}

/** The pretty-printed JSON of `value` (2-space indent, as JSON.stringify gives it), in pieces. */
export function* jsonChunks(value: unknown): Generator<string> {
  yield* chunksAt(value, '');
}

/** A whole JSON document: the value's pieces and the final newline. */
export function* jsonDocument(value: unknown): Generator<string> {
  yield* chunksAt(value, '');
  yield '\n';
}

function* chunksAt(value: unknown, indent: string): Generator<string> {
  if (value instanceof JsonLater) {
    yield* chunksAt(value.make(), indent);
    return;
  }
  if (value instanceof JsonArrayStream) {
    if (value.length >= PIECEWISE) yield* elementChunks(value.items, indent);
    else yield* chunksAt([...value.items], indent);
    return;
  }
  if (Array.isArray(value) && value.length >= PIECEWISE) {
    yield* elementChunks(value, indent);
    return;
  }
  if (isPlainObject(value) && writtenInPieces(value)) {
    const inner = `${indent}  `;
    let first = true;
    yield '{';
    for (const key of Object.keys(value)) {
      const v = value[key];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
      yield `${first ? '' : ','}\n${inner}${JSON.stringify(key)}: `;
      first = false;
      yield* chunksAt(v, inner);
    }
    yield first ? '}' : `\n${indent}}`;
    return;
  }
  const text = JSON.stringify(value, null, 2);
  // A nested value's lines are indented by its depth; strings never hold a raw newline.
  yield indent === '' ? text : text.replaceAll('\n', `\n${indent}`);
}

function* elementChunks(items: Iterable<unknown>, indent: string): Generator<string> {
  const inner = `${indent}  `;
  let first = true;
  yield '[';
  // for..of gives a hole as undefined: JSON.stringify writes holes, undefined and functions in arrays as null.
  for (const v of items) {
    yield `${first ? '' : ','}\n${inner}`;
    first = false;
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') yield 'null';
    else yield* chunksAt(v, inner);
  }
  yield `\n${indent}]`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/** Whether an object is written key by key: it holds (directly) an array worth writing piecewise, or a value only the writer can make. */
function writtenInPieces(v: Record<string, unknown>): boolean {
  for (const key of Object.keys(v)) {
    const x = v[key];
    if ((Array.isArray(x) && x.length >= PIECEWISE) || x instanceof JsonArrayStream || x instanceof JsonLater) return true;
  }
  return false;
}
