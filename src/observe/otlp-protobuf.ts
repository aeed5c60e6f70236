import { DOUBLE_ATTRIBUTES } from './semconv.js';
import type { AttributeValue, Attributes, SpanKind, TraceSpan } from './trace-span.js';

/** What an export names besides its spans. */
export interface OtlpResource {
  readonly attributes: Attributes;
  readonly scopeName: string;
  readonly scopeVersion: string;
  readonly schemaUrl: string;
}

// OTLP (opentelemetry/proto/collector/trace/v1) field numbers and enum values.
const SPAN_KIND: Record<SpanKind, number> = { internal: 1, client: 3 };
const STATUS_CODE = { unset: 0, ok: 1, error: 2 } as const;
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

/** Value of each hex digit by character code. */
const HEX_VALUE: readonly number[] = Array.from({ length: 128 }, (_, code) => {
  const digit = Number.parseInt(String.fromCharCode(code), 16);
  return Number.isNaN(digit) ? 0 : digit;
});

// Encoding is synchronous, so one scratch buffer serves every request: the only allocation
// per request is the finished copy.
const MAX_SCRATCH_BYTES = 4 * 1024 * 1024;
let scratch = new Uint8Array(64 * 1024);
let scratchView = new DataView(scratch.buffer);
const encoder = new TextEncoder();

/**
 * A protobuf writer over one growing buffer. A nested message reserves one byte for its length
 * and moves its body only in the rare case the length needs more.
 */
class ProtoWriter {
  #buffer = scratch;
  #view = scratchView;
  #length = 0;
  readonly #encoder = encoder;

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }

  #reserve(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < this.#length + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
    if (size <= MAX_SCRATCH_BYTES) {
      scratch = grown;
      scratchView = this.#view;
    }
  }

  #varint(value: number): void {
    this.#reserve(10);
    let rest = value;
    while (rest > 0x7f) {
      this.#buffer[this.#length++] = (rest % 128) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.#buffer[this.#length++] = rest;
  }

  #tag(field: number, wireType: number): void {
    this.#varint((field << 3) | wireType);
  }

  uint(field: number, value: number): void {
    this.#tag(field, VARINT);
    this.#varint(value);
  }

  int64(field: number, value: number): void {
    this.#tag(field, VARINT);
    if (value >= 0) {
      this.#varint(value);
      return;
    }
    // Negative int64: ten-byte two's complement varint.
    let rest = BigInt.asUintN(64, BigInt(value));
    this.#reserve(10);
    while (rest > 0x7fn) {
      this.#buffer[this.#length++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.#buffer[this.#length++] = Number(rest);
  }

  bool(field: number, value: boolean): void {
    this.uint(field, value ? 1 : 0);
  }

  double(field: number, value: number): void {
    this.#tag(field, FIXED64);
    this.#reserve(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  /** A time as fixed64 nanoseconds since the epoch. */
  timeNanos(field: number, ms: number): void {
    this.#tag(field, FIXED64);
    this.#reserve(8);
    const nanos = BigInt(Math.round(ms * 1000)) * 1000n;
    this.#view.setBigUint64(this.#length, nanos, true);
    this.#length += 8;
  }

  string(field: number, value: string): void {
    this.#tag(field, LENGTH_DELIMITED);
    const start = this.begin();
    this.#reserve(value.length * 3);
    // Short ASCII (names, ids, most attribute values) is copied directly: cheaper than
    // encodeInto's view for a handful of bytes.
    let index = 0;
    if (value.length < 64) {
      for (; index < value.length; index++) {
        const code = value.charCodeAt(index);
        if (code > 0x7f) break;
        this.#buffer[this.#length + index] = code;
      }
    }
    if (index === value.length) this.#length += index;
    else {
      this.#length += this.#encoder.encodeInto(value, this.#buffer.subarray(this.#length)).written;
    }
    this.end(start);
  }

  hex(field: number, hex: string): void {
    this.#tag(field, LENGTH_DELIMITED);
    const bytes = hex.length >> 1;
    this.#varint(bytes);
    this.#reserve(bytes);
    for (let index = 0; index < bytes; index++) {
      this.#buffer[this.#length++] =
        (HEX_VALUE[hex.charCodeAt(index * 2)] ?? 0) * 16 +
        (HEX_VALUE[hex.charCodeAt(index * 2 + 1)] ?? 0);
    }
  }

  /** Start a nested message whose tag was written; returns where its body starts. */
  begin(): number {
    this.#reserve(1);
    this.#length += 1;
    return this.#length;
  }

  message(field: number): number {
    this.#tag(field, LENGTH_DELIMITED);
    return this.begin();
  }

  end(bodyStart: number): void {
    const size = this.#length - bodyStart;
    if (size < 128) {
      this.#buffer[bodyStart - 1] = size;
      return;
    }
    let extra = 0;
    for (let rest = size; rest > 0x7f; rest = Math.floor(rest / 128)) extra++;
    this.#reserve(extra);
    this.#buffer.copyWithin(bodyStart + extra, bodyStart, this.#length);
    this.#length = bodyStart - 1;
    this.#varint(size);
    this.#length += size;
  }
}

function writeAnyValue(writer: ProtoWriter, key: string, value: AttributeValue): void {
  if (typeof value === 'string') writer.string(1, value);
  else if (typeof value === 'boolean') writer.bool(2, value);
  else if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !DOUBLE_ATTRIBUTES.has(key)) writer.int64(3, value);
    else writer.double(4, value);
  } else {
    const array = writer.message(5);
    for (const item of value) {
      const element = writer.message(1);
      writer.string(1, item);
      writer.end(element);
    }
    writer.end(array);
  }
}

