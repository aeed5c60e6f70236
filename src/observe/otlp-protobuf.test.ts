import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTraceRequest } from '../testing/index.js';
import { encodeTraceRequest, type AttributeValue, type TraceSpan } from './index.js';

const hex = (length: number) =>
  fc
    .array(fc.integer({ min: 0, max: 15 }), { minLength: length, maxLength: length })
    .map((digits) => digits.map((digit) => digit.toString(16)).join(''));

const attributeValue: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.boolean(),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((value) => !Number.isInteger(value)),
  fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }),
);

const span: fc.Arbitrary<TraceSpan> = fc.record({
  traceId: hex(32),
  spanId: hex(16),
  parentSpanId: fc.option(hex(16), { nil: undefined }),
  name: fc.string({ unit: 'grapheme', maxLength: 200 }),
  kind: fc.constantFrom('internal' as const, 'client' as const),
  startMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  endMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 30 }), attributeValue, {
    maxKeys: 12,
  }),
  events: fc.array(
    fc.record({
      name: fc.string({ maxLength: 30 }),
      timeMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
      attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }), attributeValue, {
        maxKeys: 4,
      }),
    }),
    { maxLength: 3 },
  ),
  links: fc.constant([]),
  status: fc.oneof(
    fc.constant({ code: 'unset' as const }),
    fc.record({ code: fc.constant('error' as const), message: fc.string({ maxLength: 50 }) }),
  ),
});

describe('encodeTraceRequest', () => {
  it('encodes any spans so that an OTLP decoder reads back the same values', () => {
    const resource = { attributes: {}, scopeName: 'keel', scopeVersion: '1', schemaUrl: '' };
    fc.assert(
      fc.property(fc.array(span, { maxLength: 6 }), (spans) => {
        const decoded = decodeTraceRequest(Buffer.from(encodeTraceRequest(spans, resource)));
        expect(decoded).toHaveLength(spans.length);
        decoded.forEach((received, index) => {
          const sent = spans[index];
          if (!sent) throw new Error('missing span');
          expect(received.traceId).toBe(sent.traceId);
          expect(received.spanId).toBe(sent.spanId);
          expect(received.parentSpanId).toBe(sent.parentSpanId ?? '');
          expect(received.name).toBe(sent.name);
          expect(received.startTimeUnixNano).toBe(BigInt(sent.startMs) * 1_000_000n);
          expect(received.attributes).toEqual(sent.attributes);
          expect(received.events.map((event) => [event.name, event.attributes])).toEqual(
            sent.events.map((event) => [event.name, event.attributes]),
          );
          expect(received.status).toEqual(
            sent.status.code === 'error'
              ? { code: 2, message: sent.status.message }
              : { code: 0, message: '' },
          );
        });
      }),
      {
        numRuns: 200,
        // Found by this property: a key spelled `__proto__` is data, not a prototype.
        examples: [
          [
            [
              {
                traceId: '0'.repeat(32),
                spanId: '0'.repeat(16),
                parentSpanId: undefined,
                name: '',
                kind: 'internal',
                startMs: 0,
                endMs: 0,
                attributes: JSON.parse('{"__proto__": ["x"]}') as Record<string, string[]>,
                events: [],
                links: [],
                status: { code: 'unset' },
              },
            ],
          ],
        ],
      },
    );
  });
});
