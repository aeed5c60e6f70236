import { z } from 'zod';
import {
  defineAgent,
  defineTool,
  simulator,
  throwIfHttpError,
  type Agent,
} from '../../src/index.js';

/** The breaker every worker applies to the shared `inventory` tool. */
export const BREAKER = { failureThreshold: 3, cooldownMs: 1_500 } as const;

/**
 * Two agents, `agent-a` and `agent-b`, sharing one tool that calls the inventory service at
 * `serviceUrl`. A worker process serves one of them, so the test decides which process runs
 * which call.
 */
export function createBreakerAgents(serviceUrl: string): Agent[] {
  const inventory = defineTool({
    name: 'inventory',
    description: 'Stock level of a product',
    input: z.object({ sku: z.string() }),
    effect: 'read',
    retry: { maxAttempts: 1 },
    breaker: BREAKER,
    async run({ sku }, { signal }) {
      const response = await fetch(`${serviceUrl}/stock/${sku}`, { signal });
      return await throwIfHttpError(response, { what: `stock of ${sku}` }).json();
    },
  });
  return ['agent-a', 'agent-b'].map((name) =>
    defineAgent({
      name,
      model: simulator({
        script: ({ step, task }) =>
          step === 0
            ? { toolCalls: [{ name: 'inventory', args: { sku: task } }] }
            : { text: 'done' },
      }),
      instructions: 'Check the stock of the product named in the task.',
      tools: [inventory],
    }),
  );
}
