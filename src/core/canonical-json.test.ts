import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, copyingCanonicalJson, digest } from './canonical-json.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }], u: undefined })).toBe(
      '{"a":[2,{"c":4,"d":3}],"b":1}',
    );
    expect(canonicalJson([undefined, 'x'])).toBe('[null,"x"]');
  });

  it('writes what the copying path writes for any value (digests journaled before stay equal)', () => {
    fc.assert(
      fc.property(
        fc.anything({ withDate: true, withMap: true, withNullPrototype: true }),
        (value) => {
          expect(canonicalJson(value)).toBe(copyingCanonicalJson(value));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('orders few keys and many keys as the copying path does', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { maxKeys: 40 }),
        (value) => {
          expect(canonicalJson(value)).toBe(copyingCanonicalJson(value));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('writes values already in order, and parts out of order inside them, as the copying path does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (value, other) => {
        // Keys in order at every depth (as Keel builds its records), around parts that are not.
        const inOrder = JSON.parse(copyingCanonicalJson(value)) as unknown;
        for (const mixed of [
          inOrder,
          { a: inOrder, b: other, c: inOrder, d: undefined },
          { a: undefined, b: inOrder, c: other },
          [inOrder, other, undefined, inOrder],
          { a: [inOrder, { z: other, y: 1 }], b: { c: inOrder } },
        ])
          expect(canonicalJson(mixed)).toBe(copyingCanonicalJson(mixed));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees with the copying path on the values only it handles', () => {
    const cases: unknown[] = [
      { 10: 'a', 9: 'b', x: 1 },
      { when: new Date(0) },
      { toJSON: () => 'replaced', a: 1 },
      JSON.parse('{"__proto__": {"a": 1}, "b": 2}'),
      { f: () => 1, n: Number.NaN, i: -Infinity, z: -0 },
      [Symbol('s'), () => 1],
      new Map([['a', 1]]),
    ];
    // A `toJSON` JSON.stringify would call on the value itself: own, and not enumerable.
    const arrayWithToJson = Object.assign([1, 2], { toJSON: () => 'replaced' });
    const hidden = { a: 1 };
    Object.defineProperty(hidden, 'toJSON', { value: () => 'replaced', enumerable: false });
    const withConstructor = Object.assign([{ b: 1, a: 2 }], { constructor: Object });
    cases.push(arrayWithToJson, [arrayWithToJson], { m: hidden }, hidden, withConstructor);
    for (const value of cases) expect(canonicalJson(value)).toBe(copyingCanonicalJson(value));
    expect(canonicalJson(undefined)).toBeUndefined();
  });
});

describe('digest', () => {
  it('is the first 32 hex characters of the text SHA-256', () => {
    for (const text of ['', 'a', 'é', 'x'.repeat(10_000)]) {
      expect(digest(text)).toBe(createHash('sha256').update(text).digest('hex').slice(0, 32));
    }
  });
});
