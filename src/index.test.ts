import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/*
 * The public API: what the package's entry points export, and that each export says what it is.
 * Read through the TypeScript checker, so type-only exports are held to it as well.
 */

const src = dirname(fileURLToPath(import.meta.url));
const ENTRY_POINTS = [
  join(src, 'index.ts'),
  join(src, 'testing.ts'),
  ...readdirSync(join(src, 'exports'))
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .map((file) => join(src, 'exports', file)),
];

const program = ts.createProgram(ENTRY_POINTS, {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2023,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();

/** Each export of an entry point: its name, whether it is a value, and its documentation. */
function exportsOf(entry: string): { name: string; value: boolean; documented: boolean }[] {
  const file = program.getSourceFile(entry);
  const module = file && checker.getSymbolAtLocation(file);
  if (!module) throw new Error(`no module symbol for ${entry}`);
  return checker.getExportsOfModule(module).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    const docs = ts.displayPartsToString(target.getDocumentationComment(checker)).trim();
    return {
      name: symbol.getName(),
      value: (target.flags & ts.SymbolFlags.Value) !== 0,
      documented: docs.length > 0,
    };
  });
}

describe('the public API', () => {
  it('keeps the root export to what a user writes agents with (at most 80 runtime values)', async () => {
    const root = await import('./index.js');
    const values = Object.keys(root);
    expect(values.length).toBeGreaterThan(20);
    expect(values.length).toBeLessThanOrEqual(80);
    for (const name of ['defineAgent', 'defineTool', 'createRuntime', 'openStore', 'simulator'])
      expect(values).toContain(name);
  });

  it('documents every export of every entry point', () => {
    const undocumented = ENTRY_POINTS.flatMap((entry) =>
      exportsOf(entry)
        .filter((item) => !item.documented)
        .map((item) => `${entry.slice(src.length + 1)}: ${item.name}`),
    );
    expect(undocumented).toEqual([]);
  });

  it('exports no internals from any entry point', async () => {
    const internals = [
      'ATTR',
      'EVENT_SPAN_MAPPINGS',
      'encodeTraceRequest',
      'argumentLeaves',
      'spotlightNonce',
      'SPOTLIGHT_PLACEHOLDER',
      'executeTool',
      'executeRun',
      'SqlStore',
    ];
    for (const entry of ENTRY_POINTS) {
      const loaded = (await import(entry)) as Record<string, unknown>;
      expect(Object.keys(loaded).filter((name) => internals.includes(name))).toEqual([]);
    }
  });
});

describe('the package manifest', () => {
  const manifest = JSON.parse(readFileSync(join(src, '..', 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };

  it('keeps test tools out of what a user installs', () => {
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain('fast-check');
    expect(Object.keys(manifest.devDependencies ?? {})).toContain('fast-check');
  });

  it('brings tsx as an optional dependency, loaded only for a TypeScript module', () => {
    expect(Object.keys(manifest.dependencies ?? {})).not.toContain('tsx');
    expect(Object.keys(manifest.optionalDependencies ?? {})).toContain('tsx');
    const cli = readdirSync(join(src, 'cli')).filter(
      (file) => file.endsWith('.ts') && !file.endsWith('.test.ts'),
    );
    const staticImports = cli.filter((file) =>
      /^import[^;]*from 'tsx/m.test(readFileSync(join(src, 'cli', file), 'utf8')),
    );
    expect(staticImports).toEqual([]);
  });
});
