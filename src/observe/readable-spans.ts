import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes as OtelAttributes,
  type HrTime,
  type SpanContext,
} from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { GEN_AI_SCHEMA_URL, GEN_AI_SEMCONV_VERSION } from './semconv.js';
import type { Attributes, TraceSpan } from './trace-span.js';

/*
 * Loaded with OpenTelemetry's exporters, when a process first exports (see `otlpTransport`):
 * importing Keel loads nothing of OpenTelemetry's.
 */

/** Keel's spans are all recorded. */
const SAMPLED = TraceFlags.SAMPLED;
const KINDS: Record<TraceSpan['kind'], SpanKind> = {
  internal: SpanKind.INTERNAL,
  client: SpanKind.CLIENT,
};
const STATUS_CODES: Record<TraceSpan['status']['code'], SpanStatusCode> = {
  unset: SpanStatusCode.UNSET,
  ok: SpanStatusCode.OK,
  error: SpanStatusCode.ERROR,
};

/** The instrumentation scope every Keel span is reported under. */
export const KEEL_SCOPE = Object.freeze({
  name: 'keel',
  version: GEN_AI_SEMCONV_VERSION,
  schemaUrl: GEN_AI_SCHEMA_URL,
});

/**
 * Journal-derived spans as the OpenTelemetry SDK's `ReadableSpan`, for its exporters: the
 * same trace and span ids (derived from the run, so a trace exported live and one rebuilt
 * later stay one trace), times as `HrTime`, every span ended and sampled.
 *
 * ```ts
 * exporter.export(readableSpans(spansFromJournal(runId, entries), resource), done);
 * ```
 */
export function readableSpans(spans: readonly TraceSpan[], resource: Resource): ReadableSpan[] {
  return spans.map((span) => {
    const context: SpanContext = {
      traceId: span.traceId,
      spanId: span.spanId,
      traceFlags: SAMPLED,
    };
    const readable: ReadableSpan = {
      name: span.name,
      kind: KINDS[span.kind],
      spanContext: () => context,
      ...(span.parentSpanId === undefined
        ? {}
        : {
            parentSpanContext: {
              traceId: span.traceId,
              spanId: span.parentSpanId,
              traceFlags: SAMPLED,
            },
          }),
      startTime: hrTime(span.startMs),
      endTime: hrTime(span.endMs),
      duration: hrTime(span.endMs - span.startMs),
      status:
        span.status.message === undefined
          ? { code: STATUS_CODES[span.status.code] }
          : { code: STATUS_CODES[span.status.code], message: span.status.message },
      attributes: otelAttributes(span.attributes),
      links: span.links.map((link) => ({
        context: { traceId: link.traceId, spanId: link.spanId, traceFlags: SAMPLED },
        attributes: otelAttributes(link.attributes),
      })),
      events: span.events.map((event) => ({
        name: event.name,
        time: hrTime(event.timeMs),
        attributes: otelAttributes(event.attributes),
      })),
      ended: true,
      resource,
      instrumentationScope: KEEL_SCOPE,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
    return readable;
  });
}

/** Milliseconds since the epoch (fractions kept to the nanosecond) as `[seconds, nanos]`. */
function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/** Keel's attributes are primitives and string lists already; the SDK's type wants them mutable. */
function otelAttributes(attributes: Attributes): OtelAttributes {
  return attributes as OtelAttributes;
}
