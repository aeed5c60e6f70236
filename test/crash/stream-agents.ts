import { z } from 'zod';
import { defineAgent, defineTool, simulator, type Agent } from '../../src/index.js';

export const STREAM_AGENT = 'streamer';
export const STREAM_OUTPUT = 'Order A-1 shipped on Tuesday.';

/**
 * The agent the stream-follow test runs on a worker process: step 0 says a few words and looks
 * an order up, step 1 answers. With `hold`, the lookup never returns (the worker is killed
 * there) after calling `onHeld`.
 */
export function createStreamAgents(options: { hold: boolean; onHeld?: () => void }): Agent[] {
  const lookup = defineTool({
    name: 'lookup_order',
    description: 'Look up an order',
    input: z.object({ orderId: z.string() }),
    effect: 'read',
    async run({ orderId }) {
      if (options.hold) {
        options.onHeld?.();
        await new Promise(() => undefined);
      }
      return { orderId, status: 'shipped' };
    },
  });
  return [
    defineAgent({
      name: STREAM_AGENT,
      instructions: 'Answer about orders.',
      model: simulator({
        streamChunkChars: 4,
        script: [
          {
            text: 'Looking it up.',
            toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }],
          },
          { text: STREAM_OUTPUT },
        ],
      }),
      tools: [lookup],
      gates: { approverGroup: 'support' },
    }),
  ];
}
