// Import time of trace export, in a fresh process: Keel itself, then what the first export of
// one protocol loads (Keel's transport builds OpenTelemetry's exporter, without sending).
// Prints JSON: { keelMs, exporterMs, loaded } where `loaded` lists OpenTelemetry exporter or
// gRPC modules already loaded by Keel's import (none expected).
// Usage: node trace-import-process.js <http/protobuf | http/json | grpc>
import { createRequire } from 'node:module';

const protocol = process.argv[2] as 'http/protobuf' | 'http/json' | 'grpc';
const startedAt = performance.now();
await import('../src/index.js');
const keelMs = performance.now() - startedAt;
const require = createRequire(import.meta.url);
const loaded = Object.keys(require.cache).filter((path) =>
  /@opentelemetry[\\/](exporter|otlp)|@grpc[\\/]grpc-js/.test(path),
);
const { otlpTransport } = await import('../src/observe/otlp-transport.js');
const exporterStartedAt = performance.now();
const transport = await otlpTransport({
  protocol,
  url: protocol === 'grpc' ? 'http://127.0.0.1:4317' : 'http://127.0.0.1:4318/v1/traces',
  headers: {},
  timeoutMs: 1_000,
  compression: 'none',
  tls: undefined,
  insecure: false,
  resource: { 'service.name': 'bench' },
});
const exporterMs = performance.now() - exporterStartedAt;
await transport.shutdown();
process.stdout.write(`${JSON.stringify({ keelMs, exporterMs, loaded })}\n`);
