import { canonicalJson } from '../../core/index.js';
import type { ModelAdapterV1, ModelOutputPart, ModelRequest } from '../../model/index.js';

/** One turn of the gated model: text sent in pieces, then tool calls. */
export interface GatedTurn {
  readonly text?: string;
  readonly toolCalls?: readonly { readonly name: string; readonly args: unknown }[];
}

/**
 * A model whose reply text goes out one piece at a time, each piece held until someone calls
 * `release()` (a release given before the piece waits is kept): a test decides when the text
 * moves on, so joining or resuming mid-reply happens where the test wants it.
 */
export function gatedModel(
  turns: readonly GatedTurn[],
  chunkChars: number,
): ModelAdapterV1 & { release(): void } {
  let banked = 0;
  let waiting: (() => void) | undefined;
  const gate = (): Promise<void> => {
    if (banked > 0) {
      banked -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      waiting = resolve;
    });
  };
  return {
    specificationVersion: 'v1',
    provider: 'gated',
    modelId: 'gated',
    release() {
      const wake = waiting;
      waiting = undefined;
      if (wake) wake();
      else banked += 1;
    },
    async doGenerate(request: ModelRequest, { onTextDelta }) {
      const step = request.messages.filter((message) => message.role === 'assistant').length;
      const turn = turns[step] ?? { text: 'done' };
      const content: ModelOutputPart[] = [];
      if (turn.text !== undefined) {
        for (let at = 0; at < turn.text.length; at += chunkChars) {
          onTextDelta?.(turn.text.slice(at, at + chunkChars));
          await gate();
        }
        content.push({ type: 'text', text: turn.text });
      }
      (turn.toolCalls ?? []).forEach((call, index) => {
        content.push({
          type: 'tool_call',
          callId: `call_${step}_${index}`,
          toolName: call.name,
          arguments: canonicalJson(call.args),
        });
      });
      return {
        content,
        usage: { inputTokens: 10, outputTokens: 5 },
        finishReason: (turn.toolCalls?.length ?? 0) > 0 ? 'tool_calls' : 'stop',
      };
    },
  };
}
