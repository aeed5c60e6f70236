// Bundles the package entry points and the CLI in place after `tsc` (and minifies the
// dashboard's assets): Kysely loads as one file instead of ~300 ES modules, which is most of
// Keel's import time, and a `keel` command loads a few chunks instead of Keel's whole tree (a
// config's `import 'keel'` then shares the CLI's copy of Keel instead of loading a second one).
// Whitespace and syntax are minified (names are kept, and source maps ship beside the chunks):
// half the bytes to read and compile at every cold start. Lines stay short, so the source line
// Node prints above an uncaught error is one line of code, not a whole chunk.
// Kept external: zod (user code must share its instance), the native SQLite driver, pg, the
// OpenAI SDK (loaded on first use), tsx (loaded only for TypeScript configs), and the
// Anthropic SDK, the tokenizer, the price table and the MCP SDK (each loaded on first use), and
// OpenTelemetry's exporters with gRPC (loaded only when a trace is first exported); commander
// and picocolors, CommonJS modules that `require` Node's own modules, which a chunk cannot.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// The root, `keel/testing`, the CLI, and every subpath in src/exports/ (`keel/guard`, ...): one
// build, so they share chunks (and one copy of each part) instead of bundling the runtime per
// entry.
const subpaths = readdirSync('dist/src/exports')
  .filter((file) => file.endsWith('.js'))
  .map((file) => `dist/src/exports/${file}`);
// Chunks of an earlier build are not left to ship beside this one's.
rmSync('dist/src/chunks', { recursive: true, force: true });

const entries = ['dist/src/index.js', 'dist/src/testing.js', 'dist/src/cli/main.js', ...subpaths];

await build({
  entryPoints: entries,
  outdir: 'dist/src',
  outbase: 'dist/src',
  allowOverwrite: true,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  lineLimit: 100,
  chunkNames: 'chunks/[name]-[hash]',
  external: [
    // The demo stays the files it is (dist/examples/), as a user's agents module would be: it
    // finds its worker script beside itself, and imports Keel through the entry point. The
    // path is the same from dist/src/cli/ and from dist/src/chunks/.
    '../../examples/*',
    'zod',
    'commander',
    'picocolors',
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
    '@modelcontextprotocol/sdk',
    '@modelcontextprotocol/sdk/*',
    '@opentelemetry/*',
    '@grpc/grpc-js',
  ],
  logLevel: 'warning',
});

// The dashboard's browser assets (src/server/assets): its stylesheet and its one script,
// minified beside the server module that serves them. No bundling: neither imports anything.
await build({
  entryPoints: ['src/server/assets/live.js', 'src/server/assets/dashboard.css'],
  outdir: 'dist/src/server/assets',
  minify: true,
  target: ['chrome120', 'firefox115', 'safari16'],
  logLevel: 'warning',
});
