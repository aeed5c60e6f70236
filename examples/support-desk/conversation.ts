import type { z } from 'zod';
import type { SimulatedTurn } from '../../src/index.js';
import type { Message } from '../../src/exports/model.js';

/**
 * Helpers for the demo's scripted models: read the conversation the engine sends (tool calls
 * and their results, matched by call id) the way a model reads its context, and answer with a
 * tool call or a final text.
 */

/** What came back for one tool call. */
export type ToolOutcome<T = unknown> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'error'; readonly errorType: string; readonly message: string };

/** One tool call in the conversation and its result (undefined while it has none). */
export interface ToolExchange {
  readonly step: number;
  readonly toolName: string;
  readonly args: unknown;
  readonly outcome: ToolOutcome | undefined;
}

/** Every tool call the model made in this conversation, in order, with its result. */
export function readExchanges(messages: readonly Message[]): ToolExchange[] {
  const results = new Map<string, ToolOutcome>();
  for (const message of messages) {
    for (const part of message.parts) {
      if (part.type === 'tool_result') {
        results.set(part.callId, outcomeOf(part.content, part.isError));
      }
    }
  }
  const exchanges: ToolExchange[] = [];
  let step = 0;
  for (const message of messages) {
    if (message.role !== 'assistant') continue;
    for (const part of message.parts) {
      if (part.type !== 'tool_call') continue;
      exchanges.push({
        step,
        toolName: part.toolName,
        args: parseJson(part.arguments),
        outcome: results.get(part.callId),
      });
    }
    step += 1;
  }
  return exchanges;
}

/**
 * The latest result of a tool, checked against the shape the tool returns. `undefined` when
 * the tool was not called yet; an output of the wrong shape reads as an error.
 */
export function latest<Schema extends z.ZodType>(
  exchanges: readonly ToolExchange[],
  toolName: string,
  schema: Schema,
): ToolOutcome<z.output<Schema>> | undefined {
  const exchange = exchanges.findLast((candidate) => candidate.toolName === toolName);
  const outcome = exchange?.outcome;
  if (!outcome || outcome.kind === 'error') return outcome;
  const parsed = schema.safeParse(outcome.value);
  return parsed.success
    ? { kind: 'ok', value: parsed.data }
    : {
        kind: 'error',
        errorType: 'unexpected_output',
        message: `${toolName} returned ${typeof outcome.value}`,
      };
}

export function callTool(name: string, args: Record<string, unknown>): SimulatedTurn {
  return { toolCalls: [{ name, args }] };
}

export function answer(text: string): SimulatedTurn {
  return { text };
}

/** `lookup_order failed (not_found: orders: no order ORD-9999)`. */
export function describeFailure(
  toolName: string,
  outcome: ToolOutcome & { kind: 'error' },
): string {
  return `${toolName} failed (${outcome.errorType}: ${outcome.message})`;
}

const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g;

/** Email addresses in a text, in order. */
export function emailsIn(text: string): string[] {
  return (text.match(EMAIL) ?? []).map((email) => email.toLowerCase());
}

/** The first match of a pattern, upper-cased (ids are case-insensitive in tasks). */
export function idIn(text: string, pattern: RegExp): string | undefined {
  return pattern.exec(text)?.[0].toUpperCase();
}

function outcomeOf(content: string, isError: boolean): ToolOutcome {
  const value = parseJson(content);
  if (!isError) return { kind: 'ok', value };
  const error = (value as { error?: { type?: unknown; message?: unknown } } | undefined)?.error;
  return {
    kind: 'error',
    errorType: typeof error?.type === 'string' ? error.type : 'internal',
    message: typeof error?.message === 'string' ? error.message : content,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
