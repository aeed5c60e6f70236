import type { SpanExporter as OtelSpanExporter } from '@opentelemetry/sdk-trace';
import type { Attributes, TraceSpan } from './trace-span.js';

/** The OTLP protocols traces can be exported over (`OTEL_EXPORTER_OTLP_PROTOCOL`). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json', 'grpc'] as const;
/** One OTLP protocol: HTTP with protobuf, HTTP with JSON, or gRPC. */
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** PEM material for TLS: the CA to trust, and a client certificate for mutual TLS. */
export interface OtlpTls {
  /** Certificates to trust for the endpoint (instead of the system's). */
  readonly ca?: string | Buffer | undefined;
  /** Client certificate chain, with `key`: the endpoint may ask for it. */
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
}

/** What the OpenTelemetry exporter of one protocol is built from. */
export interface OtlpTransportOptions {
  readonly protocol: OtlpProtocol;
  /** HTTP: the traces URL (`…/v1/traces`); gRPC: `http(s)://host:port` (a path is ignored). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'gzip' | 'none';
  readonly tls: OtlpTls | undefined;
  /** gRPC without TLS although the URL has no `http://` scheme. */
  readonly insecure: boolean;
  readonly resource: Attributes;
}

/** One OpenTelemetry exporter, ready to send Keel's spans. */
export interface OtlpTransport {
  /**
   * Send one batch, as `ReadableSpan`s with their own ids (the exporter retries per OTLP
   * itself); resolves with how it went.
   */
  send(spans: readonly TraceSpan[]): Promise<{ readonly ok: boolean; readonly error?: Error }>;
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry OTLP trace exporter for `protocol`, loaded on first use: nothing of
 * OpenTelemetry's is imported by a process that never exports.
 *
 * ```ts
 * const transport = await otlpTransport({ protocol: 'grpc', url: 'http://collector:4317', ... });
 * await transport.send(readableSpans(spans, transport.resource));
 * ```
 */
export async function otlpTransport(options: OtlpTransportOptions): Promise<OtlpTransport> {
  const [{ resourceFromAttributes }, { ExportResultCode }, { readableSpans }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
    import('./readable-spans.js'),
  ]);
  // Keel's attribute values are primitives and string lists, as resources take them.
  const resource = resourceFromAttributes(
    options.resource as Parameters<typeof resourceFromAttributes>[0],
  );
  const exporter = await exporterFor(options);
  return {
    send: (spans) =>
      new Promise((resolve) => {
        exporter.export(readableSpans(spans, resource), (result) => {
          resolve(
            result.code === ExportResultCode.SUCCESS
              ? { ok: true }
              : { ok: false, error: result.error ?? new Error('export failed') },
          );
        });
      }),
    shutdown: () => exporter.shutdown(),
  };
}

async function exporterFor(options: OtlpTransportOptions): Promise<OtelSpanExporter> {
  const { url, headers, timeoutMs: timeoutMillis, tls } = options;
  const { CompressionAlgorithm } = await import('@opentelemetry/otlp-exporter-base');
  const compression =
    options.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  switch (options.protocol) {
    case 'http/protobuf':
    case 'http/json': {
      const { OTLPTraceExporter } =
        options.protocol === 'http/protobuf'
          ? await import('@opentelemetry/exporter-trace-otlp-proto')
          : await import('@opentelemetry/exporter-trace-otlp-http');
      return new OTLPTraceExporter({
        url,
        headers: { ...headers },
        timeoutMillis,
        compression,
        httpAgentOptions: { keepAlive: true, ca: tls?.ca, cert: tls?.cert, key: tls?.key },
      });
    }
    case 'grpc': {
      const [{ OTLPTraceExporter }, grpc] = await Promise.all([
        import('@opentelemetry/exporter-trace-otlp-grpc'),
        import('@grpc/grpc-js'),
      ]);
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
      // As the OTLP spec has it: `http://` is plaintext, `https://` is TLS, a bare
      // `host:port` is TLS unless `insecure`.
      const plaintext =
        url.startsWith('http://') || (options.insecure && !url.startsWith('https:'));
      const pem = (value: string | Buffer | undefined): Buffer | null =>
        value === undefined ? null : Buffer.from(value);
      const credentials = plaintext
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(pem(tls?.ca), pem(tls?.key), pem(tls?.cert));
      return new OTLPTraceExporter({
        url,
        metadata,
        credentials,
        timeoutMillis,
        compression,
      });
    }
    default:
      options.protocol satisfies never;
      throw new Error(`unknown OTLP protocol ${String(options.protocol)}`);
  }
}
