import { z } from 'zod';
import { KeelError, systemClock, timerDelay, type Trust } from '../core/index.js';
import { heuristicDetector } from '../guard/index.js';
import type { McpPinRecord } from '../store/index.js';
import {
  DEFAULT_TOOL_TIMEOUT_MS,
  ToolError,
  defineTool,
  type Tool,
  type ToolContext,
  type ToolEffect,
} from '../tools/index.js';
import { resultText, resultValue } from './call-result.js';
import { inputValidator } from './input-schema.js';
import { McpConnection, type McpListedTool } from './mcp-connection.js';
import { resultToolError } from './mcp-errors.js';
import { checkNamedTools, checkOptions, type McpToolsOptions } from './mcp-tools-options.js';
import { defaultPinMode } from './pin-check.js';
import { settlePin } from './settle-pin.js';
import { TOOL_SET, type McpToolSet } from './mcp-tool-set-registry.js';
import { toolStatus, type McpToolStatus } from './tool-status.js';
import { parseServerSpec, serverName } from './server-spec.js';
import {
  definitionOf,
  fingerprintOf,
  labelledDescription,
  type McpToolDefinition,
} from './tool-definition.js';

/**
 * Connect to an MCP server and make its tools Keel tools, under the same guards as any tool:
 * the effect you give each one (`irreversible` when you give none), results untrusted unless you
 * say otherwise, descriptions labelled as third-party text, timeouts, retries, breakers, cache,
 * audit and approvals through the tool executor. Each tool is offered to the model only while
 * its definition matches its pin in the store.
 *
 * ```ts
 * const orders = await mcpTools({
 *   server: 'stdio:node orders-server.mjs',
 *   effects: { lookup_order: 'read', send_reply: 'egress' },
 *   store,
 * });
 * const agent = defineAgent({ name: 'desk', model, instructions, tools: orders, gates: {} });
 * ```
 */
export async function mcpTools(options: McpToolsOptions): Promise<Tool[]> {
  return [...(await connectMcp(options)).tools];
}

/**
 * `mcpTools` with a handle on the set: its status, an explicit re-check, and `close`.
 *
 * ```ts
 * const orders = await connectMcp({ server: 'https://mcp.example.com/orders', headers: { Authorization: `Bearer ${token}` }, store });
 * console.table(orders.status());
 * ```
 */
