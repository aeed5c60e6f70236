import OpenAI from 'openai';
import type {
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { z } from 'zod';
import { defineAgent, defineGuard, defineTool, type Agent } from '../src/index.js';

/** The fake server's default script: 5 tool calls, then a final answer. */
export const TOOL_CALLS_PER_RUN = 5;
export const MODEL_CALLS_PER_RUN = TOOL_CALLS_PER_RUN + 1;
export const AGENT_NAME = 'bench';
const MODEL = 'bench';
const INSTRUCTIONS = 'Look up each item with the lookup tool, then answer.';

const lookupInput = z.object({ query: z.string() });
const catalog = new Map(
  Array.from({ length: TOOL_CALLS_PER_RUN }, (_, index) => [
    `item-${index + 1}`,
    { sku: `SKU-${1000 + index}`, stock: index * 7 },
  ]),
);

/** The in-memory tool both loops execute. */
function lookup({ query }: z.output<typeof lookupInput>): unknown {
  return { query, item: catalog.get(query) ?? null };
}

export const lookupTool = defineTool({
  name: 'lookup',
  description: 'Look up an item by its id.',
  input: lookupInput,
  effect: 'read',
  run: (input) => Promise.resolve(lookup(input)),
});

/**
 * The Keel side: the agent the fake server's script drives, with a guard on (its defaults), as
 * a team running agents in production would have it.
 */
export function benchAgent(baseURL: string): Agent {
  return defineAgent({
    name: AGENT_NAME,
    // The model string a user would write: resolved as any real model is (price lookup included).
    model: `openai-compatible:${baseURL}#${MODEL}`,
    instructions: INSTRUCTIONS,
    tools: [lookupTool],
    guard: defineGuard(),
    // The fake server's model has no price, as a local model has none: limited by tokens, as
    // its team would say, instead of a warning on stderr in every process.
    limits: { maxCostUsd: 'tokens-only' },
  });
}

export interface BareRunResult {
  readonly output: string;
  readonly modelCalls: number;
  readonly toolCalls: number;
}

export type BareLoop = (task: string) => Promise<BareRunResult>;

/**
 * The baseline: the agent loop one would write by hand with the same SDK, tool schema and
 * tool. It validates tool input with the same zod schema and stops after 25 model calls, as
 * any careful hand-written loop would; it keeps no journal.
 */
export function bareLoop(baseURL: string): BareLoop {
  const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
  const tools: ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: lookupTool.spec.name,
        description: lookupTool.spec.description,
        parameters: lookupTool.spec.inputSchema,
      },
    },
  ];
  return async function runBareLoop(task) {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: INSTRUCTIONS },
      { role: 'user', content: task },
    ];
    let modelCalls = 0;
    let toolCalls = 0;
    while (modelCalls < 25) {
      const completion = await client.chat.completions.create({ model: MODEL, messages, tools });
      modelCalls += 1;
      const message = completion.choices[0]?.message;
      if (!message) throw new Error('bare loop: the completion has no choices');
      const calls = message.tool_calls ?? [];
      if (calls.length === 0) return { output: message.content ?? '', modelCalls, toolCalls };
      messages.push({ role: 'assistant', content: message.content, tool_calls: calls });
      for (const call of calls) {
        if (call.type !== 'function') throw new Error(`bare loop: unexpected ${call.type} call`);
        const input = lookupInput.parse(JSON.parse(call.function.arguments));
        toolCalls += 1;
        messages.push({
          role: 'tool',
          tool_call_id: call.id,
          content: JSON.stringify(lookup(input)),
        });
      }
    }
    throw new Error('bare loop: no final answer after 25 model calls');
  };
}

/** True when a bare run had the scripted shape (6 model calls, 5 tool calls, `done`). */
export function bareRunSucceeded(result: BareRunResult): boolean {
  return (
    result.output === 'done' &&
    result.modelCalls === MODEL_CALLS_PER_RUN &&
    result.toolCalls === TOOL_CALLS_PER_RUN
  );
}
