import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { simulator, type SimulatorScript } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, replayRun, type Runtime } from './index.js';

/** A desk counting each execution of its tools (the side effects that took place). */
function desk(executions: string[], script: SimulatorScript, version: string): Agent {
  const run = (name: string) => (input: unknown) => {
    executions.push(`${name} ${JSON.stringify(input)}`);
    return Promise.resolve({ ok: true, tool: name, input });
  };
  return defineAgent({
    name: 'desk',
    version,
    model: simulator({ script }),
    instructions: 'You help customers with refunds.',
    // The default gates: an irreversible call needs a human.
    gates: {},
    tools: [
      defineTool({
        name: 'lookup_order',
        description: 'Look an order up',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        run: run('lookup_order'),
      }),
      defineTool({
        name: 'update_ticket',
        description: 'Update the ticket',
        input: z.object({ ticketId: z.string(), note: z.string() }),
        effect: 'write',
        run: run('update_ticket'),
      }),
      defineTool({
        name: 'issue_refund',
        description: 'Refund an order',
        input: z.object({ orderId: z.string(), amount: z.number() }),
        effect: 'irreversible',
        run: run('issue_refund'),
      }),
    ],
  });
}

const PRODUCTION: SimulatorScript = [
  {
    toolCalls: [
      { name: 'lookup_order', args: { orderId: 'ORD-1' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'looking' } },
    ],
  },
  { text: 'Looked ORD-1 up.' },
];

/** Served (same calls as production), suppressed (new arguments), and held by a gate. */
const CANDIDATE: SimulatorScript = [
  {
    toolCalls: [
      { name: 'lookup_order', args: { orderId: 'ORD-1' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'looking' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'refund 50' } },
    ],
  },
  { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-1', amount: 50 } }] },
  { text: 'Refunded 50.' },
];

describe('replay of a shadow run', () => {
  let store: Store | undefined;
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    await store?.close();
  });

  it('replays served, suppressed and would-need-approval calls identically, running no tool', async () => {
    store = await openStore('sqlite::memory:');
    const production: string[] = [];
    const candidate: string[] = [];
    const candidateAgent = desk(candidate, CANDIDATE, 'v2');
    const runtime = createRuntime({
      store,
      agents: [desk(production, PRODUCTION, 'v1')],
      candidates: [candidateAgent],
      leaseMs: 60_000,
    });
    runtimes.push(runtime);
    await runtime.shadows.start({ agent: 'desk', candidate: candidateAgent, share: 1 });
    runtime.startWorker({ pollMs: 5 });
    const result = await runtime.run('desk', 'Refund ORD-1');
    let shadowRunId: string | undefined;
    for (let tries = 0; tries < 1_000 && shadowRunId === undefined; tries++) {
      const pair = (await store.shadows.pairs()).find((each) => each.runId === result.id);
      if (pair && (await store.getRun(pair.candidateRunId))) shadowRunId = pair.candidateRunId;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    if (shadowRunId === undefined) throw new Error('no shadow run');
    expect((await runtime.wait(shadowRunId, { pollMs: 5 })).status).toBe('succeeded');
    const journal = await store.readEvents(shadowRunId);
    const types = journal.map((entry) => entry.event.type);
    expect(types).toContain('shadow_suppressed');
    expect(types).toContain('would_need_approval');
    expect(
      journal.flatMap(({ event }) =>
        event.type === 'tool_intercepted' ? [`${event.toolName} ${event.action}`] : [],
      ),
    ).toEqual([
      'lookup_order served',
      'update_ticket served',
      'update_ticket suppressed',
      'issue_refund suppressed',
    ]);
    const executedBefore = [...production];

    const replay = await replayRun({
      agent: desk(candidate, CANDIDATE, 'v2'),
      runId: shadowRunId,
      journal,
    });
    expect(replay).toMatchObject({ identical: true, divergence: null });
    expect(replay.comparedEvents).toBeGreaterThan(8);
    expect(candidate).toEqual([]);
    expect(production).toEqual(executedBefore);
  });
});