export async function connectMcp(options: McpToolsOptions): Promise<McpToolSet> {
  checkOptions(options);
  const address = parseServerSpec(options.server, 'server', options.headers);
  const name = options.name ?? serverName(address);
  const mode = options.mode ?? defaultPinMode();
  const clock = options.clock ?? systemClock;
  const detector = options.detector ?? heuristicDetector;
  const verifyBeforeCall = options.verifyBeforeCall ?? true;
  let pins = options.store;
  let alerts = options.alerts;
  /** The check in progress, and one queued after it (a change announced meanwhile). */
  let checking: Promise<McpToolStatus[]> | undefined;
  let queued: Promise<McpToolStatus[]> | undefined;
  const connection = new McpConnection({
    address,
    name,
    connectTimeoutMs: options.connectTimeoutMs,
    onToolsChanged: () => {
      refresh().catch(() => undefined);
    },
  });

  let listed: McpListedTool[];
  try {
    listed = await connection.listTools();
  } catch (error) {
    await connection.close();
    throw new KeelError(
      'invalid_config',
      `cannot list the tools of MCP server "${name}": ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  checkNamedTools(options, new Set(listed.map((tool) => tool.name)));
  const include = options.include === undefined ? undefined : new Set(options.include);
  const selected = listed.filter((tool) => include?.has(tool.name) ?? true);

  /** The live definitions, by the tool's name on the server. */
  let live = new Map(selected.map((tool) => [tool.name, definitionOf(tool)]));
  const verdicts = new Map<string, McpToolStatus>();
  const validators = new Map<string, z.ZodObject>();

  const skipped: { name: string; reason: string }[] = [];
  const tools: Tool[] = [];
  /** Each tool Keel makes: its names in Keel and on the server, its effect and trust. */
  const entries: { keelName: string; serverTool: string; effect: ToolEffect; trust: Trust }[] = [];
  for (const tool of selected) {
    const keelName = `${options.prefix ?? ''}${tool.name}`;
    if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/.test(keelName)) {
      skipped.push({ name: tool.name, reason: `"${keelName}" is not a valid Keel tool name` });
      continue;
    }
    const effect = options.effects?.[tool.name] ?? 'irreversible';
    const trust = options.trust?.[tool.name] ?? 'untrusted';
    entries.push({ keelName, serverTool: tool.name, effect, trust });
    tools.push(makeTool(keelName, definitionOf(tool), effect, trust));
  }

  function makeTool(
    keelName: string,
    initial: McpToolDefinition,
    effect: ToolEffect,
    trust: Trust,
  ): Tool {
    const serverTool = initial.name;
    const current = (): McpToolDefinition => live.get(serverTool) ?? initial;
    const timeoutMs = options.tools?.[serverTool]?.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
    const base = defineTool({
      ...options.tools?.[serverTool],
      name: keelName,
      description: labelledDescription(name, current().description),
      input: z.looseObject({}),
      inputJsonSchema: current().inputSchema as Record<string, unknown>,
      effect,
      untrustedOutput: trust === 'untrusted',
      available: () => verdicts.get(serverTool)?.offered ?? false,
      run: (input, context) =>
        call(serverTool, timeoutMs, input as Record<string, unknown>, context),
    });
    // What the model sees follows the live definition (offered only while it is the pinned
    // one). Getters, so a copy of the tool (`{ ...tool }`, as replay makes) takes the current.
    const tool = Object.defineProperties(
      { ...base },
      {
        description: {
          enumerable: true,
          get: () => labelledDescription(name, current().description),
        },
        inputJsonSchema: {
          enumerable: true,
          get: () => current().inputSchema as Record<string, unknown>,
        },
        spec: {
          enumerable: true,
          get: () =>
            Object.freeze({
              name: keelName,
              description: labelledDescription(name, current().description),
              inputSchema: current().inputSchema as Record<string, unknown>,
            }),
        },
        input: { enumerable: true, get: () => validatorOf(current()) },
        // Part of the result cache's key: results cached under another definition are not served.
        version: { enumerable: true, get: () => fingerprintOf(current()).slice(0, 16) },
      },
    ) as Tool;
    Object.defineProperty(tool, TOOL_SET, { get: () => set });
    Object.freeze(tool);
    return tool;
  }

  function validatorOf(definition: McpToolDefinition): z.ZodObject {
    const key = fingerprintOf(definition);
    let validator = validators.get(key);
    if (!validator) {
      validator = inputValidator(definition.inputSchema);
      validators.set(key, validator);
    }
    return validator;
  }

  async function call(
    serverTool: string,
    timeoutMs: number,
    input: Record<string, unknown>,
    context: ToolContext,
  ): Promise<unknown> {
    // The barrier: a tool whose definition no longer matches its pin is never called.
    if (verifyBeforeCall) await verify(serverTool, context.signal);
    const verdict = verdicts.get(serverTool);
    if (!verdict?.offered) {
      throw new ToolError(
        'forbidden',
        `MCP tool "${serverTool}" of server "${name}" is withheld (${verdict?.state ?? 'unbound'}): it is offered again once a person approves its definition`,
      );
    }
    const result = await connection.callTool({
      name: serverTool,
      input,
      meta: {
        'keel/idempotencyKey': context.idempotencyKey,
        'keel/runId': context.runId,
        'keel/callId': context.callId,
      },
      signal: context.signal,
      timeoutMs,
    });
    // A change the server announced during the call is judged before the run goes on.
    await settled();
    if (result.isError === true) throw resultToolError(resultText(result), `${name}/${serverTool}`);
    return resultValue(result);
  }

  /**
   * Before a call: the server's definition of the tool now, against the one judged last. The
   * same and offered, the call goes on; otherwise the whole set is checked again (pins too).
   */
  async function verify(serverTool: string, signal: AbortSignal): Promise<void> {
    const listed = (await connection.listTools({ signal })).find(
      (tool) => tool.name === serverTool,
    );
    const judged = verdicts.get(serverTool);
    const fingerprint = listed ? fingerprintOf(definitionOf(listed)) : null;
    if (judged?.offered && fingerprint === judged.fingerprint) return;
    await refresh({ signal });
  }

  function refresh(refreshOptions: { readonly signal?: AbortSignal } = {}) {
    if (checking === undefined) return start(refreshOptions.signal);
    queued ??= checking
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return start(refreshOptions.signal);
      });
    return queued;
  }

  function start(signal: AbortSignal | undefined): Promise<McpToolStatus[]> {
    const run = check(signal).finally(() => {
      if (checking === run) checking = undefined;
    });
    checking = run;
    return run;
  }

  async function settled(): Promise<void> {
    await (queued ?? checking)?.catch(() => undefined);
  }

  async function check(signal: AbortSignal | undefined): Promise<McpToolStatus[]> {
    const listing = await connection.listTools({ signal });
    const definitions = new Map(listing.map((tool) => [tool.name, definitionOf(tool)]));
    const records = pins
      ? new Map((await pins.mcpPins.list({ server: name })).map((record) => [record.tool, record]))
      : undefined;
    const judged: [string, McpToolStatus][] = [];
    for (const entry of entries) {
      judged.push([entry.serverTool, await judge(entry, definitions, records)]);
    }
    // What the model is shown and whether it is offered change together, never one before the
    // other: a new description must not reach the model on the old verdict.
    live = definitions;
    for (const [serverTool, verdict] of judged) verdicts.set(serverTool, verdict);
    return status();
  }

  async function judge(
    entry: (typeof entries)[number],
    definitions: ReadonlyMap<string, McpToolDefinition>,
    records: ReadonlyMap<string, McpPinRecord> | undefined,
  ): Promise<McpToolStatus> {
    const definition = definitions.get(entry.serverTool);
    const status = statusOf(entry, definition, records?.get(entry.serverTool));
    if (!pins || !definition) return status;
    return settlePin({ status, definition, pins, mode, clock, alerts });
  }

  function statusOf(
    entry: (typeof entries)[number],
    definition: McpToolDefinition | undefined,
    record: McpPinRecord | undefined,
  ) {
    return toolStatus({
      name: entry.keelName,
      server: name,
      serverTool: entry.serverTool,
      effect: entry.effect,
      trust: entry.trust,
      definition,
      record,
      bound: pins !== undefined,
      detector,
    });
  }

  function status(): McpToolStatus[] {
    return entries.flatMap((entry) => {
      const verdict = verdicts.get(entry.serverTool);
      return verdict ? [verdict] : [];
    });
  }

  // Before any check: every tool is withheld until a store says otherwise.
  for (const entry of entries) {
    verdicts.set(entry.serverTool, statusOf(entry, live.get(entry.serverTool), undefined));
  }
  let timer: NodeJS.Timeout | undefined;
  const recheckMs = options.recheckMs ?? 60_000;
  const set: McpToolSet = {
    name,
    mode,
    tools: Object.freeze(tools),
    skipped: Object.freeze(skipped),
    status,
    refresh,
    get bound() {
      return pins !== undefined;
    },
    async bind(bindOptions) {
      if (pins) return;
      pins = bindOptions.store;
      alerts = bindOptions.alerts ?? alerts;
      await refresh();
    },
    async close() {
      clearInterval(timer);
      await settled();
      await connection.close();
    },
  };
  try {
    if (pins) await refresh();
  } catch (error) {
    await connection.close();
    throw new KeelError(
      'invalid_config',
      `cannot check the tools of MCP server "${name}" against their pins`,
      {
        cause: error,
      },
    );
  }
  if (recheckMs > 0) {
    timer = setInterval(() => {
      if (pins) refresh().catch(() => undefined);
    }, timerDelay(recheckMs));
    timer.unref();
  }
  return set;
}
