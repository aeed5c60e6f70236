import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KeelError, timerDelay } from '../core/index.js';
import {
  OTLP_PROTOCOLS,
  otlpTransport,
  type OtlpProtocol,
  type OtlpTls,
  type OtlpTransport,
} from './otlp-transport.js';
import { ATTR, GEN_AI_SEMCONV_VERSION } from './semconv.js';
import type { Attributes, TraceSpan } from './trace-span.js';

/** Where and how spans are exported over OTLP: endpoint, protocol, headers, TLS, queue bound, timeout. */
export interface OtlpExporterOptions {
  /**
   * Where spans go. HTTP: the full traces URL, e.g. `http://collector:4318/v1/traces`; gRPC:
   * `http://collector:4317` (plaintext), `https://…` or `collector:4317` (TLS).
   */
  readonly url: string;
  /** `http/protobuf` (default), `http/json` or `grpc`. */
  readonly protocol?: OtlpProtocol | undefined;
  /** HTTP headers, or gRPC metadata. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Per export, retries included (default 10 s). */
  readonly timeoutMs?: number | undefined;
  /** Spans waiting beyond this are dropped, and counted (default 2048). */
  readonly maxQueueSize?: number | undefined;
  /** Spans per request (default 512). */
  readonly maxBatchSize?: number | undefined;
  /** Longest a span waits for a batch to fill (default 1 s). */
  readonly scheduleDelayMs?: number | undefined;
  readonly compression?: 'gzip' | 'none' | undefined;
  /** TLS: the CA to trust, and a client certificate and key for an endpoint that asks. */
  readonly tls?: OtlpTls | undefined;
  /** gRPC to a bare `host:port` without TLS. */
  readonly insecure?: boolean | undefined;
  /** Resource attributes; `service.name` defaults to `keel`. */
  readonly resource?: Attributes | undefined;
}

/** Counters of an exporter's life so far. */
export interface ExportStats {
  /** Spans accepted by the endpoint. */
  readonly exported: number;
  /** Spans refused because the queue was full or the exporter shut down. */
  readonly dropped: number;
  /** Spans lost to a failed request (unreachable, timeout, non-2xx). */
  readonly failed: number;
  /** Spans waiting. */
  readonly queued: number;
}

/**
 * Sends spans somewhere without ever making the caller wait. `export` only enqueues;
 * `flush` waits (bounded) for what is queued to be sent. Nothing here throws.
 */
export interface SpanExporter {
  export(spans: readonly TraceSpan[]): void;
  flush(options?: { readonly timeoutMs?: number }): Promise<void>;
  shutdown(options?: { readonly timeoutMs?: number }): Promise<void>;
  stats(): ExportStats;
}

/**
 * A span exporter with a bounded queue in front of OpenTelemetry's own OTLP exporter
 * (`@opentelemetry/exporter-trace-otlp-proto`, `-http` or `-grpc`, loaded on the first send,
 * which also does OTLP's retries and `Retry-After`). A full queue drops spans (counted in
 * `stats().dropped`) instead of growing or blocking; an unreachable endpoint costs failed
 * requests in the background (counted in `stats().failed`), never a caller's time.
 *
 * ```ts
 * const exporter = otlpExporter({ url: 'http://127.0.0.1:4318/v1/traces' });
 * exporter.export(spansFromJournal(runId, entries));
 * await exporter.shutdown();
 * ```
 */
