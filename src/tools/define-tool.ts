import { z } from 'zod';
import { KeelError, allFieldsOf, refuseUnknownFields } from '../core/index.js';
import type { ToolSpec } from '../model/index.js';
import {
  TOOL_ERROR_TYPES,
  TRANSIENT_TOOL_ERRORS,
  type ToolErrorType,
  type ToolFailure,
} from './tool-error.js';

import { TOOL_EFFECTS, type DecisionEvent, type ToolEffect } from '../journal/index.js';

export { TOOL_EFFECTS, type ToolEffect };

/** One entry of a decision made inside a tool call, tagged with the decision's id. */
export interface JournaledDecisionEntry {
  readonly decisionId: string;
  /** The decision's own event (`decision_attempt`, `decision_vote`, ...): plain JSON. */
  readonly entry: DecisionEvent;
}

/**
 * The run's journal as one tool call sees it, so that `decide({ run: context })` inside the
 * call journals into the run: its entries become `decision_recorded` events of this call, and
 * a re-executed call (a retry, a resume after a crash, a replay) is served the decisions it
 * already made instead of asking the model again.
 */
export interface ToolCallJournal {
  /** Decision entries this call already journaled, oldest first. */
  earlier(): readonly JournaledDecisionEntry[];
  /** Commit entries to the run's journal, all or none. */
  append(entries: readonly JournaledDecisionEntry[]): Promise<void>;
}

/** What a tool receives besides its input. */
export interface ToolContext {
  readonly signal: AbortSignal;
  /** Stable across retries and resumes of this call: derived from (run, step, call index). */
  readonly idempotencyKey: string;
  readonly runId: string;
  readonly callId: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** Say the result about to be returned is partial: it is then never cached. */
  markPartial(): void;
  /** Set when the call runs inside a run: pass the context to `decide({ run })`. */
  readonly journal?: ToolCallJournal | undefined;
}

/** How a tool is retried: attempts and backoff (only reads and idempotent tools are retried). */
export interface ToolRetryOptions {
  /** Total attempts including the first. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** The transient errors worth another attempt for this tool (default: all three). */
  readonly on: readonly ToolErrorType[];
}

/** A circuit breaker per tool, shared by every worker through the store. */
export interface ToolBreakerOptions {
  /** Consecutive `unavailable`/`timeout`/`internal` failures that open the breaker. */
  readonly failureThreshold: number;
  /** How long an open breaker fails calls fast before one probe call may run. */
  readonly cooldownMs: number;
}

/** Calls of one tool running at once in this process, and how many may wait for a slot. */
export interface ToolBulkheadOptions {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
}

/** Results of a `read` tool kept in the store, keyed by tool name, version and arguments. */
export interface ToolCacheOptions {
  readonly ttlMs: number;
}

/**
 * What happens when a call still fails after its retries, for the error types in `on`
 * (default: `unavailable`, `timeout`, `rate_limited`, `internal`). `fallback` answers with a
 * degraded result, marked as such in the journal and to the model; `handoff` ends the run
 * `escalated` with the reason and everything gathered so far.
 */
export type ToolEscape =
  | {
      readonly type: 'fallback';
      readonly on?: readonly ToolErrorType[];
      value(failure: ToolFailure, input: unknown): unknown;
    }
  | { readonly type: 'handoff'; readonly on?: readonly ToolErrorType[]; readonly reason?: string };

/** What `defineTool` takes: name, description, input schema, effect, `run`, and its resilience options. */
export interface ToolDefinition<Input extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly input: Input;
  /**
   * The input as the model is told about it, when the JSON Schema comes from elsewhere (an MCP
   * server's) and `input` only approximates it. `input` still validates every call. Default:
   * derived from `input`.
   */
  readonly inputJsonSchema?: Record<string, unknown> | undefined;
  readonly effect: ToolEffect;
  /** Its output comes from outside (web, email, documents): labelled untrusted. */
  readonly untrustedOutput?: boolean;
  /**
   * Its output is private (`true`), or these fields of it are (`['code', 'cards[].number']`):
   * once untrusted content entered the run, a private value may not flow into an `egress`,
   * `write` or `irreversible` call bound for a destination the task did not name (nor the
   * guard's allow-list), and it is removed from every URL of the final answer.
   */
  readonly privateOutput?: boolean | readonly string[];
  /**
   * Fields holding secrets (card numbers, national ids), by path (`card.number`,
   * `cards[].number`): the model and the tool see the real values; the audit log keeps a salted
   * digest in their place. Input paths must name fields of `input`.
   */
  readonly secretFields?:
    { readonly input?: readonly string[]; readonly output?: readonly string[] } | undefined;
  /** Safe to repeat with the same input; only idempotent tools (or reads) are retried. */
  readonly idempotent?: boolean;
  readonly timeoutMs?: number;
  readonly retry?: Partial<ToolRetryOptions>;
  /** Part of the cache key: bump it when the tool's results change meaning. Default `1`. */
  readonly version?: string;
  /** `false` turns the breaker off. */
  readonly breaker?: Partial<ToolBreakerOptions> | false;
  readonly bulkhead?: Partial<ToolBulkheadOptions>;
  /** Only for `read` tools. */
  readonly cache?: ToolCacheOptions | undefined;
  readonly escape?: ToolEscape | undefined;
  /**
   * Whether the tool may be offered to the model now (default: always). A tool that says no is
   * left out of the step's tool list and a call to it is refused as `forbidden` before it runs
   * (an MCP tool whose definition no longer matches its pin, for example).
   */
  readonly available?: (() => boolean) | undefined;
  run(input: z.output<Input>, context: ToolContext): Promise<unknown>;
}

