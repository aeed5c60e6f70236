import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { KeelError } from '../core/index.js';
import { encodeTraceRequest, type OtlpResource } from './otlp-protobuf.js';
import { ATTR, GEN_AI_SCHEMA_URL, GEN_AI_SEMCONV_VERSION } from './semconv.js';
import type { Attributes, TraceSpan } from './trace-span.js';

const gzipAsync = promisify(gzip);

const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 3;
const MAX_RETRY_DELAY_MS = 5_000;

/** Retry-After in seconds when given, else 100 ms doubling; never over 5 s. */
function retryDelayMs(retryAfter: string | null, attempt: number): number {
  const seconds = retryAfter === null ? Number.NaN : Number(retryAfter);
  const delay = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 100 * 2 ** attempt;
  return Math.min(MAX_RETRY_DELAY_MS, delay);
}

/** Where and how spans are exported over OTLP: endpoint, headers, queue bound, timeout. */
export interface OtlpExporterOptions {
  /** Full URL of the traces endpoint, e.g. `http://collector:4318/v1/traces`. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number | undefined;
  /** Spans waiting beyond this are dropped, and counted (default 2048). */
  readonly maxQueueSize?: number | undefined;
  /** Spans per request (default 512). */
  readonly maxBatchSize?: number | undefined;
  /** Longest a span waits for a batch to fill (default 1 s). */
  readonly scheduleDelayMs?: number | undefined;
  readonly compression?: 'gzip' | 'none' | undefined;
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
 * An OTLP/HTTP protobuf span exporter with a bounded queue. A full queue drops spans (counted
 * in `stats().dropped`) instead of growing or blocking; an unreachable endpoint costs failed
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
    headers = {},
    timeoutMs = 10_000,
    maxQueueSize = 2048,
    maxBatchSize = 512,
    scheduleDelayMs = 1_000,
    compression = 'none',
  } = options;
  const resource: OtlpResource = {
    attributes: {
      [ATTR.serviceName]: 'keel',
      'telemetry.sdk.name': 'keel',
      'telemetry.sdk.language': 'nodejs',
      ...options.resource,
      [ATTR.semconvVersion]: GEN_AI_SEMCONV_VERSION,
    },
    scopeName: 'keel',
    scopeVersion: GEN_AI_SEMCONV_VERSION,
    schemaUrl: GEN_AI_SCHEMA_URL,
  };
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
    }, scheduleDelayMs);
    timer.unref();
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) await send(queue.splice(0, maxBatchSize));
    } finally {
      sending = undefined;
    }
  }

  async function send(batch: TraceSpan[]): Promise<void> {
    try {
      let body: Uint8Array = encodeTraceRequest(batch, resource);
      const requestHeaders: Record<string, string> = {
        ...headers,
        'content-type': 'application/x-protobuf',
      };
      if (compression === 'gzip') {
        body = await gzipAsync(body);
        requestHeaders['content-encoding'] = 'gzip';
      }
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(url, {
          method: 'POST',
          headers: requestHeaders,
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer().catch(() => undefined);
        if (response.ok) {
          exported += batch.length;
          return;
        }
        // OTLP/HTTP: 429, 502, 503 and 504 are worth another try, after Retry-After if sent.
        if (!RETRYABLE_STATUS.has(response.status) || attempt >= MAX_ATTEMPTS || closed) {
          failed += batch.length;
          return;
        }
        await new Promise((resolve) => {
          setTimeout(resolve, retryDelayMs(response.headers.get('retry-after'), attempt)).unref();
        });
      }
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
      deadline = setTimeout(resolve, waitMs);
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
      schedule();
    },
    flush,
    async shutdown(shutdownOptions) {
      closed = true;
      await flush(shutdownOptions);
    },
    stats: () => ({ exported, dropped, failed, queued: queue.length }),
  };
}

/**
 * An OTLP exporter configured by the standard OpenTelemetry environment variables, or
 * `undefined` when none names an endpoint (or tracing is switched off):
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (plus
 * `/v1/traces`), `OTEL_EXPORTER_OTLP[_TRACES]_HEADERS`, `_TIMEOUT`, `_COMPRESSION`,
 * `_PROTOCOL` (only `http/protobuf`), `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
 * `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY`,
 * `OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER=none`. A bad value throws `invalid_config`.
 */
export function otlpExporterFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): SpanExporter | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  if (env.OTEL_TRACES_EXPORTER?.split(',').some((name) => name.trim() === 'none')) {
    return undefined;
  }
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const url = tracesEndpoint || (endpoint ? `${endpoint.replace(/\/+$/, '')}/v1/traces` : '');
  if (!url) return undefined;
  try {
    new URL(url);
  } catch {
    throw new KeelError('invalid_config', `OTLP endpoint "${url}" is not a URL`);
  }
  const pick = (name: string): string | undefined =>
    env[`OTEL_EXPORTER_OTLP_TRACES_${name}`]?.trim() || env[`OTEL_EXPORTER_OTLP_${name}`]?.trim();
  const protocol = pick('PROTOCOL');
  if (protocol && protocol !== 'http/protobuf') {
    throw new KeelError(
      'invalid_config',
      `OTLP protocol "${protocol}" is not supported; Keel exports http/protobuf`,
    );
  }
  const compression = pick('COMPRESSION');
  if (compression && compression !== 'gzip' && compression !== 'none') {
    throw new KeelError('invalid_config', `OTLP compression must be gzip or none`);
  }
  const resource: Attributes = parsePairs(env.OTEL_RESOURCE_ATTRIBUTES, 'OTEL_RESOURCE_ATTRIBUTES');
  if (env.OTEL_SERVICE_NAME?.trim()) resource[ATTR.serviceName] = env.OTEL_SERVICE_NAME.trim();
  return otlpExporter({
    url,
    headers: parsePairs(pick('HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS'),
    timeoutMs: positive(pick('TIMEOUT'), 'OTEL_EXPORTER_OTLP_TIMEOUT'),
    compression: compression as 'gzip' | 'none' | undefined,
    maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 'OTEL_BSP_MAX_QUEUE_SIZE'),
    maxBatchSize: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    scheduleDelayMs: positive(env.OTEL_BSP_SCHEDULE_DELAY, 'OTEL_BSP_SCHEDULE_DELAY'),
    resource,
  });
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
