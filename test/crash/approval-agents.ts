import { z } from 'zod';
import { defineAgent, defineTool, simulator, type Agent } from '../../src/index.js';
import { appendSideEffect } from './crash-agents.js';

/**
 * The agent the approval crash test drives: it asks to refund the order its task names, a call
 * gated for the `finance` group, then answers with the tool's result. The refund tool logs
 * `begin` / `end` lines (fsynced) with its idempotency key, so the test can count executions
 * across processes.
 */
export const APPROVAL_AGENT = 'gated_refunds';

export function createApprovalAgents({ logPath }: { logPath: string }): Agent[] {
  const issueRefund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    idempotent: true,
    run(input, { idempotencyKey }) {
      appendSideEffect(logPath, {
        key: idempotencyKey,
        phase: 'begin',
        pid: process.pid,
        tool: 'issue_refund',
      });
      appendSideEffect(logPath, {
        key: idempotencyKey,
        phase: 'end',
        pid: process.pid,
        tool: 'issue_refund',
      });
      return Promise.resolve({ refunded: input.amountCents, orderId: input.orderId });
    },
  });
  return [
    defineAgent({
      name: APPROVAL_AGENT,
      instructions: 'Refund the order named in the task.',
      model: simulator({
        script: ({ step, task, lastToolResults }) =>
          step === 0
            ? {
                toolCalls: [
                  {
                    name: 'issue_refund',
                    args: { orderId: task.split(' ').at(-1), amountCents: 1250 },
                  },
                ],
              }
            : { text: `done: ${lastToolResults.map((result) => result.content).join(' | ')}` },
      }),
      tools: [issueRefund],
      gates: { tools: { issue_refund: { approverGroup: 'finance' } } },
    }),
  ];
}
