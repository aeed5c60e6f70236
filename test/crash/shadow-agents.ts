import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { defineAgent, defineTool, simulator, type Agent, type Tool } from '../../src/index.js';

/** The side-effecting tools a shadow candidate calls, one line in the log per execution. */
export const SIDE_EFFECT_TOOLS = ['update_ticket', 'issue_refund', 'send_email'] as const;
export const CANDIDATE_VERSION = 'shadow-crash-candidate';

/** Every execution of a tool's `run`, as logged by any process. */
export function readExecutions(logPath: string): { version: string; tool: string }[] {
  if (!existsSync(logPath)) return [];
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { version: string; tool: string });
}

function tools(logPath: string, version: string): Tool[] {
  const logged = (tool: string) => () => {
    appendFileSync(logPath, `${JSON.stringify({ version, tool })}\n`);
    return Promise.resolve({ ok: true, tool });
  };
  const effects = { update_ticket: 'write', issue_refund: 'irreversible', send_email: 'egress' };
  return [
    defineTool({
      name: 'lookup_order',
      description: 'Look an order up',
      input: z.object({ orderId: z.string() }),
      effect: 'read',
      run: logged('lookup_order'),
    }),
    ...SIDE_EFFECT_TOOLS.map((name) =>
      defineTool({
        name,
        description: `The ${name} side effect`,
        input: z.object({ target: z.string(), amount: z.number() }),
        effect: effects[name] as 'write' | 'irreversible' | 'egress',
        run: logged(name),
      }),
    ),
  ];
}

/**
 * Production (one lookup, one ticket update) and its candidate: every side-effecting tool,
 * twice each with arguments production never used, one step at a time with model latency (so
 * a worker can die between any two steps), each step's first model call rate limited.
 */
export function createShadowAgents(logPath: string): { production: Agent; candidate: Agent } {
  const production = defineAgent({
    name: 'desk',
    version: 'shadow-crash-production',
    instructions: 'You handle tickets.',
    tools: tools(logPath, 'production'),
    model: simulator({
      script: [
        { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1' } }] },
        { toolCalls: [{ name: 'update_ticket', args: { target: 'T-1', amount: 5 } }] },
        { text: 'done' },
      ],
    }),
  });
  const candidateSteps = [
    { toolCalls: [{ name: 'lookup_order', args: { orderId: 'ORD-1' } }] },
    ...[1, 2].flatMap((round) =>
      SIDE_EFFECT_TOOLS.map((name) => ({
        toolCalls: [{ name, args: { target: `${name}-${round}`, amount: 50 * round } }],
      })),
    ),
    { text: 'candidate done' },
  ];
  const candidate = defineAgent({
    name: 'desk',
    version: CANDIDATE_VERSION,
    instructions: 'You handle tickets generously.',
    tools: tools(logPath, CANDIDATE_VERSION),
    limits: { maxIdenticalCalls: 5 },
    model: simulator({
      latencyMs: 120,
      script: candidateSteps.map((step) => ({
        ...step,
        failFirst: { type: 'rate_limited' as const, times: 1 },
      })),
    }),
  });
  return { production, candidate };
}
