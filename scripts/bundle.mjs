// Bundles the package entry points in place after `tsc`: Kysely loads as one
// file instead of ~300 ES modules, which is most of Keel's import time. Kept external: zod
// (user code must share its instance), the native SQLite driver, pg, the OpenAI SDK (loaded
// on first use), tsx (loaded only for TypeScript configs), the Anthropic SDK, the
// tokenizer and the price table (each loaded on first use), and OpenTelemetry's exporters
// with gRPC (loaded only when a trace is first exported).
import { build } from 'esbuild';

const entries = ['dist/src/index.js', 'dist/src/testing.js'];

await build({
  entryPoints: entries,
  outdir: 'dist/src',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  external: [
    'zod',
    'libsql',
    'pg',
    'openai',
    'openai/*',
    'tsx',
    'tsx/*',
    '@anthropic-ai/sdk',
    '@anthropic-ai/sdk/*',
    'gpt-tokenizer',
    'gpt-tokenizer/*',
    '@pydantic/genai-prices',
    '@opentelemetry/*',
    '@grpc/grpc-js',
  ],
  logLevel: 'warning',
});
