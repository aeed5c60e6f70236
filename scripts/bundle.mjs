// Bundles the package entry points and the CLI in place after `tsc` (and minifies the
// dashboard's assets): Kysely loads as one file instead of ~300 ES modules, which is most of
// Keel's import time, and a `keel` command loads a few chunks instead of Keel's whole tree (a
// config's `import 'keel'` then shares the CLI's copy of Keel instead of loading a second one).
// Whitespace and syntax are minified (names are kept, and source maps ship beside the chunks):
// half the bytes to read and compile at every cold start. Lines stay short, so the source line
// Node prints above an uncaught error is one line of code, not a whole chunk.
// The OpenAI and Anthropic SDKs are bundled too, each into a chunk of its own that the adapter
// loads on its first call: as packages they are ~150 ES modules each, and loading the OpenAI
// SDK took ~60 ms of a cold start against ~9 ms as one chunk. Keel makes its own clients and
// checks errors against the classes of the copy it loaded; the one thing a user sees of that
// copy is a `ModelCallError`'s `cause` (docs/models.md says to go by the error's `type`).
// Kept external: zod (user code must share its instance), the native SQLite driver, pg, tsx
// (loaded only for TypeScript configs), the tokenizer, the price table and the MCP SDK (each
// loaded on first use), and OpenTelemetry's exporters with gRPC (loaded only when a trace is
// first exported); commander and picocolors, CommonJS modules that `require` Node's own
// modules, which a chunk cannot.
// The licences of the packages bundled ship beside the chunks (dist/src/THIRD-PARTY-LICENSES).
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const { metafile } = await build({
  entryPoints: entries,
  metafile: true,
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
    'tsx',
    'tsx/*',
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

// Every package with code in a chunk (the innermost node_modules/ directory of each input, so a
// nested copy is credited with its own version), and every licence and notice file it ships.
const bundled = new Set();
for (const input of Object.keys(metafile.inputs)) {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) bundled.add(match[1].replace(/^.*?node_modules\//, 'node_modules/'));
}
const notices = [...bundled].sort().map((directory) => {
  const { name, version, license } = JSON.parse(readFileSync(`${directory}/package.json`, 'utf8'));
  const licence = typeof license === 'string' ? license : 'not given';
  const files = readdirSync(directory)
    .filter((entry) => /^(licen[sc]e|copying|notice)/i.test(entry))
    .sort();
  const texts =
    files.length === 0
      ? [`The package ships no licence file; its package.json gives the licence as ${licence}.`]
      : files.map(
          (file) => `### ${file}\n\n${readFileSync(`${directory}/${file}`, 'utf8').trim()}`,
        );
  return `## ${name} ${version} (${licence})\n\n${texts.join('\n\n')}\n`;
});
writeFileSync(
  'dist/src/THIRD-PARTY-LICENSES.md',
  `# Third-party code bundled into Keel's chunks\n\n${notices.join('\n')}`,
);

// The dashboard's browser assets (src/server/assets): its stylesheet and its one script,
// minified beside the server module that serves them. No bundling: neither imports anything.
await build({
  entryPoints: ['src/server/assets/live.js', 'src/server/assets/dashboard.css'],
  outdir: 'dist/src/server/assets',
  minify: true,
  target: ['chrome120', 'firefox115', 'safari16'],
  logLevel: 'warning',
});
