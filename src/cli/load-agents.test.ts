import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KeelError } from '../index.js';
import { loadAgents, type TsxApi } from './load-agents.js';

const LIBRARY = fileURLToPath(new URL('../index.js', import.meta.url));

/** One simulator agent; the type annotation makes it a module only tsx can load. */
const AGENTS_MODULE = `
import { defineAgent, simulator } from ${JSON.stringify(LIBRARY)};

const name: string = 'greeter';

export const agents = [
  defineAgent({
    name,
    description: 'Says hello.',
    model: simulator({ script: () => ({ text: 'hello' }) }),
    instructions: 'Say hello.',
    tools: [],
  }),
];
`;

const directories: string[] = [];
afterAll(async () => {
  await Promise.all(directories.map((path) => rm(path, { recursive: true, force: true })));
});

function directoryWith(files: Record<string, string>): string {
  const directory = realpathSync(mkdtempSync(join(tmpdir(), 'keel-load-agents-')));
  directories.push(directory);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(directory, name), text);
  return directory;
}

/**
 * tsx as it is when the package is not installed: a real dynamic import of a package that
 * does not exist, so the error is the one module resolution raises (ERR_MODULE_NOT_FOUND).
 */
const absentTsx = async (): Promise<TsxApi> => {
  const specifier = 'keel-test-absent-package/esm/api';
  return (await import(specifier)) as TsxApi;
};

async function failureOf(promise: Promise<unknown>): Promise<KeelError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!KeelError.isInstance(error)) throw new Error(`expected a KeelError, got ${String(error)}`);
  return error;
}

describe('loadAgents', () => {
  it('loads keel.config.ts through tsx when tsx is installed', async () => {
    const cwd = directoryWith({ 'keel.config.ts': AGENTS_MODULE });

    const { agents, source } = await loadAgents(undefined, { cwd });

    expect({ names: agents.map((agent) => agent.name), source }).toEqual({
      names: ['greeter'],
      source: join(cwd, 'keel.config.ts'),
    });
  });

  it('names the tsx package and the fix when keel.config.ts is found without tsx', async () => {
    const cwd = directoryWith({ 'keel.config.ts': AGENTS_MODULE });

    const error = await failureOf(loadAgents(undefined, { cwd, loadTsx: absentTsx }));

    expect({ code: error.code, message: error.message }).toEqual({
      code: 'invalid_config',
      message:
        'keel.config.ts needs the "tsx" package to load TypeScript: npm install --save-dev tsx (or point --agents at a compiled .js module)',
    });
  });

  it('names the --agents path as given when a .mts module is given without tsx', async () => {
    const cwd = directoryWith({ 'agents.mts': AGENTS_MODULE });

    const error = await failureOf(loadAgents('./agents.mts', { cwd, loadTsx: absentTsx }));

    expect(error.message).toBe(
      './agents.mts needs the "tsx" package to load TypeScript: npm install --save-dev tsx (or point --agents at a compiled .js module)',
    );
  });

  it('does not load tsx for a JavaScript module', async () => {
    const cwd = directoryWith({
      'agents.mjs': `export const agents = [{ name: 'plain', instructions: 'x', withModel() { return this; } }];\n`,
    });
    let tsxLoads = 0;
    const countingTsx = (): Promise<TsxApi> => {
      tsxLoads++;
      return absentTsx();
    };

    const { agents } = await loadAgents('agents.mjs', { cwd, loadTsx: countingTsx });

    expect({ names: agents.map((agent) => agent.name), tsxLoads }).toEqual({
      names: ['plain'],
      tsxLoads: 0,
    });
  });

  it('reports a tsx that fails for another reason as a config it cannot load', async () => {
    const cwd = directoryWith({ 'keel.config.ts': AGENTS_MODULE });
    const brokenTsx = (): Promise<TsxApi> => Promise.reject(new Error('esbuild binary missing'));

    const error = await failureOf(loadAgents(undefined, { cwd, loadTsx: brokenTsx }));

    expect({ code: error.code, message: error.message }).toEqual({
      code: 'invalid_config',
      message: `cannot load agents from ${join(cwd, 'keel.config.ts')}: esbuild binary missing`,
    });
  });
});
