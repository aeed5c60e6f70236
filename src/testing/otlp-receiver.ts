import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** An attribute value as decoded from OTLP `AnyValue`. */
export type ReceivedValue = string | boolean | number | ReceivedValue[];

/** One span as the OTLP receiver decoded it. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty when the span is a root. */
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP `SpanKind`: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Record<string, ReceivedValue>;
  readonly events: readonly {
    readonly name: string;
    readonly timeUnixNano: bigint;
    readonly attributes: Record<string, ReceivedValue>;
  }[];
  readonly links: readonly {
    readonly traceId: string;
    readonly spanId: string;
    readonly attributes: Record<string, ReceivedValue>;
  }[];
  /** OTLP `StatusCode`: 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string };
  readonly resource: Record<string, ReceivedValue>;
  readonly scope: { readonly name: string; readonly version: string; readonly schemaUrl: string };
}

/** A local OTLP/HTTP receiver that records the spans exported to it. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>/v1/traces` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` (what `OTEL_EXPORTER_OTLP_ENDPOINT` takes). */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly requests: number;
  /** Resolves once at least `count` spans have arrived. */
  waitForSpans(count: number, options?: { timeoutMs?: number }): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

/**
 * A local OTLP/HTTP receiver for tests: accepts `POST /v1/traces` with a protobuf
 * `ExportTraceServiceRequest` (optionally gzip-encoded), decodes every span and keeps it.
 *
 * ```ts
 * const receiver = await startOtlpReceiver();
 * const exporter = otlpExporter({ url: receiver.url });
 * ```
 */
