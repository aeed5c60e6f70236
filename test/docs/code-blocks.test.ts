import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { documentationBlocks, extractBlocks, type CodeBlock } from './code-blocks.js';

/*
 * Every ```ts block in README.md and docs/ compiles against the package's published types (the
 * package imports itself by name, `keel` and `keel/*`, through package.json's `exports`), in one
 * TypeScript program; blocks marked ```ts run are also executed, on the simulator, in one Node
 * process. A block marked ```ts no-compile is a fragment and is skipped.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the package (so `import 'keel'` is a self-reference) and ignored by git and the linters.
const work = join(root, '.keel', `doc-blocks-${process.pid}`);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const blocks = documentationBlocks(root);

function newestIn(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestIn(path));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.includes('.test.'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function fileName(index: number): string {
  return join(work, `block-${String(index).padStart(3, '0')}.ts`);
}

/** Compile every block in one program; emit JavaScript for the runnable ones. */
function compile(toCompile: readonly CodeBlock[]): {
  errors: string[];
  emitted: Map<CodeBlock, string>;
} {
  mkdirSync(work, { recursive: true });
  const files = new Map<string, CodeBlock>();
  toCompile.forEach((block, index) => {
    const path = fileName(index);
    // `export {}` keeps each block a module of its own: top-level names never collide.
    writeFileSync(path, `${block.code}\nexport {};\n`);
    files.set(path, block);
  });
  const program = ts.createProgram([...files.keys()], {
    target: ts.ScriptTarget.ES2023,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: true,
    outDir: join(work, 'out'),
    rootDir: work,
  });
  const describe = (diagnostic: ts.Diagnostic): string => {
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    const block = diagnostic.file ? files.get(diagnostic.file.fileName) : undefined;
    if (!diagnostic.file || !block || diagnostic.start === undefined) return text;
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${block.file}:${block.line + line}: ${text}`;
  };
  const errors = [...program.getSyntacticDiagnostics(), ...program.getSemanticDiagnostics()]
    .filter((diagnostic) => diagnostic.category === ts.DiagnosticCategory.Error)
    .map(describe);
  const emitted = new Map<CodeBlock, string>();
  for (const [path, block] of files) {
    if (block.mode !== 'run') continue;
    program.emit(program.getSourceFile(path));
    emitted.set(block, join(work, 'out', `${path.slice(work.length + 1, -3)}.js`));
  }
  return { errors, emitted };
}

describe('the code blocks of README.md and docs/', () => {
  it('finds blocks and reads their marks', () => {
    expect(
      extractBlocks(
        'x.md',
        '# x\n```ts\nconst a = 1;\n```\n```ts run\nb();\n```\n```ts no-compile\n…\n```\n',
      ).map((block) => [block.line, block.mode, block.code]),
    ).toEqual([
      [3, 'compile', 'const a = 1;'],
      [6, 'run', 'b();'],
      [9, 'no-compile', '…'],
    ]);
    expect(blocks.filter((block) => block.mode === 'run').length).toBeGreaterThan(0);
  });

  it('compile against the package types, and the runnable ones run on the simulator', async () => {
    const types = join(root, 'dist', 'src', 'index.d.ts');
    expect(existsSync(types), 'the package is not built: npm run build').toBe(true);
    expect(
      statSync(types).mtimeMs >= newestIn(join(root, 'src')),
      'dist/ is older than src/: npm run build',
    ).toBe(true);

    const { errors, emitted } = compile(blocks.filter((block) => block.mode !== 'no-compile'));
    expect(errors).toEqual([]);

    // One process runs every runnable block in turn, each with its own store and simulator.
    const runner = join(work, 'out', 'run-all.mjs');
    const entries = [...emitted].map(([block, path]) => ({
      where: `${block.file}:${block.line}`,
      path,
    }));
    writeFileSync(
      runner,
      `for (const entry of ${JSON.stringify(entries)}) {
        try { await import(entry.path); }
        catch (error) { console.error(entry.where + ': ' + (error?.stack ?? error)); process.exitCode = 1; break; }
      }`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.KEEL_STORE;
    delete env.KEEL_MODEL;
    const outcome = await promisify(execFile)(process.execPath, [runner], { cwd: work, env }).then(
      () => 'ran',
      (error: unknown) => (error as { stderr?: string }).stderr ?? 'the runner failed to start',
    );
    expect(outcome).toBe('ran');
  }, 120_000);
});