/** A validated, frozen tool. */
export interface Tool<Input extends z.ZodType = z.ZodType> extends ToolDefinition<Input> {
  readonly untrustedOutput: boolean;
  /** What of its output is private: all of it, these field paths, or nothing (`false`). */
  readonly privateOutput: true | readonly string[] | false;
  readonly secretFields: { readonly input: readonly string[]; readonly output: readonly string[] };
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly retry: ToolRetryOptions;
  readonly version: string;
  readonly breaker: ToolBreakerOptions | false;
  readonly bulkhead: ToolBulkheadOptions;
  readonly cache: ToolCacheOptions | undefined;
  readonly escape: ToolEscape | undefined;
  /** The tool as the model is told about it. */
  readonly spec: ToolSpec;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
export const DEFAULT_TOOL_RETRY: ToolRetryOptions = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  on: Object.freeze(['rate_limited', 'unavailable', 'timeout'] as const),
});

export const DEFAULT_TOOL_BREAKER: ToolBreakerOptions = Object.freeze({
  failureThreshold: 5,
  cooldownMs: 30_000,
});
export const DEFAULT_TOOL_BULKHEAD: ToolBulkheadOptions = Object.freeze({
  maxConcurrent: 16,
  maxQueued: 256,
});
/** Failures an escape hatch handles unless its `on` says otherwise. */
export const DEFAULT_ESCAPE_ON: readonly ToolErrorType[] = Object.freeze([
  'unavailable',
  'timeout',
  'rate_limited',
  'internal',
]);

const TOOL_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/**
 * The fields of a `ToolDefinition`, and `spec`: a tool is redefined from a copy of itself
 * (`defineTool({ ...tool, run })`), whose `spec` is made again. Any other is refused, as a
 * misspelt option.
 */
const TOOL_FIELDS = allFieldsOf<ToolDefinition & Pick<Tool, 'spec'>>()([
  'name',
  'description',
  'input',
  'inputJsonSchema',
  'effect',
  'run',
  'available',
  'untrustedOutput',
  'privateOutput',
  'secretFields',
  'idempotent',
  'timeoutMs',
  'retry',
  'version',
  'breaker',
  'bulkhead',
  'cache',
  'escape',
  'spec',
]);

/** A field of either kind of escape. */
type EscapeField = ToolEscape extends infer Each
  ? Each extends unknown
    ? keyof Each
    : never
  : never;

/** The fields of each option object a tool takes. */
const TOOL_OPTION_FIELDS: readonly (readonly [
  'secretFields' | 'retry' | 'breaker' | 'bulkhead' | 'cache' | 'escape',
  readonly string[],
])[] = [
  ['secretFields', allFieldsOf<NonNullable<ToolDefinition['secretFields']>>()(['input', 'output'])],
  ['retry', allFieldsOf<ToolRetryOptions>()(['maxAttempts', 'initialDelayMs', 'maxDelayMs', 'on'])],
  ['breaker', allFieldsOf<ToolBreakerOptions>()(['failureThreshold', 'cooldownMs'])],
  ['bulkhead', allFieldsOf<ToolBulkheadOptions>()(['maxConcurrent', 'maxQueued'])],
  ['cache', allFieldsOf<ToolCacheOptions>()(['ttlMs'])],
  ['escape', allFieldsOf<Record<EscapeField, unknown>>()(['type', 'on', 'value', 'reason'])],
];

