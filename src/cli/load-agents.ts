import { existsSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Agent } from '../agent/index.js';
import { KeelError } from '../core/index.js';

const CONFIG_FILES = ['keel.config.ts', 'keel.config.mts', 'keel.config.js', 'keel.config.mjs'];

export interface LoadedAgents {
  readonly agents: readonly Agent[];
  /** Where they came from, for people: a module path or "the support-desk demo". */
  readonly source: string;
}

/** The part of tsx's ESM API (`tsx/esm/api`) that loads a TypeScript module. */
export interface TsxApi {
  tsImport(specifier: string, parentURL: string): Promise<unknown>;
}

export interface LoadAgentsOptions {
  /** Where `keel.config.*` and a relative `--agents` path are looked for. */
  readonly cwd?: string;
  /**
   * Loads tsx (an optional dependency of Keel that npm installs with it, so a project needs no
   * install of its own) the first time a `.ts`/`.mts`/`.cts` module is given (default:
   * `import('tsx/esm/api')`).
   */
  readonly loadTsx?: () => Promise<TsxApi>;
}

/** Agents loaded from modules: their tools may hold connections (MCP servers). */
const fromModules: Agent[] = [];

/** Close what tools loaded from a module still hold open (MCP connections), before exit. */
export async function closeLoadedTools(): Promise<void> {
  if (fromModules.length === 0) return;
  const { mcpToolSetsOf } = await import('../mcp/index.js');
  const sets = mcpToolSetsOf(fromModules.splice(0).flatMap((agent) => agent.tools));
  await Promise.all(sets.map((set) => set.close()));
}

/** Whether `--agents <module>` was given or a `keel.config.*` is in the working directory. */
export function hasAgentsModule(modulePath: string | undefined, cwd = process.cwd()): boolean {
  return modulePath !== undefined || CONFIG_FILES.some((name) => existsSync(resolve(cwd, name)));
}

/**
 * The runnable agents: from `--agents <module>`, else `keel.config.*` in the working
 * directory, else the support-desk demo's. A module exports `agents` (an array), or a default
 * export that is an array or `{ agents }`. A TypeScript module is loaded with tsx.
 */
export async function loadAgents(
  modulePath: string | undefined,
  { cwd = process.cwd(), loadTsx = defaultTsx }: LoadAgentsOptions = {},
): Promise<LoadedAgents> {
  const candidate =
    modulePath === undefined
      ? CONFIG_FILES.map((name) => resolve(cwd, name)).find((path) => existsSync(path))
      : resolve(cwd, modulePath);
  if (candidate === undefined) {
    const demo = (await import('../../examples/support-desk/agents.js')) as {
      supportDeskAgents: Agent[];
    };
    return {
      agents: demo.supportDeskAgents,
      source: 'the support-desk demo (examples/support-desk)',
    };
  }
  if (!existsSync(candidate)) {
    throw new KeelError('invalid_input', `agents module not found: ${candidate}`);
  }
  let loaded: unknown;
  try {
    loaded = /\.[mc]?ts$/.test(candidate)
      ? await importTypeScript(candidate, modulePath ?? relative(cwd, candidate), loadTsx)
      : await import(pathToFileURL(candidate).href);
  } catch (error) {
    if (KeelError.isInstance(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new KeelError('invalid_config', `cannot load agents from ${candidate}: ${message}`, {
      cause: error,
    });
  }
  const agents = pickAgents(loaded);
  if (!agents) {
    throw new KeelError(
      'invalid_config',
      `${candidate} must export "agents" (an array of defineAgent results) or a default export with them`,
    );
  }
  fromModules.push(...agents);
  return { agents, source: candidate };
}

/**
 * Candidate versions the agents module offers for shadowing: its `candidates` export (an
 * array of agents), or the support-desk demo's when no module is given. Empty when none.
 */
export async function loadCandidates(
  modulePath: string | undefined,
  { cwd = process.cwd(), loadTsx = defaultTsx }: LoadAgentsOptions = {},
): Promise<readonly Agent[]> {
  const path =
    modulePath === undefined
      ? CONFIG_FILES.map((name) => resolve(cwd, name)).find((each) => existsSync(each))
      : resolve(cwd, modulePath);
  if (path === undefined) {
    const demo = (await import('../../examples/support-desk/agents.js')) as {
      supportDeskCandidates?: Agent[];
    };
    return demo.supportDeskCandidates ?? [];
  }
  if (!existsSync(path)) return [];
  const loaded: unknown = /\.[mc]?ts$/.test(path)
    ? await importTypeScript(path, modulePath ?? relative(cwd, path), loadTsx)
    : await import(pathToFileURL(path).href);
  const exported = (loaded as { candidates?: unknown } | null)?.candidates;
  return Array.isArray(exported) && exported.every(isAgent) ? exported : [];
}

const defaultTsx = (): Promise<TsxApi> => import('tsx/esm/api');
/**
 * TypeScript modules already loaded, by loader and path: tsx evaluates a module again on each
 * import, and a module's agents may hold connections (MCP servers) that must be made once.
 */
const typeScriptModules = new WeakMap<() => Promise<TsxApi>, Map<string, Promise<unknown>>>();

export function importTypeScript(
  path: string,
  shownPath: string,
  loadTsx: () => Promise<TsxApi>,
): Promise<unknown> {
  const loaded = typeScriptModules.get(loadTsx) ?? new Map<string, Promise<unknown>>();
  typeScriptModules.set(loadTsx, loaded);
  let module = loaded.get(path);
  if (!module) {
    module = importTypeScriptOnce(path, shownPath, loadTsx);
    loaded.set(path, module);
    module.catch(() => loaded.delete(path));
  }
  return module;
}

async function importTypeScriptOnce(
  path: string,
  shownPath: string,
  loadTsx: () => Promise<TsxApi>,
): Promise<unknown> {
  let tsx: TsxApi;
  try {
    tsx = await loadTsx();
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new KeelError(
      'invalid_config',
      `${shownPath} needs the "tsx" package to load TypeScript: npm install --save-dev tsx (or point --agents at a compiled .js module)`,
      { cause: error },
    );
  }
  return await tsx.tsImport(pathToFileURL(path).href, import.meta.url);
}

function pickAgents(loaded: unknown): Agent[] | undefined {
  if (typeof loaded !== 'object' || loaded === null) return undefined;
  const module = loaded as { agents?: unknown; default?: unknown };
  const candidates = [
    module.agents,
    module.default,
    (module.default as { agents?: unknown } | undefined)?.agents,
  ];
  for (const value of candidates) {
    if (Array.isArray(value) && value.every(isAgent)) return value;
  }
  return undefined;
}

function isAgent(value: unknown): value is Agent {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Agent).name === 'string' &&
    typeof (value as Agent).instructions === 'string' &&
    typeof (value as Agent).withModel === 'function'
  );
}
