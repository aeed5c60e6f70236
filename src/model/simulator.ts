import { KeelError, canonicalJson, digest, seededRandom, sleep } from '../core/index.js';
import {
  ModelCallError,
  type FinishReason,
  type GenerateOptions,
  type ModelAdapterV1,
  type ModelErrorType,
  type ModelOutputPart,
  type ModelPrice,
  type ModelRequest,
  type ModelResponse,
  type ModelUsage,
} from './model-adapter.js';
import { conversationFold } from './conversation-fold.js';
import type { Message, ToolResultPart } from './messages.js';
import { estimateInputTokens, estimateTextTokens } from './token-estimate.js';
import { checkModelPrice } from './price-table.js';

/** A tool call a simulated turn emits. Give `rawArguments` to emit malformed text verbatim. */
export interface SimulatedToolCall {
  readonly name: string;
  readonly args?: unknown;
  readonly rawArguments?: string;
}

/** One scripted model turn. */
export interface SimulatedTurn {
  readonly text?: string;
  readonly toolCalls?: readonly SimulatedToolCall[];
  /** Override the finish reason (defaults: `tool_calls` with tool calls, else `stop`). */
  readonly finishReason?: FinishReason;
  /** Simulated latency before answering. */
  readonly latencyMs?: number;
  /** Override the reported usage (defaults are estimated from the request and the output). */
  readonly usage?: Partial<ModelUsage>;
  /** Fail the first `times` attempts at this step with this error before answering. */
  readonly failFirst?: {
    readonly type: ModelErrorType;
    readonly times: number;
    readonly retryAfterMs?: number;
    readonly statusCode?: number;
  };
}

/** What a script function sees. Everything in it is a function of the conversation and the seed. */
export interface ScriptContext {
  readonly request: ModelRequest;
  /** 0-based step: the number of assistant turns already in the conversation. */
  readonly step: number;
  /** The task: the first user message's text. */
  readonly task: string;
  /** Tool results returned since the model's last turn. */
  readonly lastToolResults: readonly ToolResultPart[];
  /** Attempt at this step for this conversation, from 1 (counts failures injected here). */
  readonly attempt: number;
  /**
   * Deterministic random number in [0, 1), seeded by the seed (the request's `seed` when it
   * has one, else the simulator's), the task and the step.
   */
  readonly random: () => number;
}

/** The simulator's turns, in order, or a function of the conversation that returns the next turn. */
export type SimulatorScript =
  readonly SimulatedTurn[] | ((context: ScriptContext) => SimulatedTurn);

/** The simulator's script, seed, price and token counting. */
export interface SimulatorOptions {
  readonly script: SimulatorScript;
  readonly seed?: number;
  readonly modelId?: string;
  /** Defaults to a nominal price so cost limits can be exercised; pass `null` for "unknown". */
  readonly price?: ModelPrice | null;
  /** Latency applied to every turn that does not set its own. */
  readonly latencyMs?: number;
  /**
   * When the caller listens for text as it arrives (`onTextDelta`), each turn's text is sent in
   * pieces of this many characters. Default 16.
   */
  readonly streamChunkChars?: number;
  /** The wait before each streamed piece after the first. Default 0. */
  readonly streamChunkDelayMs?: number;
  /**
   * The answer to a trusted planning call (`untrusted.plan`): the consequential tools the task
   * asks for. Planning calls are answered by it and never reach the script; without it they
   * reach a script function (which can tell them by `request.responseSchema.name ===
   * TASK_INTENT_RESPONSE`) and fail for a list of turns.
   */
  readonly intent?: (task: string) => readonly string[];
}

/** The `responseSchema.name` of a trusted planning call (the task's consequential tools). */
export const TASK_INTENT_RESPONSE = 'task_intent';

/** Nominal price of the simulator, per million tokens. */
export const SIMULATOR_PRICE: ModelPrice = Object.freeze({
  inputPerMillion: 3,
  outputPerMillion: 15,
});

/**
 * A deterministic, seeded model driven by a script: a list of turns (turn `i` answers step `i`)
 * or a function of the conversation. It can emit text, tool calls, malformed arguments, unknown
 * tools, latency, usage and provider failures, so every path of the engine can be driven
 * without a real model. The same conversation and seed always give the same answer, also
 * after a crash and resume in another process.
 *
 * ```ts
 * const model = simulator({
 *   streamChunkChars: 16,
 *   script: [
 *     { toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
 *     { text: 'Your order has shipped.' },
 *   ],
 * });
 * ```
 */
