import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so equal values always give equal text.
 *
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }) // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 *
 * For plain JSON data (what messages, tool arguments and audit payloads are) only the objects
 * whose keys are out of order are copied, and `JSON.stringify` writes the text; anything else
 * (a class instance, a `toJSON`, a function, a key like `"10"` that JSON orders first) takes
 * the path that sorts a copy of everything. Both give the same text for every value: digests
 * journaled before stay equal.
 */
export function canonicalJson(value: unknown): string {
  const copy = inOrder(value);
  return JSON.stringify(copy === NOT_PLAIN ? sortKeys(value) : copy);
}

/** What `inOrder` answers for a value that is not plain data. */
const NOT_PLAIN: unique symbol = Symbol('not plain data');

/**
 * `value` with its object keys in order at every depth, for `JSON.stringify` to write: the
 * same value where they already are (Keel's own records are built in order), a copy of only
 * the objects and arrays that are not (or hold one that is not); `NOT_PLAIN` for anything that
 * is not plain JSON data. Native `JSON.stringify` of the result is several times faster than
 * writing the text here, and nothing in order is copied.
 */
function inOrder(value: unknown): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : NOT_PLAIN;
    case 'object':
      if (value === null) return value;
      return Array.isArray(value) ? arrayInOrder(value) : objectInOrder(value);
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return NOT_PLAIN;
  }
}

function arrayInOrder(value: unknown[]): unknown {
  // An own `toJSON` (even one not enumerable) would be called by JSON.stringify: a copy has none.
  if (Object.getPrototypeOf(value) !== Array.prototype || Object.hasOwn(value, 'toJSON'))
    return NOT_PLAIN;
  let copy: unknown[] | undefined;
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index];
    // `undefined` is written `null` either way.
    const ordered = item === undefined ? item : inOrder(item);
    if (ordered === NOT_PLAIN) return NOT_PLAIN;
    if (ordered === item && copy === undefined) continue;
    if (copy === undefined) {
      // By hand: `slice` would honour an own `constructor`.
      copy = [];
      for (let before = 0; before < index; before++) copy.push(value[before]);
    }
    copy.push(ordered);
  }
  return copy ?? value;
}

function objectInOrder(value: object): unknown {
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  // An own `toJSON` (enumerable or not) would be called by JSON.stringify: a copy has none.
  if (Object.hasOwn(value, 'toJSON')) return NOT_PLAIN;
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  let sorted = true;
  for (let index = 1; index < keys.length && sorted; index++)
    sorted = (keys[index - 1] as string) < (keys[index] as string);
  if (!sorted) sortInPlace(keys);
  // Built from the first member that differs on (at once when the keys are out of order).
  let copy: Record<string, unknown> | undefined = sorted ? undefined : {};
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    // JSON.stringify writes index-like keys first, and a `__proto__` key changes what a copy
    // would be: leave those to the copying path.
    if (key === '__proto__' || indexLike(key)) return NOT_PLAIN;
    const item = source[key];
    if (item === undefined) continue;
    const ordered = inOrder(item);
    if (ordered === NOT_PLAIN) return NOT_PLAIN;
    if (copy === undefined) {
      if (ordered === item) continue;
      copy = {};
      for (let before = 0; before < index; before++) {
        const beforeKey = keys[before] as string;
        if (source[beforeKey] !== undefined) copy[beforeKey] = source[beforeKey];
      }
    }
    copy[key] = ordered;
  }
  return copy ?? value;
}

/**
 * Sorts keys in `Array#sort`'s order (UTF-16 code units). A few keys are sorted by insertion:
 * `Array#sort` copies them into a workspace first.
 */
function sortInPlace(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string;
    let at = index - 1;
    for (; at >= 0 && (keys[at] as string) > key; at--) keys[at + 1] = keys[at] as string;
    keys[at + 1] = key;
  }
}

const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

/** A key JSON.stringify writes before the others (a digit first is rare: test only then). */
function indexLike(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 48 && first <= 57 && INDEX_LIKE.test(key);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const source = value as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(source).sort()) {
      if (source[key] !== undefined) sorted[key] = sortKeys(source[key]);
    }
    return sorted;
  }
  return value;
}

/** The copying canonical JSON `canonicalJson` must always agree with (for its tests). */
export function copyingCanonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** A short, stable SHA-256 hex digest of a string (first 32 hex characters). */
export function digest(text: string): string {
  // The one-shot hash (Node 20.12+) makes no Hash object: half the cost for short texts.
  return hash('sha256', text, 'hex').slice(0, 32);
}
