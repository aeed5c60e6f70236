import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJsonTraceRequest, decodeTraceRequest, type ReceivedSpan } from '../testing/index.js';
import { journal } from './__tests__/journal-fixture.js';
import { readableSpans } from './readable-spans.js';
import {
  GEN_AI_SCHEMA_URL,
  GEN_AI_SEMCONV_VERSION,
  spansFromJournal,
  type AttributeValue,
  type JournalEntry,
  type TraceSpan,
} from './index.js';

/*
 * Journal-derived spans handed to OpenTelemetry's serializers (the ones its OTLP exporters
 * use) come out as the same spans: ids, times, attributes, events, links and status, over both
 * OTLP encodings, as the test receiver decodes them.
 */

const resource = resourceFromAttributes({ 'service.name': 'keel' });
const ENCODINGS = [
  {
    name: 'protobuf',
    decode: (spans: readonly TraceSpan[]) =>
      decodeTraceRequest(
        Buffer.from(ProtobufTraceSerializer.serializeRequest(readableSpans(spans, resource)) ?? []),
      ),
  },
  {
    name: 'json',
    decode: (spans: readonly TraceSpan[]) =>
      decodeJsonTraceRequest(
        Buffer.from(JsonTraceSerializer.serializeRequest(readableSpans(spans, resource)) ?? []),
      ),
  },
];

function expectSame(received: ReceivedSpan, sent: TraceSpan): void {
  expect({
    traceId: received.traceId,
    spanId: received.spanId,
    parentSpanId: received.parentSpanId,
    name: received.name,
    kind: received.kind,
    start: received.startTimeUnixNano,
    end: received.endTimeUnixNano,
    attributes: received.attributes,
    events: received.events.map((event) => [event.name, event.timeUnixNano, event.attributes]),
    links: received.links,
    status: received.status,
  }).toEqual({
    traceId: sent.traceId,
    spanId: sent.spanId,
    parentSpanId: sent.parentSpanId ?? '',
    name: sent.name,
    kind: sent.kind === 'client' ? 3 : 1,
    start: BigInt(sent.startMs) * 1_000_000n,
    end: BigInt(sent.endMs) * 1_000_000n,
    attributes: sent.attributes,
    events: sent.events.map((event) => [
      event.name,
      BigInt(event.timeMs) * 1_000_000n,
      event.attributes,
    ]),
    links: sent.links,
    status: {
      code: { unset: 0, ok: 1, error: 2 }[sent.status.code],
      message: sent.status.message ?? '',
    },
  });
}

/** The span tests' journal, forked from another run (a link), one call lasting 30.25 ms. */
function forkedJournal(): JournalEntry[] {
  return journal().map((entry, index) => {
    if (index === 0)
      return { ...entry, event: { ...entry.event, forkOf: { runId: 'run_0', step: 1 } } };
    if (entry.event.type === 'model_called' && entry.event.step === 1) {
      return { ...entry, event: { ...entry.event, latencyMs: 30.25 } };
    }
    return entry;
  });
}

describe.each(ENCODINGS)('readableSpans through OpenTelemetry $name', ({ decode }) => {
  it('keeps a run’s spans whole: ids, fractional times, content, links, status', () => {
    const spans = spansFromJournal('run_1', forkedJournal(), { captureContent: true }).map(
      (span, index) =>
        index === 0
          ? {
              ...span,
              attributes: { ...span.attributes, 'test.long': 'é'.repeat(10_000), 'test.n': -42 },
            }
          : span,
    );
    const decoded = decode(spans);
    expect(decoded).toHaveLength(spans.length);
    let fractional = 0;
    decoded.forEach((received, index) => {
      const sent = spans[index] as TraceSpan;
      // The call of 30.25 ms starts at a fractional millisecond (commit time minus latency).
      if (!Number.isInteger(sent.startMs)) {
        fractional += 1;
        const whole = Math.floor(sent.startMs);
        expect(received.startTimeUnixNano).toBe(
          BigInt(whole) * 1_000_000n + BigInt(Math.round((sent.startMs - whole) * 1e6)),
        );
        return;
      }
      expectSame(received, sent);
      expect(received.scope).toEqual({
        name: 'keel',
        version: GEN_AI_SEMCONV_VERSION,
        schemaUrl: GEN_AI_SCHEMA_URL,
      });
      expect(received.resource).toEqual({ 'service.name': 'keel' });
    });
    expect(fractional).toBe(1);
  });

  it('encodes any spans so that an OTLP decoder reads back the same values', () => {
    fc.assert(
      fc.property(fc.array(span, { maxLength: 6 }), (spans) => {
        const decoded = decode(spans);
        expect(decoded).toHaveLength(spans.length);
        decoded.forEach((received, index) => {
          expectSame(received, spans[index] as TraceSpan);
        });
      }),
      {
        numRuns: 100,
        // A key spelled `__proto__` is data, not a prototype.
        examples: [
          [
            [
              {
                traceId: '0'.repeat(31) + '1',
                spanId: '0'.repeat(15) + '1',
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

const hex = (length: number) =>
  fc
    .array(fc.integer({ min: 0, max: 15 }), { minLength: length, maxLength: length })
    .map((digits) => digits.map((digit) => digit.toString(16)).join(''))
    // An all-zero id is invalid in OTLP; Keel never makes one.
    .filter((id) => /[^0]/.test(id));

const attributeValue: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.string({ maxLength: 300 }),
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
  links: fc.array(fc.record({ traceId: hex(32), spanId: hex(16), attributes: fc.constant({}) }), {
    maxLength: 2,
  }),
  status: fc.oneof(
    fc.constant({ code: 'unset' as const }),
    fc.record({ code: fc.constant('error' as const), message: fc.string({ maxLength: 50 }) }),
  ),
});
