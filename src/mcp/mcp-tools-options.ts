import { KeelError, TRUST_LEVELS, type Clock, type Trust } from '../core/index.js';
import type { InjectionDetector } from '../guard/index.js';
import type { Alert, AlertNotifier } from '../observe/index.js';
import type { Store } from '../store/index.js';
import { TOOL_EFFECTS, type ToolDefinition, type ToolEffect } from '../tools/index.js';
import { MCP_PIN_MODES, type McpPinMode } from './pin-check.js';
import type { McpServerSpec } from './server-spec.js';

/** Where pins, their audit entries and the changes waiting for approval are kept. */
export type McpPinSource = Pick<Store, 'mcpPins' | 'audit'>;

/** Resilience options for one MCP tool, as any Keel tool has them. */
export type McpToolOptions = Pick<
  ToolDefinition,
  'idempotent' | 'timeoutMs' | 'retry' | 'breaker' | 'bulkhead' | 'cache' | 'escape'
>;

/** Where alerts about withheld tools go. */
export interface McpAlertOptions {
  readonly notifier?: AlertNotifier | undefined;
  /** Called with each alert as it is raised. Must not throw. */
  readonly onAlert?: ((alert: Alert) => void) | undefined;
}

/** What `mcpTools` takes: the server, each tool's effect and trust, the pin mode and the store. */
export interface McpToolsOptions {
  /** `stdio:<command line>`, an `http(s)://` URL, or `{ command, args, env }` / `{ url, headers }`. */
  readonly server: McpServerSpec;
  /** The name pins are kept under (default: the command line, or the URL without its query). */
  readonly name?: string | undefined;
  /** HTTP headers for every request (e.g. `{ Authorization: 'Bearer …' }`). */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * Each tool's effect, decided by you. A tool without one is `irreversible` (gated by default
   * gates), whatever the server's annotations say.
   */
  readonly effects?: Readonly<Record<string, ToolEffect>> | undefined;
  /** Tools whose results are `trusted`; every other tool's results are untrusted content. */
  readonly trust?: Readonly<Record<string, Trust>> | undefined;
  /** Timeouts, retries, breaker, bulkhead, cache and escape per tool. */
  readonly tools?: Readonly<Record<string, McpToolOptions>> | undefined;
  /** Only these of the server's tools (default: all it lists). */
  readonly include?: readonly string[] | undefined;
  /** Put before each tool's name in Keel (e.g. `orders_`), to keep two servers' tools apart. */
  readonly prefix?: string | undefined;
  /** The store holding pins. Without one, tools stay withheld until `bindMcpTools` gives one. */
  readonly store?: McpPinSource | undefined;
  /** `development` pins automatically; `production` withholds (default from `NODE_ENV`). */
  readonly mode?: McpPinMode | undefined;
  readonly alerts?: McpAlertOptions | undefined;
  /** Scans tool descriptions for instruction-like text (default: the guard's heuristics). */
  readonly detector?: InjectionDetector | undefined;
  /** List the server's tools again before each call, so a changed tool is never called (default true). */
  readonly verifyBeforeCall?: boolean | undefined;
  /** Check the server and the pins this often even without calls, in ms (default 60 000; 0: never). */
  readonly recheckMs?: number | undefined;
  readonly connectTimeoutMs?: number | undefined;
  readonly clock?: Clock | undefined;
}

/** Check the options that need no server; throws `invalid_definition` naming the field. */
export function checkOptions(options: McpToolsOptions): void {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `mcpTools: "${field}" ${problem}`);
  };
  if (typeof options !== 'object' || (options as unknown) === null) {
    throw new KeelError('invalid_definition', 'mcpTools: the options must be an object');
  }
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    fail('name', 'must be a non-empty string');
  }
  for (const [tool, effect] of Object.entries(options.effects ?? {})) {
    if (!TOOL_EFFECTS.includes(effect))
      fail(`effects.${tool}`, `must be one of ${TOOL_EFFECTS.join(', ')}`);
  }
  for (const [tool, trust] of Object.entries(options.trust ?? {})) {
    if (!TRUST_LEVELS.includes(trust))
      fail(`trust.${tool}`, `must be one of ${TRUST_LEVELS.join(', ')}`);
  }
  if (options.mode !== undefined && !MCP_PIN_MODES.includes(options.mode)) {
    fail('mode', `must be one of ${MCP_PIN_MODES.join(', ')}`);
  }
  if (options.prefix !== undefined && !/^[a-zA-Z][a-zA-Z0-9_-]{0,31}$/.test(options.prefix)) {
    fail('prefix', 'must start with a letter and use only letters, digits, _ or -');
  }
  const recheckMs = options.recheckMs;
  if (recheckMs !== undefined && !(Number.isFinite(recheckMs) && recheckMs >= 0)) {
    fail('recheckMs', 'must be a number of milliseconds >= 0');
  }
  if (options.store !== undefined && typeof options.store.mcpPins?.list !== 'function') {
    fail('store', 'must be a Keel store (openStore)');
  }
}

/**
 * Every tool name the options mention must be one the server lists: a setting for a tool that
 * does not exist would silently do nothing.
 */
export function checkNamedTools(options: McpToolsOptions, listed: ReadonlySet<string>): void {
  const named: [string, readonly string[]][] = [
    ['effects', Object.keys(options.effects ?? {})],
    ['trust', Object.keys(options.trust ?? {})],
    ['tools', Object.keys(options.tools ?? {})],
    ['include', options.include ?? []],
  ];
  for (const [field, names] of named) {
    for (const name of names) {
      if (!listed.has(name)) {
        const known = [...listed].join(', ') || 'none';
        throw new KeelError(
          'invalid_definition',
          `mcpTools: "${field}" names "${name}", which the server does not list (it lists: ${known})`,
        );
      }
    }
  }
}
