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
  const parts: string[] = [];
  if (writePlain(value, parts)) return parts.join('');
  return JSON.stringify(sortKeys(value));
}

/** Appends `value`'s canonical JSON; false (with `parts` to be dropped) when it is not plain. */
function writePlain(value: unknown, parts: string[]): boolean {
  switch (typeof value) {
    case 'string':
      parts.push(JSON.stringify(value));
      return true;
    case 'number':
      if (!Number.isFinite(value)) return false;
      parts.push(JSON.stringify(value));
      return true;
    case 'boolean':
      parts.push(value ? 'true' : 'false');
      return true;
    case 'object': {
      if (value === null) {
        parts.push('null');
        return true;
      }
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false;
        parts.push('[');
        for (let index = 0; index < value.length; index++) {
          if (index > 0) parts.push(',');
          const item: unknown = value[index];
          if (item === undefined) parts.push('null');
          else if (!writePlain(item, parts)) return false;
        }
        parts.push(']');
        return true;
      }
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      const source = value as Record<string, unknown>;
      const keys = Object.keys(source).sort();
      parts.push('{');
      let first = true;
      for (const key of keys) {
        // JSON.stringify writes index-like keys first, and `__proto__` or `toJSON` change what
        // the copy would be: leave those to the copying path.
        if (key === '__proto__' || key === 'toJSON' || INDEX_LIKE.test(key)) return false;
        const item = source[key];
        if (item === undefined) continue;
        if (!first) parts.push(',');
        first = false;
        parts.push(JSON.stringify(key), ':');
        if (!writePlain(item, parts)) return false;
      }
      parts.push('}');
      return true;
    }
    case 'undefined':
    case 'function':
    case 'symbol':
    case 'bigint':
      return false;
  }
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
