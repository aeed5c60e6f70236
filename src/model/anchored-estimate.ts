import type { Message } from './messages.js';
import type { ModelRequest, ModelUsage } from './model-adapter.js';
import { conservativeTokenCount } from './token-count.js';

interface Anchor {
  readonly messageCount: number;
  readonly system: string;
  readonly toolNames: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * Pre-flight estimates for a model without a local tokenizer, anchored on what the provider
 * reported: a run's next request is its last request plus the model's reply plus what came
 * after (tool results), so its input is the last reported input, plus the reported output,
 * plus a conservative estimate of only the new messages. Without an anchor (a run's first
 * call, a changed system prompt or tool set, a resumed run) it is the conservative estimate
 * of the whole request.
 *
 * ```ts
 * const estimates = anchoredEstimates();
 * estimates.estimate(request); // conservative, then anchored once record() saw a response
 * ```
 */
export interface AnchoredEstimates {
  estimate(request: ModelRequest): number;
  record(request: ModelRequest, usage: ModelUsage): void;
}

export function anchoredEstimates(): AnchoredEstimates {
  // Keyed by the run's first message, which is one object for the whole run.
  const anchors = new WeakMap<Message, Anchor>();
  const toolNamesOf = (request: ModelRequest): string =>
    request.tools.map((tool) => tool.name).join('\n');
  return {
    estimate(request) {
      const [first] = request.messages;
      const anchor = first ? anchors.get(first) : undefined;
      const reply = request.messages[anchor?.messageCount ?? -1];
      if (
        !anchor ||
        reply?.role !== 'assistant' ||
        anchor.system !== request.system ||
        anchor.toolNames !== toolNamesOf(request)
      ) {
        return conservativeTokenCount(request).tokens;
      }
      const added = request.messages.slice(anchor.messageCount + 1);
      const addedTokens =
        added.length === 0
          ? 0
          : conservativeTokenCount({ system: '', messages: added, tools: [] }).tokens;
      return anchor.inputTokens + anchor.outputTokens + addedTokens;
    },
    record(request, usage) {
      const [first] = request.messages;
      if (!first) return;
      anchors.set(first, {
        messageCount: request.messages.length,
        system: request.system,
        toolNames: toolNamesOf(request),
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
      });
    },
  };
}
