import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import { timerDelay } from '../core/index.js';

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

/** One request the receiver accepted. */
export interface ReceivedRequest {
  /** `protobuf` (OTLP/HTTP binary or gRPC) or `json` (OTLP/HTTP JSON). */
  readonly encoding: 'protobuf' | 'json';
  /** HTTP headers, or gRPC metadata; names lowercased. */
  readonly headers: Readonly<Record<string, string>>;
  /** The client certificate's subject common name, under mutual TLS. */
  readonly clientCertificate: string | undefined;
}

/** A local OTLP receiver (HTTP protobuf and JSON, gRPC; plain or mutual TLS) that records the spans exported to it. */
export interface OtlpReceiver {
  /** HTTP: `http(s)://127.0.0.1:<port>/v1/traces`; gRPC: `http(s)://127.0.0.1:<port>`. */
  readonly url: string;
  /** `http(s)://127.0.0.1:<port>` (what `OTEL_EXPORTER_OTLP_ENDPOINT` takes). */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  /** Requests answered so far, refused ones included. */
  readonly requests: number;
  /** The requests accepted, in order. */
  readonly received: readonly ReceivedRequest[];
  /** Resolves once at least `count` spans have arrived. */
  waitForSpans(count: number, options?: { timeoutMs?: number }): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

/** How the OTLP receiver listens: protocol, TLS certificates, and whether it demands a client certificate. */
export interface OtlpReceiverOptions {
  /** Refuse this many requests before accepting (HTTP: `failStatus` and `retry-after: 0`). */
  readonly failFirst?: number;
  /** HTTP status of a refusal (default 503); gRPC answers `UNAVAILABLE` for 429/502/503/504. */
  readonly failStatus?: number;
  /** `http` (default): `POST /v1/traces`, protobuf or JSON. `grpc`: the OTLP `TraceService`. */
  readonly transport?: 'http' | 'grpc';
  /** Serve TLS with this key and certificate; with `ca`, demand a client certificate it signed. */
  readonly tls?: {
    readonly key: string | Buffer;
    readonly cert: string | Buffer;
    readonly ca?: string | Buffer | undefined;
  };
}

/** gRPC status codes a refusal maps to (OpenTelemetry retries UNAVAILABLE). */
const GRPC_UNAVAILABLE = 14;
const GRPC_INVALID_ARGUMENT = 3;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const TRACE_SERVICE_EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * A local OTLP receiver for tests, speaking the real protocols: OTLP/HTTP (`POST /v1/traces`
 * with a protobuf or JSON `ExportTraceServiceRequest`, optionally gzip-encoded) or OTLP/gRPC
 * (`TraceService/Export`, served by `@grpc/grpc-js`), in plain text or TLS, optionally asking
 * for a client certificate. It decodes every span and keeps it.
 *
 * ```ts
 * const receiver = await startOtlpReceiver({ transport: 'grpc' });
 * const exporter = otlpExporter({ url: receiver.url, protocol: 'grpc' });
 * ```
 */
export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  const { failFirst = 0, failStatus = 503 } = options;
  const spans: ReceivedSpan[] = [];
  const received: ReceivedRequest[] = [];
  const waiters = new Set<() => void>();
  let requests = 0;
  /** Counts the request; `undefined` when it is to be refused. */
  const accept = (request: ReceivedRequest, decode: () => ReceivedSpan[]): boolean => {
    requests += 1;
    if (requests <= failFirst) return false;
    spans.push(...decode());
    received.push(request);
    for (const wake of waiters) wake();
    return true;
  };
  const server =
    options.transport === 'grpc'
      ? await grpcServer(options, accept, failStatus)
      : await httpServer(options, accept, failStatus);
  const scheme = options.tls ? 'https' : 'http';
  const endpoint = `${scheme}://127.0.0.1:${server.port}`;
  return {
    url: options.transport === 'grpc' ? endpoint : `${endpoint}/v1/traces`,
    endpoint,
    spans,
    received,
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
        }, timerDelay(timeoutMs));
        waiters.add(check);
        check();
      });
    },
    close: server.close,
  };
}

type Accept = (request: ReceivedRequest, decode: () => ReceivedSpan[]) => boolean;

