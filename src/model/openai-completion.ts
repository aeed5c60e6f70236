import { ModelCallError } from './model-adapter.js';

/** What Keel reads of a chat completion (streamed replies are folded into the same shape). */
export interface Completion {
  readonly id?: string | null | undefined;
  readonly model?: string | null | undefined;
  readonly choices: readonly CompletionChoice[];
  readonly usage?: CompletionUsage | null | undefined;
}

export interface CompletionChoice {
  readonly message: {
    readonly content?: string | null | undefined;
    readonly refusal?: string | null | undefined;
    readonly tool_calls?: readonly CompletionToolCall[] | null | undefined;
  };
  readonly finish_reason?: string | null | undefined;
}

export interface CompletionToolCall {
  readonly id?: string | null | undefined;
  readonly function: {
    readonly name: string;
    /** Some compatible servers send the arguments as an object instead of JSON text. */
    readonly arguments: string | Readonly<Record<string, unknown>>;
  };
}

export interface CompletionUsage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number | null } | null | undefined;
  readonly completion_tokens_details?:
    { readonly reasoning_tokens?: number | null } | null | undefined;
}

/**
 * `value` as a chat completion, or `malformed_response` naming the first field that is not
 * what a completion holds. Checked by hand: a zod schema compiles its validator at its first
 * parse, which every short-lived process paid (~8 ms of a cold start).
 *
 * ```ts
 * readCompletion({ choices: [] }) // throws: "... choices: expected at least one choice"
 * ```
 */
export function readCompletion(value: unknown): Completion {
  const root = record(value, '');
  optionalString(root.id, 'id');
  optionalString(root.model, 'model');
  if (!Array.isArray(root.choices)) fail('choices', 'expected an array');
  if (root.choices.length === 0) fail('choices', 'expected at least one choice');
  root.choices.forEach((choice: unknown, index) => {
    const at = `choices[${index}]`;
    const fields = record(choice, at);
    optionalString(fields.finish_reason, `${at}.finish_reason`);
    const message = record(fields.message, `${at}.message`);
    optionalString(message.content, `${at}.message.content`);
    optionalString(message.refusal, `${at}.message.refusal`);
    const calls = message.tool_calls;
    if (calls === null || calls === undefined) return;
    if (!Array.isArray(calls)) fail(`${at}.message.tool_calls`, 'expected an array');
    calls.forEach((call: unknown, callIndex) => {
      const callAt = `${at}.message.tool_calls[${callIndex}]`;
      const callFields = record(call, callAt);
      optionalString(callFields.id, `${callAt}.id`);
      const fn = record(callFields.function, `${callAt}.function`);
      if (typeof fn.name !== 'string') fail(`${callAt}.function.name`, 'expected a string');
      if (typeof fn.arguments !== 'string') record(fn.arguments, `${callAt}.function.arguments`);
    });
  });
  if (root.usage !== null && root.usage !== undefined) {
    const usage = record(root.usage, 'usage');
    for (const key of ['prompt_tokens', 'completion_tokens'] as const)
      if (typeof usage[key] !== 'number') fail(`usage.${key}`, 'expected a number');
    optionalCount(usage.prompt_tokens_details, 'cached_tokens', 'usage.prompt_tokens_details');
    optionalCount(
      usage.completion_tokens_details,
      'reasoning_tokens',
      'usage.completion_tokens_details',
    );
  }
  return root as unknown as Completion;
}

function record(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(at, 'expected an object');
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, at: string): void {
  if (value !== null && value !== undefined && typeof value !== 'string')
    fail(at, 'expected a string');
}

function optionalCount(details: unknown, key: string, at: string): void {
  if (details === null || details === undefined) return;
  const value = record(details, at)[key];
  if (value !== null && value !== undefined && typeof value !== 'number')
    fail(`${at}.${key}`, 'expected a number');
}

function fail(at: string, problem: string): never {
  throw new ModelCallError(
    'malformed_response',
    `the response is not a chat completion: ${at === '' ? '' : `${at}: `}${problem}`,
    { statusCode: 200 },
  );
}