export async function startOtlpReceiver({
  failFirst = 0,
  failStatus = 503,
}: {
  /** Answer this many requests with `failStatus` (and `retry-after: 0`) before accepting. */
  readonly failFirst?: number;
  readonly failStatus?: number;
} = {}): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    request.on('end', () => {
      requests += 1;
      try {
        if (request.method !== 'POST' || request.url !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        if (requests <= failFirst) {
          response.writeHead(failStatus, { 'retry-after': '0' }).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        spans.push(...decodeTraceRequest(body));
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
        for (const wake of waiters) wake();
      } catch (error) {
        response.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    url: `${endpoint}/v1/traces`,
    endpoint,
    spans,
    get requests() {
      return requests;
    },
    waitForSpans(count, { timeoutMs = 5_000 } = {}) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (spans.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(spans);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`received ${spans.length} of ${count} spans`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

// --- a minimal protobuf reader: enough of the wire format for OTLP traces ---------------

type Field = { readonly number: number; readonly wire: number; readonly value: bigint | Buffer };

function readFields(buffer: Buffer): Field[] {
  const fields: Field[] = [];
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (offset < buffer.length) {
    const tag = Number(varint());
    const number = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) fields.push({ number, wire, value: varint() });
    else if (wire === 1) {
      fields.push({ number, wire, value: buffer.subarray(offset, offset + 8) });
      offset += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      if (offset + length > buffer.length) throw new Error('truncated field');
      fields.push({ number, wire, value: buffer.subarray(offset, offset + length) });
      offset += length;
    } else if (wire === 5) {
      fields.push({ number, wire, value: buffer.subarray(offset, offset + 4) });
      offset += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}

const bytesOf = (field: Field): Buffer => field.value as Buffer;
const stringOf = (field: Field): string => bytesOf(field).toString('utf8');
const fixed64Of = (field: Field): bigint => bytesOf(field).readBigUInt64LE(0);

function decodeAnyValue(buffer: Buffer): ReceivedValue {
  for (const field of readFields(buffer)) {
    switch (field.number) {
      case 1:
        return stringOf(field);
      case 2:
        return field.value !== 0n;
      case 3:
        return Number(BigInt.asIntN(64, field.value as bigint));
      case 4:
        return bytesOf(field).readDoubleLE(0);
      case 5:
        return readFields(bytesOf(field))
          .filter((item) => item.number === 1)
          .map((item) => decodeAnyValue(bytesOf(item)));
    }
  }
  return '';
}

function decodeKeyValue(buffer: Buffer, into: Record<string, ReceivedValue>): void {
  let key = '';
  let value: ReceivedValue = '';
  for (const field of readFields(buffer)) {
    if (field.number === 1) key = stringOf(field);
    else if (field.number === 2) value = decodeAnyValue(bytesOf(field));
  }
  // Defined, not assigned: a key such as `__proto__` is data here, not a prototype.
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Decode an OTLP `ExportTraceServiceRequest` (protobuf) into its spans. */
export function decodeTraceRequest(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of readFields(body).filter((field) => field.number === 1)) {
    const resource: Record<string, ReceivedValue> = {};
    const scopes: Buffer[] = [];
    for (const field of readFields(bytesOf(resourceSpans))) {
      if (field.number === 1) {
        for (const attribute of readFields(bytesOf(field)).filter((item) => item.number === 1)) {
          decodeKeyValue(bytesOf(attribute), resource);
        }
      } else if (field.number === 2) scopes.push(bytesOf(field));
    }
    for (const scopeSpans of scopes) {
      const scope = { name: '', version: '', schemaUrl: '' };
      const spans: Buffer[] = [];
      for (const field of readFields(scopeSpans)) {
        if (field.number === 1) {
          for (const item of readFields(bytesOf(field))) {
            if (item.number === 1) scope.name = stringOf(item);
            if (item.number === 2) scope.version = stringOf(item);
          }
        } else if (field.number === 2) spans.push(bytesOf(field));
        else if (field.number === 3) scope.schemaUrl = stringOf(field);
      }
      for (const span of spans) out.push(decodeSpan(span, resource, scope));
    }
  }
  return out;
}

function decodeSpan(
  buffer: Buffer,
  resource: Record<string, ReceivedValue>,
  scope: ReceivedSpan['scope'],
): ReceivedSpan {
  const span = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {} as Record<string, ReceivedValue>,
    events: [] as ReceivedSpan['events'][number][],
    links: [] as ReceivedSpan['links'][number][],
    status: { code: 0, message: '' },
    resource,
    scope,
  };
  for (const field of readFields(buffer)) {
    switch (field.number) {
      case 1:
        span.traceId = bytesOf(field).toString('hex');
        break;
      case 2:
        span.spanId = bytesOf(field).toString('hex');
        break;
      case 4:
        span.parentSpanId = bytesOf(field).toString('hex');
        break;
      case 5:
        span.name = stringOf(field);
        break;
      case 6:
        span.kind = Number(field.value);
        break;
      case 7:
        span.startTimeUnixNano = fixed64Of(field);
        break;
      case 8:
        span.endTimeUnixNano = fixed64Of(field);
        break;
      case 9:
        decodeKeyValue(bytesOf(field), span.attributes);
        break;
      case 11: {
        const event = {
          name: '',
          timeUnixNano: 0n,
          attributes: {} as Record<string, ReceivedValue>,
        };
        for (const item of readFields(bytesOf(field))) {
          if (item.number === 1) event.timeUnixNano = fixed64Of(item);
          else if (item.number === 2) event.name = stringOf(item);
          else if (item.number === 3) decodeKeyValue(bytesOf(item), event.attributes);
        }
        span.events.push(event);
        break;
      }
      case 13: {
        const link = { traceId: '', spanId: '', attributes: {} as Record<string, ReceivedValue> };
        for (const item of readFields(bytesOf(field))) {
          if (item.number === 1) link.traceId = bytesOf(item).toString('hex');
          else if (item.number === 2) link.spanId = bytesOf(item).toString('hex');
          else if (item.number === 4) decodeKeyValue(bytesOf(item), link.attributes);
        }
        span.links.push(link);
        break;
      }
      case 15:
        for (const item of readFields(bytesOf(field))) {
          if (item.number === 2) span.status.message = stringOf(item);
          else if (item.number === 3) span.status.code = Number(item.value);
        }
        break;
    }
  }
  return span;
}
