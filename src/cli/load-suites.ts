import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KeelError } from '../core/index.js';
import { defineSuite, isEvalSuite, type EvalSuite, type SuiteDefinition } from '../eval/index.js';
import { importTypeScript, type TsxApi } from './load-agents.js';

/** A suite and the file it came from. */
export interface LoadedSuite {
  /** The suite's `name`, else its file's name without `.eval.*`. */
  readonly name: string;
  readonly path: string;
  readonly suite: EvalSuite;
}

const SUITE_FILE = /\.eval\.(?:[mc]?ts|[mc]?js|json)$/;

/**
 * The suites in files and directories (a directory: every `*.eval.{ts,js,json}` in it). A
 * module's default export (or `suite`) is a `defineSuite` result or its definition; a JSON
 * file is a definition.
 */
export async function loadSuites(
  paths: readonly string[],
  {
    cwd = process.cwd(),
    loadTsx = () => import('tsx/esm/api'),
  }: { cwd?: string; loadTsx?: () => Promise<TsxApi> } = {},
): Promise<LoadedSuite[]> {
  const files = paths.flatMap((path) => suiteFiles(resolve(cwd, path), path));
  const suites: LoadedSuite[] = [];
  for (const file of files) {
    const shown = relative(cwd, file) || file;
    const suite = await loadSuite(file, shown, loadTsx);
    const name =
      suite.name ??
      basename(file)
        .replace(SUITE_FILE, '')
        .replace(/\.json$/, '');
    if (suites.some((loaded) => loaded.name === name)) {
      throw new KeelError('invalid_input', `two suites are named "${name}" (${shown})`);
    }
    suites.push({ name, path: shown, suite });
  }
  return suites;
}

function suiteFiles(path: string, shown: string): string[] {
  if (!existsSync(path)) throw new KeelError('invalid_input', `suite not found: ${shown}`);
  if (!statSync(path).isDirectory()) return [path];
  // In a directory, plain JSON files are suites too (`keel init` writes evals/<agent>.json).
  const files = readdirSync(path)
    .filter((name) => SUITE_FILE.test(name) || name.endsWith('.json'))
    .sort()
    .map((name) => join(path, name));
  if (files.length === 0) {
    throw new KeelError('invalid_input', `${shown} holds no suite (*.eval.ts, *.eval.js, *.json)`);
  }
  return files;
}

async function loadSuite(
  file: string,
  shown: string,
  loadTsx: () => Promise<TsxApi>,
): Promise<EvalSuite> {
  let loaded: unknown;
  try {
    if (file.endsWith('.json'))
      loaded = { default: JSON.parse(readFileSync(file, 'utf8')) as unknown };
    else if (/\.[mc]?ts$/.test(file)) loaded = await importTypeScript(file, shown, loadTsx);
    else loaded = await import(pathToFileURL(file).href);
  } catch (error) {
    if (KeelError.isInstance(error)) throw withFile(error, shown);
    const message = error instanceof Error ? error.message : String(error);
    throw new KeelError('invalid_input', `cannot load suite ${shown}: ${message}`, {
      cause: error,
    });
  }
  const module = loaded as { default?: unknown; suite?: unknown };
  const candidate = module.suite ?? module.default;
  if (isEvalSuite(candidate)) return candidate;
  if (typeof candidate !== 'object' || candidate === null) {
    throw new KeelError(
      'invalid_input',
      `${shown} must export a suite (export default defineSuite({...}))`,
    );
  }
  try {
    return defineSuite(candidate as SuiteDefinition);
  } catch (error) {
    throw KeelError.isInstance(error) ? withFile(error, shown) : error;
  }
}

function withFile(error: KeelError, shown: string): KeelError {
  return new KeelError(error.code, `${shown}: ${error.message}`, { cause: error });
}