export function otlpExporter(options: OtlpExporterOptions): SpanExporter {
  const {
    url,
    protocol = 'http/protobuf',
    headers = {},
    timeoutMs = 10_000,
    maxQueueSize = 2048,
    maxBatchSize = 512,
    scheduleDelayMs = 1_000,
    compression = 'none',
  } = options;
  if (!OTLP_PROTOCOLS.includes(protocol)) {
    throw new KeelError(
      'invalid_config',
      `OTLP protocol "${protocol}" is not one of ${OTLP_PROTOCOLS.join(', ')}`,
    );
  }
  const resource: Attributes = {
    [ATTR.serviceName]: 'keel',
    'telemetry.sdk.name': 'keel',
    'telemetry.sdk.language': 'nodejs',
    ...options.resource,
    [ATTR.semconvVersion]: GEN_AI_SEMCONV_VERSION,
  };
  let transport: Promise<OtlpTransport> | undefined;
  const queue: TraceSpan[] = [];
  let exported = 0;
  let dropped = 0;
  let failed = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;

  function schedule(): void {
    if (sending || timer) return;
    if (queue.length >= maxBatchSize) {
      sending = drain();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      sending ??= drain();
    }, timerDelay(scheduleDelayMs));
    timer.unref();
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) await send(queue.splice(0, maxBatchSize));
    } finally {
      sending = undefined;
    }
  }

  /** OpenTelemetry's exporter, loaded when the first spans are handed over. */
  function load(): Promise<OtlpTransport> {
    transport ??= otlpTransport({
      protocol,
      url,
      headers,
      timeoutMs,
      compression,
      tls: options.tls,
      insecure: options.insecure === true,
      resource,
    });
    return transport;
  }

  async function send(batch: TraceSpan[]): Promise<void> {
    try {
      // A transport that could not load stays failed: every batch is counted lost.
      const ready = await load();
      const result = await ready.send(batch);
      if (result.ok) exported += batch.length;
      else failed += batch.length;
    } catch {
      failed += batch.length;
    }
  }

  async function flush({ timeoutMs: waitMs = 5_000 } = {}): Promise<void> {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, timerDelay(waitMs));
      deadline.unref();
    });
    const work = (async () => {
      while (sending || queue.length > 0) {
        sending ??= drain();
        await sending;
      }
    })();
    await Promise.race([work, expired]);
    clearTimeout(deadline);
  }

  return {
    export(spans) {
      if (closed) {
        dropped += spans.length;
        return;
      }
      for (const span of spans) {
        if (queue.length >= maxQueueSize) dropped += 1;
        else queue.push(span);
      }
      // Loading starts now, while the batch fills; a failure to load is counted when it sends.
      load().catch(() => undefined);
      schedule();
    },
    flush,
    async shutdown(shutdownOptions) {
      closed = true;
      await flush(shutdownOptions);
      const loaded = await transport?.catch(() => undefined);
      // Bounded like the flush: a connection that will not close is not the caller's wait.
      await Promise.race([
        loaded?.shutdown().catch(() => undefined),
        new Promise((resolve) =>
          setTimeout(resolve, timerDelay(shutdownOptions?.timeoutMs ?? 5_000)).unref(),
        ),
      ]);
    },
    stats: () => ({ exported, dropped, failed, queued: queue.length }),
  };
}

/**
 * An OTLP exporter configured by the standard OpenTelemetry environment variables, or
 * `undefined` when none names an endpoint (or tracing is switched off). Each
 * `OTEL_EXPORTER_OTLP_*` variable also has a `OTEL_EXPORTER_OTLP_TRACES_*` form that wins:
 * `_ENDPOINT` (HTTP: plus `/v1/traces`; the `TRACES_` form used as is), `_PROTOCOL`
 * (`http/protobuf`, `http/json`, `grpc`), `_HEADERS`, `_TIMEOUT`, `_COMPRESSION`,
 * `_CERTIFICATE` (the CA to trust), `_CLIENT_CERTIFICATE` and `_CLIENT_KEY` (mutual TLS),
 * `_INSECURE` (gRPC); and `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`,
 * `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER=none`. A bad value, or a certificate file that
 * cannot be read, throws `invalid_config` naming the variable (OpenTelemetry's own exporters
 * would only log it).
 */
