/**
 * `JSON.stringify(value, null, 2)` in pieces, byte for byte the same: the big arrays of a
 * report (findings, sessions) are written element by element, so the whole document never
 * has to be one string in memory.
 */

/** Arrays this long or longer are written one element at a time; shorter values in one piece. */
const PIECEWISE = 64;

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
  if (Array.isArray(value) && value.length >= PIECEWISE) {
    const inner = `${indent}  `;
    yield '[';
    for (let i = 0; i < value.length; i++) {
      yield `${i === 0 ? '' : ','}\n${inner}`;
      // JSON.stringify writes holes, undefined and functions in arrays as null.
      const v: unknown = value[i];
      if (v === undefined || typeof v === 'function' || typeof v === 'symbol') yield 'null';
      else yield* chunksAt(v, inner);
    }
    yield `\n${indent}]`;
    return;
  }
  if (isPlainObject(value) && hasBigArray(value)) {
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

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/** Whether an object holds (directly) an array worth writing piecewise. */
function hasBigArray(v: Record<string, unknown>): boolean {
  for (const key of Object.keys(v)) {
    const x = v[key];
    if (Array.isArray(x) && x.length >= PIECEWISE) return true;
  }
  return false;
}
