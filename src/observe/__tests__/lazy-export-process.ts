// Run as its own process (`node --import tsx`): imports Keel as a user does, then creates an
// exporter, then exports once, and prints which OpenTelemetry exporter and gRPC modules were
// loaded after each. Test support for otlp-export.test.ts.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const loaded = (): string[] =>
  Object.keys(require.cache)
    .map((path) => /@opentelemetry[\\/](exporter-trace-otlp-\w+)|@grpc[\\/](grpc-js)/.exec(path))
    .flatMap((match) => (match ? [match[1] ?? match[2] ?? ''] : []))
    .filter((name, at, names) => names.indexOf(name) === at)
    .sort();

const keel = await import('../../index.js');
const { spansFromJournal } = await import('../../exports/observe.js');
const afterImport = loaded();
const exporter = keel.otlpExporterFromEnv({
  OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
  OTEL_EXPORTER_OTLP_TIMEOUT: '200',
});
const afterCreate = loaded();
exporter?.export(
  spansFromJournal('run_lazy', [
    {
      seq: 1,
      at: 1_764_000_000_000,
      event: {
        type: 'run_started',
        agent: 'a',
        task: 't',
        model: {},
        startedAt: 1_764_000_000_000,
      },
    },
  ]),
);
await exporter?.shutdown({ timeoutMs: 2_000 });
process.stdout.write(
  `${JSON.stringify({ afterImport, afterCreate, afterExport: loaded(), stats: exporter?.stats() })}\n`,
);
