import { replyChecks, type ReplyChecks } from './reply-checks.js';

/** What Keel reads of a chat completion (streamed replies are folded into the same shape). */
export interface Completion {
  readonly id?: string | null | undefined;
  readonly model?: string | null | undefined;
  /** At least one. */
  readonly choices: readonly [CompletionChoice, ...CompletionChoice[]];
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

// Typed here so that a call to `check.fail` ends the flow (it never returns).
const check: ReplyChecks = replyChecks('a chat completion');

/**
 * `value` as a chat completion, or `malformed_response` naming the first field that is not
 * what a completion holds (checked by hand: see `replyChecks`).
 *
 * ```ts
 * readCompletion({ choices: [] }) // throws: "... choices: expected at least one choice"
 * ```
 */
export function readCompletion(value: unknown): Completion {
  const root = check.record(value, '');
  check.optionalString(root.id, 'id');
  check.optionalString(root.model, 'model');
  if (!Array.isArray(root.choices)) check.fail('choices', 'expected an array');
  if (root.choices.length === 0) check.fail('choices', 'expected at least one choice');
  root.choices.forEach((choice: unknown, index) => {
    const at = `choices[${index}]`;
    const fields = check.record(choice, at);
    check.optionalString(fields.finish_reason, `${at}.finish_reason`);
    const message = check.record(fields.message, `${at}.message`);
    check.optionalString(message.content, `${at}.message.content`);
    check.optionalString(message.refusal, `${at}.message.refusal`);
    const calls = message.tool_calls;
    if (calls === null || calls === undefined) return;
    if (!Array.isArray(calls)) check.fail(`${at}.message.tool_calls`, 'expected an array');
    calls.forEach((call: unknown, callIndex) => {
      const callAt = `${at}.message.tool_calls[${callIndex}]`;
      const callFields = check.record(call, callAt);
      check.optionalString(callFields.id, `${callAt}.id`);
      const fn = check.record(callFields.function, `${callAt}.function`);
      check.string(fn.name, `${callAt}.function.name`);
      if (typeof fn.arguments !== 'string')
        check.record(fn.arguments, `${callAt}.function.arguments`);
    });
  });
  if (root.usage !== null && root.usage !== undefined) {
    const usage = check.record(root.usage, 'usage');
    check.count(usage.prompt_tokens, 'usage.prompt_tokens');
    check.count(usage.completion_tokens, 'usage.completion_tokens');
    for (const [key, count] of [
      ['prompt_tokens_details', 'cached_tokens'],
      ['completion_tokens_details', 'reasoning_tokens'],
    ] as const) {
      const details = usage[key];
      if (details === null || details === undefined) continue;
      check.optionalCount(check.record(details, `usage.${key}`)[count], `usage.${key}.${count}`);
    }
  }
  return root as unknown as Completion;
}