export function otlpExporterFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SpanExporter | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.split(',').some((name) => name.trim() === 'none')) {
    return undefined;
  }
  /** The `TRACES_` form of a variable, else the general one: value and the name it came from. */
  const pick = (name: string): { value: string; name: string } | undefined => {
    for (const key of [`OTEL_EXPORTER_OTLP_TRACES_${name}`, `OTEL_EXPORTER_OTLP_${name}`]) {
      const value = env[key]?.trim();
      if (value) return { value, name: key };
    }
    return undefined;
  };
  const protocol = pick('PROTOCOL');
  if (protocol && !OTLP_PROTOCOLS.includes(protocol.value as OtlpProtocol)) {
    throw new KeelError(
      'invalid_config',
      `${protocol.name} "${protocol.value}" is not one of ${OTLP_PROTOCOLS.join(', ')}`,
    );
  }
  const grpc = protocol?.value === 'grpc';
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // gRPC names a host and port; HTTP a URL, the general one with the traces path added.
  const url =
    tracesEndpoint ||
    (endpoint && !grpc ? `${endpoint.replace(/\/+$/, '')}/v1/traces` : endpoint) ||
    '';
  if (!url) return undefined;
  try {
    new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`);
  } catch {
    throw new KeelError('invalid_config', `OTLP endpoint "${url}" is not a URL`);
  }
  const compression = pick('COMPRESSION');
  if (compression && compression.value !== 'gzip' && compression.value !== 'none') {
    throw new KeelError('invalid_config', `${compression.name} must be gzip or none`);
  }
  const resource: Attributes = parsePairs(env.OTEL_RESOURCE_ATTRIBUTES, 'OTEL_RESOURCE_ATTRIBUTES');
  if (env.OTEL_SERVICE_NAME?.trim()) resource[ATTR.serviceName] = env.OTEL_SERVICE_NAME.trim();
  const headers = pick('HEADERS');
  const timeout = pick('TIMEOUT');
  const cert = readPem(pick('CLIENT_CERTIFICATE'));
  const key = readPem(pick('CLIENT_KEY'));
  if ((cert === undefined) !== (key === undefined)) {
    throw new KeelError(
      'invalid_config',
      'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY go together',
    );
  }
  const ca = readPem(pick('CERTIFICATE'));
  const insecure = pick('INSECURE');
  return otlpExporter({
    url,
    protocol: protocol?.value as OtlpProtocol | undefined,
    headers: parsePairs(headers?.value, headers?.name ?? 'OTEL_EXPORTER_OTLP_HEADERS'),
    timeoutMs: positive(timeout?.value, timeout?.name ?? 'OTEL_EXPORTER_OTLP_TIMEOUT'),
    compression: compression?.value as 'gzip' | 'none' | undefined,
    tls: ca || cert ? { ca, cert, key } : undefined,
    insecure: insecure?.value.toLowerCase() === 'true',
    maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 'OTEL_BSP_MAX_QUEUE_SIZE'),
    maxBatchSize: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    scheduleDelayMs: positive(env.OTEL_BSP_SCHEDULE_DELAY, 'OTEL_BSP_SCHEDULE_DELAY'),
    resource,
  });
}

/** A PEM file named by a variable, read now: a path that does not read is a config error. */
function readPem(variable: { value: string; name: string } | undefined): Buffer | undefined {
  if (!variable) return undefined;
  try {
    return readFileSync(resolve(variable.value));
  } catch (error) {
    throw new KeelError(
      'invalid_config',
      `${variable.name}: cannot read "${variable.value}" (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause: error },
    );
  }
}

/** `key=value,key2=value2` with percent-encoded values, as the OTel variables spell them. */
function parsePairs(value: string | undefined, name: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  if (!value?.trim()) return pairs;
  for (const item of value.split(',')) {
    const at = item.indexOf('=');
    const key = item.slice(0, at).trim();
    if (at <= 0 || key === '')
      throw new KeelError('invalid_config', `${name}: "${item}" is not key=value`);
    try {
      pairs[decodeURIComponent(key)] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      throw new KeelError('invalid_config', `${name}: "${item}" is not percent-encoded`);
    }
  }
  return pairs;
}

function positive(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) {
    throw new KeelError('invalid_config', `${name} must be a positive integer, not "${value}"`);
  }
  return parsed;
}