async function httpServer(
  options: OtlpReceiverOptions,
  accept: Accept,
  failStatus: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    request.on('end', () => {
      try {
        if (request.method !== 'POST' || request.url !== '/v1/traces') {
          response.writeHead(404).end();
          return;
        }
        let body = Buffer.concat(chunks);
        if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const json = (request.headers['content-type'] ?? '').startsWith('application/json');
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(request.headers)) {
          if (typeof value === 'string') headers[name] = value;
        }
        const socket = request.socket as Partial<TLSSocket>;
        const peer = socket.getPeerCertificate?.();
        const accepted = accept(
          {
            encoding: json ? 'json' : 'protobuf',
            headers,
            clientCertificate: commonName(peer?.subject),
          },
          () => (json ? decodeJsonTraceRequest(body) : decodeTraceRequest(body)),
        );
        if (!accepted) {
          response.writeHead(failStatus, { 'retry-after': '0' }).end();
          return;
        }
        response
          .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
          .end(json ? '{}' : undefined);
      } catch (error) {
        response.writeHead(400).end(String(error));
      }
    });
  };
  const tls = options.tls;
  const server = tls
    ? createHttpsServer(
        { key: tls.key, cert: tls.cert, ...(tls.ca ? { ca: tls.ca, requestCert: true } : {}) },
        handle,
      )
    : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function grpcServer(
  options: OtlpReceiverOptions,
  accept: Accept,
  failStatus: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const grpc = await import('@grpc/grpc-js');
  const server = new grpc.Server();
  const bytes = (value: Buffer): Buffer => value;
  server.addService(
    {
      Export: {
        path: TRACE_SERVICE_EXPORT,
        requestStream: false,
        responseStream: false,
        requestSerialize: bytes,
        requestDeserialize: bytes,
        responseSerialize: bytes,
        responseDeserialize: bytes,
      },
    },
    {
      Export(
        call: {
          request: Buffer;
          metadata: { getMap(): Record<string, unknown> };
          getAuthContext(): { sslPeerCertificate?: { subject?: unknown } };
        },
        callback: (error: { code: number; details: string } | null, response?: Buffer) => void,
      ): void {
        try {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(call.metadata.getMap())) {
            if (typeof value === 'string') headers[name] = value;
          }
          const accepted = accept(
            {
              encoding: 'protobuf',
              headers,
              clientCertificate: commonName(call.getAuthContext().sslPeerCertificate?.subject),
            },
            () => decodeTraceRequest(call.request),
          );
          if (!accepted) {
            const code = RETRYABLE_STATUS.has(failStatus)
              ? GRPC_UNAVAILABLE
              : GRPC_INVALID_ARGUMENT;
            callback({ code, details: `refused (${failStatus})` });
            return;
          }
          // An empty ExportTraceServiceResponse: everything accepted.
          callback(null, Buffer.alloc(0));
        } catch (error) {
          callback({ code: GRPC_INVALID_ARGUMENT, details: String(error) });
        }
      },
    },
  );
  const tls = options.tls;
  const credentials = tls
    ? grpc.ServerCredentials.createSsl(
        tls.ca ? Buffer.from(tls.ca) : null,
        [{ private_key: Buffer.from(tls.key), cert_chain: Buffer.from(tls.cert) }],
        tls.ca !== undefined,
      )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => {
      if (error) reject(error);
      else resolve(bound);
    });
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

function commonName(subject: unknown): string | undefined {
  const name = (subject as { CN?: unknown } | undefined)?.CN;
  return typeof name === 'string' ? name : undefined;
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

// --- OTLP/HTTP JSON ---------------------------------------------------------------------

interface JsonKeyValue {
  readonly key: string;
  readonly value?: JsonAnyValue;
}
interface JsonAnyValue {
  readonly stringValue?: string;
  readonly boolValue?: boolean;
  readonly intValue?: number | string;
  readonly doubleValue?: number;
  readonly arrayValue?: { readonly values?: readonly JsonAnyValue[] };
}

function jsonValue(value: JsonAnyValue | undefined): ReceivedValue {
  if (value === undefined) return '';
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(jsonValue);
  return '';
}

function jsonAttributes(list: readonly JsonKeyValue[] | undefined): Record<string, ReceivedValue> {
  const out: Record<string, ReceivedValue> = {};
  for (const { key, value } of list ?? []) {
    // Defined, not assigned: a key such as `__proto__` is data here, not a prototype.
    Object.defineProperty(out, key, {
      value: jsonValue(value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Decode an OTLP/HTTP JSON `ExportTraceServiceRequest` (ids in hex) into its spans. */
export function decodeJsonTraceRequest(body: Buffer): ReceivedSpan[] {
  type JsonSpan = {
    traceId?: string;
    spanId?: string;
    parentSpanId?: string;
    name?: string;
    kind?: number;
    startTimeUnixNano?: string | number;
    endTimeUnixNano?: string | number;
    attributes?: JsonKeyValue[];
    events?: { name?: string; timeUnixNano?: string | number; attributes?: JsonKeyValue[] }[];
    links?: { traceId?: string; spanId?: string; attributes?: JsonKeyValue[] }[];
    status?: { code?: number; message?: string };
  };
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: {
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: {
        scope?: { name?: string; version?: string };
        schemaUrl?: string;
        spans?: JsonSpan[];
      }[];
    }[];
  };
  const out: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      const scope = {
        name: scopeSpans.scope?.name ?? '',
        version: scopeSpans.scope?.version ?? '',
        schemaUrl: scopeSpans.schemaUrl ?? '',
      };
      for (const span of scopeSpans.spans ?? []) {
        out.push({
          traceId: span.traceId ?? '',
          spanId: span.spanId ?? '',
          parentSpanId: span.parentSpanId ?? '',
          name: span.name ?? '',
          kind: span.kind ?? 0,
          startTimeUnixNano: BigInt(span.startTimeUnixNano ?? 0),
          endTimeUnixNano: BigInt(span.endTimeUnixNano ?? 0),
          attributes: jsonAttributes(span.attributes),
          events: (span.events ?? []).map((event) => ({
            name: event.name ?? '',
            timeUnixNano: BigInt(event.timeUnixNano ?? 0),
            attributes: jsonAttributes(event.attributes),
          })),
          links: (span.links ?? []).map((link) => ({
            traceId: link.traceId ?? '',
            spanId: link.spanId ?? '',
            attributes: jsonAttributes(link.attributes),
          })),
          status: { code: span.status?.code ?? 0, message: span.status?.message ?? '' },
          resource,
          scope,
        });
      }
    }
  }
  return out;
}
