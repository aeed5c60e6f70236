import { z } from 'zod';
import { KeelError } from '../core/index.js';
import type { ToolSpec } from '../model/index.js';

/** What a tool does to the world. Decides what the action policy requires. */
export const TOOL_EFFECTS = ['read', 'write', 'irreversible', 'egress'] as const;
export type ToolEffect = (typeof TOOL_EFFECTS)[number];

/** What a tool receives besides its input. */
export interface ToolContext {
  readonly signal: AbortSignal;
  /** Stable across retries and resumes of this call: derived from (run, step, call index). */
  readonly idempotencyKey: string;
  readonly runId: string;
  readonly callId: string;
  /** 1 on the first attempt. */
  readonly attempt: number;
}

export interface ToolRetryOptions {
  /** Total attempts including the first. */
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

export interface ToolDefinition<Input extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly input: Input;
  readonly effect: ToolEffect;
  /** Its output comes from outside (web, email, documents): labelled untrusted. */
  readonly untrustedOutput?: boolean;
  /** Safe to repeat with the same input; only idempotent tools (or reads) are retried. */
  readonly idempotent?: boolean;
  readonly timeoutMs?: number;
  readonly retry?: Partial<ToolRetryOptions>;
  run(input: z.output<Input>, context: ToolContext): Promise<unknown>;
}

/** A validated, frozen tool. */
export interface Tool<Input extends z.ZodType = z.ZodType> extends ToolDefinition<Input> {
  readonly untrustedOutput: boolean;
  readonly idempotent: boolean;
  readonly timeoutMs: number;
  readonly retry: ToolRetryOptions;
  /** The tool as the model is told about it. */
  readonly spec: ToolSpec;
}

export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
export const DEFAULT_TOOL_RETRY: ToolRetryOptions = Object.freeze({
  maxAttempts: 3,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
});

const TOOL_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

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
  if (typeof definition.description !== 'string' || definition.description.trim() === '') {
    fail('description', 'must be a non-empty string');
  }
  if (!(definition.input instanceof z.ZodObject)) fail('input', 'must be a zod object schema');
  if (!TOOL_EFFECTS.includes(definition.effect)) {
    fail('effect', `must be one of ${TOOL_EFFECTS.join(', ')}`);
  }
  if (typeof definition.run !== 'function') fail('run', 'must be a function');
  for (const flag of ['untrustedOutput', 'idempotent'] as const) {
    if (definition[flag] !== undefined && typeof definition[flag] !== 'boolean') {
      fail(flag, 'must be a boolean');
    }
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

  let inputSchema: Record<string, unknown>;
  try {
    inputSchema = z.toJSONSchema(definition.input, { io: 'input' });
  } catch (error) {
    throw new KeelError(
      'invalid_definition',
      `${where}: "input" cannot be described as JSON Schema`,
      {
        cause: error,
      },
    );
  }
  delete inputSchema.$schema;

  return Object.freeze({
    ...definition,
    untrustedOutput: definition.untrustedOutput ?? false,
    idempotent: definition.idempotent ?? definition.effect === 'read',
    timeoutMs,
    retry: Object.freeze(retry),
    spec: Object.freeze({
      name: definition.name,
      description: definition.description,
      inputSchema,
    }),
  });
}