function writeAttributes(writer: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value === undefined) continue;
    const keyValue = writer.message(field);
    writer.string(1, key);
    const anyValue = writer.message(2);
    writeAnyValue(writer, key, value);
    writer.end(anyValue);
    writer.end(keyValue);
  }
}

function writeSpan(writer: ProtoWriter, span: TraceSpan): void {
  const body = writer.message(2);
  writer.hex(1, span.traceId);
  writer.hex(2, span.spanId);
  if (span.parentSpanId !== undefined) writer.hex(4, span.parentSpanId);
  writer.string(5, span.name);
  writer.uint(6, SPAN_KIND[span.kind]);
  writer.timeNanos(7, span.startMs);
  writer.timeNanos(8, span.endMs);
  writeAttributes(writer, 9, span.attributes);
  for (const event of span.events) {
    const eventBody = writer.message(11);
    writer.timeNanos(1, event.timeMs);
    writer.string(2, event.name);
    writeAttributes(writer, 3, event.attributes);
    writer.end(eventBody);
  }
  for (const link of span.links) {
    const linkBody = writer.message(13);
    writer.hex(1, link.traceId);
    writer.hex(2, link.spanId);
    writeAttributes(writer, 4, link.attributes);
    writer.end(linkBody);
  }
  if (span.status.code !== 'unset') {
    const status = writer.message(15);
    if (span.status.message !== undefined) writer.string(2, span.status.message);
    writer.uint(3, STATUS_CODE[span.status.code]);
    writer.end(status);
  }
  writer.end(body);
}

/**
 * Encode spans as an OTLP `ExportTraceServiceRequest` (protobuf), the body of an OTLP/HTTP
 * `POST /v1/traces` with `content-type: application/x-protobuf`.
 *
 * ```ts
 * const body = encodeTraceRequest(spans, resource);
 * ```
 */
export function encodeTraceRequest(
  spans: readonly TraceSpan[],
  resource: OtlpResource,
): Uint8Array {
  const writer = new ProtoWriter();
  const resourceSpans = writer.message(1);
  const resourceBody = writer.message(1);
  writeAttributes(writer, 1, resource.attributes);
  writer.end(resourceBody);
  const scopeSpans = writer.message(2);
  const scope = writer.message(1);
  writer.string(1, resource.scopeName);
  writer.string(2, resource.scopeVersion);
  writer.end(scope);
  for (const span of spans) writeSpan(writer, span);
  writer.string(3, resource.schemaUrl);
  writer.end(scopeSpans);
  writer.end(resourceSpans);
  return writer.finish();
}