/**
 * Define a tool. Invalid definitions throw a `KeelError` with code `invalid_definition`
 * naming the field, at definition time.
 *
 * ```ts
 * const lookupOrder = defineTool({
 *   name: 'lookup_order',
 *   description: 'Find an order by id',
 *   input: z.object({ orderId: z.string() }),
 *   effect: 'read',
 *   async run({ orderId }) { return orders.get(orderId) ?? null; },
 * });
 * ```
 */
export function defineTool<Input extends z.ZodType>(
  definition: ToolDefinition<Input>,
): Tool<Input> {
  if (typeof definition !== 'object' || (definition as unknown) === null) {
    throw new KeelError('invalid_definition', 'defineTool: "definition" must be an object');
  }
  const where = `defineTool(${typeof definition.name === 'string' ? JSON.stringify(definition.name) : '?'})`;
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "${field}" ${problem}`);
  };
  if (typeof definition.name !== 'string' || !TOOL_NAME.test(definition.name)) {
    fail('name', 'must start with a letter and use only letters, digits, _ or - (at most 64)');
  }
  refuseUnknownFields(definition, TOOL_FIELDS, fail);
  for (const [field, known] of TOOL_OPTION_FIELDS) {
    const given: unknown = definition[field];
    // Its shape (an object, not a list) is checked with its values below.
    if (typeof given !== 'object' || given === null || Array.isArray(given)) continue;
    refuseUnknownFields(given, known, fail, `${field}.`);
  }
  if (typeof definition.description !== 'string' || definition.description.trim() === '') {
    fail('description', 'must be a non-empty string');
  }
  if (!(definition.input instanceof z.ZodObject)) fail('input', 'must be a zod object schema');
  // Strict unless the schema says otherwise (`z.looseObject`, `.catchall()`): a key the tool
  // does not declare is refused, never carried past validation into gates, reasons or logs.
  const given = definition.input as unknown as z.ZodObject;
  const input = (given._zod.def.catchall === undefined
    ? given.strict()
    : given) as unknown as Input;
  if (!TOOL_EFFECTS.includes(definition.effect)) {
    fail('effect', `must be one of ${TOOL_EFFECTS.join(', ')}`);
  }
  if (typeof definition.run !== 'function') fail('run', 'must be a function');
  if (definition.available !== undefined && typeof definition.available !== 'function')
    fail('available', 'must be a function');
  for (const flag of ['untrustedOutput', 'idempotent'] as const) {
    if (definition[flag] !== undefined && typeof definition[flag] !== 'boolean') {
      fail(flag, 'must be a boolean');
    }
  }
  const privateOutput = definition.privateOutput ?? false;
  if (
    typeof privateOutput !== 'boolean' &&
    (!Array.isArray(privateOutput) ||
      privateOutput.some((path: unknown) => typeof path !== 'string' || path === ''))
  )
    fail('privateOutput', 'must be true, false or a list of field paths');
  const secretFields = definition.secretFields ?? {};
  if (
    typeof secretFields !== 'object' ||
    (secretFields as unknown) === null ||
    Array.isArray(secretFields)
  )
    fail('secretFields', 'must be { input?: [paths], output?: [paths] }');
  for (const side of ['input', 'output'] as const) {
    const paths: unknown = secretFields[side];
    if (paths === undefined) continue;
    if (
      !Array.isArray(paths) ||
      paths.some((path) => typeof path !== 'string' || !SECRET_PATH.test(path))
    )
      fail(
        `secretFields.${side}`,
        'must be a list of field paths such as card.number or cards[].number',
      );
    if (side === 'input')
      for (const [index, path] of (paths as string[]).entries())
        if (!schemaHasPath(given, path))
          fail(`secretFields.input[${index}]`, `names "${path}", which is not a field of "input"`);
  }
  const timeoutMs = definition.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > 2_147_483_647)
    fail('timeoutMs', 'must be a positive number of milliseconds, at most 2147483647');
  const retry = { ...DEFAULT_TOOL_RETRY, ...definition.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    fail('retry.maxAttempts', 'must be an integer >= 1');
  }
  if (retry.initialDelayMs < 0 || retry.maxDelayMs < retry.initialDelayMs) {
    fail('retry', 'delays must satisfy 0 <= initialDelayMs <= maxDelayMs');
  }
  // Only transient failures may be retried: the others go back to the model to change course.
  const retryOn: unknown = retry.on;
  if (
    !Array.isArray(retryOn) ||
    retryOn.some((type) => !TRANSIENT_TOOL_ERRORS.has(type as ToolErrorType))
  )
    fail('retry.on', `must list only ${[...TRANSIENT_TOOL_ERRORS].join(', ')}`);
  const positive = (field: string, value: number, integer = false): void => {
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
      fail(field, `must be a positive ${integer ? 'integer' : 'number'}`);
  };
  if (definition.version !== undefined && typeof definition.version !== 'string')
    fail('version', 'must be a string');
  let breaker: ToolBreakerOptions | false = false;
  if (definition.breaker !== false) {
    breaker = { ...DEFAULT_TOOL_BREAKER, ...definition.breaker };
    positive('breaker.failureThreshold', breaker.failureThreshold, true);
    positive('breaker.cooldownMs', breaker.cooldownMs);
  }
  const bulkhead = { ...DEFAULT_TOOL_BULKHEAD, ...definition.bulkhead };
  positive('bulkhead.maxConcurrent', bulkhead.maxConcurrent, true);
  if (!Number.isInteger(bulkhead.maxQueued) || bulkhead.maxQueued < 0)
    fail('bulkhead.maxQueued', 'must be an integer >= 0');
  if (definition.cache !== undefined) {
    if (definition.effect !== 'read') fail('cache', 'is only allowed on read tools');
    positive('cache.ttlMs', definition.cache.ttlMs);
  }
  const escape = definition.escape;
  if (escape !== undefined) {
    if (escape.type !== 'fallback' && escape.type !== 'handoff')
      fail('escape.type', 'must be fallback or handoff');
    if (escape.type === 'fallback' && typeof escape.value !== 'function')
      fail('escape.value', 'must be a function');
    if (escape.on?.some((type) => !TOOL_ERROR_TYPES.includes(type)))
      fail('escape.on', `must list only ${TOOL_ERROR_TYPES.join(', ')}`);
  }

  let inputSchema: Record<string, unknown>;
  const described = definition.inputJsonSchema;
  if (
    described !== undefined &&
    (typeof described !== 'object' || described === null || Array.isArray(described))
  )
    fail('inputJsonSchema', 'must be a JSON Schema object');
  try {
    inputSchema = described ?? z.toJSONSchema(given, { io: 'input' });
  } catch (error) {
    throw new KeelError(
      'invalid_definition',
      `${where}: "input" cannot be described as JSON Schema`,
      {
        cause: error,
      },
    );
  }
  if (described === undefined) delete inputSchema.$schema;

  return Object.freeze({
    ...definition,
    input,
    untrustedOutput: definition.untrustedOutput ?? false,
    privateOutput: Array.isArray(privateOutput)
      ? Object.freeze([...(privateOutput as readonly string[])])
      : privateOutput === true,
    secretFields: Object.freeze({
      input: Object.freeze([...(secretFields.input ?? [])]),
      output: Object.freeze([...(secretFields.output ?? [])]),
    }),
    idempotent: definition.idempotent ?? definition.effect === 'read',
    timeoutMs,
    retry: Object.freeze({ ...retry, on: Object.freeze([...retry.on]) }),
    version: definition.version ?? '1',
    breaker: breaker && Object.freeze(breaker),
    bulkhead: Object.freeze(bulkhead),
    cache: definition.cache && Object.freeze({ ttlMs: definition.cache.ttlMs }),
    escape: escape && Object.freeze({ ...escape, on: escape.on ?? DEFAULT_ESCAPE_ON }),
    spec: Object.freeze({
      name: definition.name,
      description: definition.description,
      inputSchema,
    }),
  });
}

const SECRET_PATH = /^[A-Za-z_$][\w$]*(?:\[\])?(?:\.[A-Za-z_$][\w$]*(?:\[\])?)*$/;

/** Whether a zod schema has the field a secret path names (through optional, nullable, arrays). */
function schemaHasPath(schema: z.ZodType, path: string): boolean {
  let node: z.ZodType | undefined = schema;
  for (const part of path.split('.')) {
    const array = part.endsWith('[]');
    const key = array ? part.slice(0, -2) : part;
    node = unwrap(node);
    if (!(node instanceof z.ZodObject)) return false;
    node = (node.shape as Record<string, z.ZodType | undefined>)[key];
    if (node === undefined) return false;
    if (array) {
      node = unwrap(node);
      if (!(node instanceof z.ZodArray)) return false;
      node = node.element as z.ZodType;
    }
  }
  return true;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  while (
    node instanceof z.ZodOptional ||
    node instanceof z.ZodNullable ||
    node instanceof z.ZodDefault
  )
    node = node.unwrap() as z.ZodType;
  return node;
}
