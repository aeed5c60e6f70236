import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so equal values always give equal text.
 *
 * ```ts
 * canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }] }) // '{"a":[2,{"c":4,"d":3}],"b":1}'
 * ```
 *
 * Written directly for plain JSON data (what messages, tool arguments and audit payloads are),
 * with no sorted copy of the value made first; anything else (a class instance, a `toJSON`,
 * a function, a key like `"10"` that JSON orders first) takes the copying path. Both give the
 * same text for every value: digests journaled before stay equal.
 */
export function canonicalJson(value: unknown): string {
  return plainJson(value) ?? JSON.stringify(sortKeys(value));
}

/**
 * `value`'s canonical JSON, or `undefined` when it is not plain data. Built by concatenation:
 * a run writes it for every message it digests and every audit entry, and a list of parts
 * joined at the end allocated about twice as much.
 */
function plainJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return undefined;
        let text = '[';
        for (let index = 0; index < value.length; index++) {
          const item: unknown = value[index];
          const itemText = item === undefined ? 'null' : plainJson(item);
          if (itemText === undefined) return undefined;
          text += index > 0 ? `,${itemText}` : itemText;
        }
        return `${text}]`;
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return undefined;
      const source = value as Record<string, unknown>;
      let text = '{';
      let first = true;
      for (const key of sortedKeys(source)) {
        // JSON.stringify writes index-like keys first, and `__proto__` or `toJSON` change what
        // the copy would be: leave those to the copying path.
        if (key === '__proto__' || key === 'toJSON' || INDEX_LIKE.test(key)) return undefined;
        const item = source[key];
        if (item === undefined) continue;
        const itemText = plainJson(item);
        if (itemText === undefined) return undefined;
        text += `${first ? '' : ','}${JSON.stringify(key)}:${itemText}`;
        first = false;
      }
      return `${text}}`;
    }
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return undefined;
  }
}

/**
 * The object's keys in `Array#sort`'s order (UTF-16 code units). A few keys are sorted in
 * place, by insertion: `Array#sort` copies them into a workspace first.
 */
function sortedKeys(source: Record<string, unknown>): string[] {
  const keys = Object.keys(source);
  if (keys.length > 16) return keys.sort();
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index] as string;
    let at = index - 1;
    for (; at >= 0 && (keys[at] as string) > key; at--) keys[at + 1] = keys[at] as string;
    keys[at + 1] = key;
  }
  return keys;
}

const INDEX_LIKE = /^(?:0|[1-9][0-9]*)$/;

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