export function simulator(options: SimulatorOptions): ModelAdapterV1 {
  const {
    script,
    seed = 1,
    modelId = 'simulator',
    latencyMs: defaultLatencyMs = 0,
    streamChunkChars = 16,
    streamChunkDelayMs = 0,
  } = options;
  if (!Number.isSafeInteger(streamChunkChars) || streamChunkChars < 1) {
    throw new KeelError('invalid_config', 'simulator: "streamChunkChars" must be an integer >= 1');
  }
  if (!Number.isFinite(streamChunkDelayMs) || streamChunkDelayMs < 0) {
    throw new KeelError('invalid_config', 'simulator: "streamChunkDelayMs" must be a number >= 0');
  }
  if (options.price !== null) checkModelPrice('simulator', options.price);
  const price = options.price === null ? undefined : (options.price ?? SIMULATOR_PRICE);
  const failuresInjected = new Map<string, number>();

  return {
    specificationVersion: 'v1',
    provider: 'simulator',
    modelId,
    price,
    estimateInputTokens,
    async doGenerate(
      request: ModelRequest,
      { signal, onTextDelta }: GenerateOptions,
    ): Promise<ModelResponse> {
      const task = firstUserText(request);
      if (request.responseSchema?.name === TASK_INTENT_RESPONSE) {
        if (options.intent)
          return {
            content: [{ type: 'text', text: JSON.stringify({ tools: options.intent(task) }) }],
            usage: { inputTokens: estimateInputTokens(request), outputTokens: 8 },
            finishReason: 'stop',
            responseModel: modelId,
          };
        if (typeof script !== 'function')
          throw new ModelCallError(
            'bad_request',
            'the simulator has no `intent` answer for the planning call',
          );
      }
      const step = assistantTurns(request.messages);
      const conversationKey = `${digest(task)}:${step}`;
      const attempt = (failuresInjected.get(conversationKey) ?? 0) + 1;
      // A request's own seed (an evaluation's repeats) takes precedence over the instance's.
      const runSeed = request.seed ?? seed;
      const random = seededRandom(
        Number.parseInt(digest(`${runSeed}:${task}:${step}`).slice(0, 8), 16),
      );
      const turn =
        typeof script === 'function'
          ? script({
              request,
              step,
              task,
              lastToolResults: lastToolResults(request),
              attempt,
              random,
            })
          : script[step];
      if (turn === undefined) {
        // A script that runs out is a mistake in the script, not an answer: fail typed, never
        // with a made-up final output.
        throw new ModelCallError(
          'bad_request',
          `the simulator script has ${(script as readonly SimulatedTurn[]).length} turn(s) and no turn for step ${step}`,
        );
      }

      const latency = turn.latencyMs ?? defaultLatencyMs;
      if (latency > 0) await sleepOrAbort(latency, signal);
      if (signal?.aborted) throw new ModelCallError('aborted', 'the model call was aborted');

      if (turn.failFirst && attempt <= turn.failFirst.times) {
        failuresInjected.set(conversationKey, attempt);
        throw new ModelCallError(turn.failFirst.type, `simulated ${turn.failFirst.type}`, {
          statusCode: turn.failFirst.statusCode,
          retryAfterMs: turn.failFirst.retryAfterMs,
        });
      }

      if (onTextDelta && turn.text !== undefined) {
        for (let at = 0; at < turn.text.length; at += streamChunkChars) {
          if (at > 0 && streamChunkDelayMs > 0) await sleepOrAbort(streamChunkDelayMs, signal);
          if (signal?.aborted) throw new ModelCallError('aborted', 'the model call was aborted');
          onTextDelta(turn.text.slice(at, at + streamChunkChars));
        }
      }

      const content: ModelOutputPart[] = [];
      if (turn.text !== undefined) content.push({ type: 'text', text: turn.text });
      (turn.toolCalls ?? []).forEach((call, index) => {
        content.push({
          type: 'tool_call',
          callId: `call_${step}_${index}`,
          toolName: call.name,
          arguments: call.rawArguments ?? canonicalJson(call.args ?? {}),
        });
      });
      const outputText = content
        .map((part) => (part.type === 'text' ? part.text : part.toolName + part.arguments))
        .join('');
      return {
        content,
        usage: {
          inputTokens: turn.usage?.inputTokens ?? estimateInputTokens(request),
          outputTokens: turn.usage?.outputTokens ?? Math.max(1, estimateTextTokens(outputText)),
          cacheReadTokens: turn.usage?.cacheReadTokens,
          cacheWriteTokens: turn.usage?.cacheWriteTokens,
          reasoningTokens: turn.usage?.reasoningTokens,
        },
        finishReason:
          turn.finishReason ?? ((turn.toolCalls?.length ?? 0) > 0 ? 'tool_calls' : 'stop'),
        responseId: `sim_${digest(`${conversationKey}:${runSeed}`).slice(0, 12)}`,
        responseModel: modelId,
      };
    },
  };
}

// Carried forward over a run's conversation: a long run's step is found in constant time.
const assistantTurns = conversationFold(0, (turns, message: Message) =>
  message.role === 'assistant' ? turns + 1 : turns,
);

async function sleepOrAbort(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, { signal });
  } catch (error) {
    throw new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
}

function firstUserText(request: ModelRequest): string {
  for (const message of request.messages) {
    if (message.role !== 'user') continue;
    for (const part of message.parts) if (part.type === 'text') return part.text;
  }
  return '';
}

function lastToolResults(request: ModelRequest): ToolResultPart[] {
  const results: ToolResultPart[] = [];
  for (let index = request.messages.length - 1; index >= 0; index--) {
    const message = request.messages[index];
    if (!message || message.role === 'assistant') break;
    const group = message.parts.filter((part) => part.type === 'tool_result');
    results.unshift(...group);
  }
  return results;
}
