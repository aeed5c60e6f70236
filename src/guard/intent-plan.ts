import { z } from 'zod';
import type { Provenance } from '../core/index.js';
import { TASK_INTENT_RESPONSE, type ModelAdapterV1 } from '../model/index.js';
import { askForJson } from './quarantined-reader.js';

/** A consequential tool the planner may name: its name, what it does and its effect. */
export interface PlannableTool {
  readonly name: string;
  readonly description: string;
  readonly effect: string;
}

/** What planning a task's intent takes: the model, the trusted task and the consequential tools. */
export interface TaskIntentOptions {
  /** The planner: asked with no tools, for schema-typed JSON. */
  readonly model: ModelAdapterV1;
  /** The trusted task (and the agent's instructions, as context). */
  readonly task: string;
  readonly instructions?: string | undefined;
  readonly tools: readonly PlannableTool[];
  /** Further attempts after an invalid answer, each fed the validation error. Default 2. */
  readonly retries?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The planner's reading of the task; never thrown for a bad answer or a failed model call. */
export type TaskIntent = (
  | { readonly ok: true; readonly tools: readonly string[] }
  | { readonly ok: false; readonly error: string }
) & {
  /** The model's raw replies, one per attempt (journaled, so replay can serve them). */
  readonly outputs: readonly string[];
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
};

const TASK: Provenance = Object.freeze({ trust: 'trusted', source: 'task' });
const REPLY: Provenance = Object.freeze({ trust: 'trusted', source: 'model' });

/**
 * Read from a trusted task which consequential tools it asks for, before any untrusted content
 * can speak: a structured call (no tools, an answer typed by a schema whose only values are the
 * tools' names). The answer is the task's intent; once the run reads untrusted content, a
 * consequential call outside it needs a human.
 *
 * ```ts
 * const intent = await planTaskIntent({
 *   model: tiers.model('fast'),
 *   task: 'Pay the electricity bill.',
 *   tools: [{ name: 'send_money', description: 'Send money', effect: 'irreversible' }],
 * });
 * if (intent.ok) intent.tools; // ['send_money']
 * ```
 */
export async function planTaskIntent(options: TaskIntentOptions): Promise<TaskIntent> {
  const { model, task, tools, retries = 2, signal } = options;
  const names = tools.map((tool) => tool.name);
  const usage = { inputTokens: 0, outputTokens: 0 };
  const outputs: string[] = [];
  const [first, ...rest] = names;
  if (first === undefined) return { ok: true, tools: [], outputs, usage };
  const schema = z.object({ tools: z.array(z.enum([first, ...rest])) });
  const { $schema: _dialect, ...answerSchema } = z.toJSONSchema(schema);
  const listed = tools
    .map((tool) => `- ${tool.name} (${tool.effect}): ${tool.description || 'no description'}`)
    .join('\n');
  const system = `${options.instructions ? `The agent's instructions:\n${options.instructions}\n\n` : ''}Decide which of these tools the user's task asks the agent to use. List a tool only when the task asks for its effect (sending, paying, ordering, sharing, posting, deleting...); leave out the ones it does not ask for. When unsure, leave it out: a person will be asked.\n${listed}\n\nAnswer with one JSON value and nothing else, matching this JSON schema:\n${JSON.stringify(answerSchema)}`;
  const answer = await askForJson({
    model,
    system,
    first: { role: 'user', parts: [{ type: 'text', text: task, provenance: TASK }] },
    schema,
    responseName: TASK_INTENT_RESPONSE,
    retries,
    signal,
    reply: REPLY,
  });
  if (!answer.ok) return answer;
  return {
    ok: true,
    tools: [...new Set(answer.value.tools)],
    outputs: answer.outputs,
    usage: answer.usage,
  };
}
