import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineAgent, type Agent } from '../agent/index.js';
import type { RunEvent } from '../journal/index.js';
import { simulator, type SimulatedTurn } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { compareJournals, createRuntime, newRunId, replayRun, type Runtime } from './index.js';

interface Journal {
  readonly runId: string;
  readonly events: RunEvent[];
}

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Look an order up',
  input: z.object({ orderId: z.string() }),
  effect: 'read',
  run: ({ orderId }) => Promise.resolve({ orderId, status: 'shipped' }),
});

/** An agent with a managed context: each model step journals its `context_assembled` first. */
function contextAgent(name: string, stepOne: SimulatedTurn = { text: 'It has shipped.' }): Agent {
  return defineAgent({
    name,
    model: simulator({
      script: [{ toolCalls: [{ name: 'lookup_order', args: { orderId: 'A1' } }] }, stepOne],
    }),
    instructions: 'Answer questions about orders.',
    tools: [lookup],
    context: { windowTokens: 16_000 },
  });
}

describe('replayRun of a crashed-and-resumed run with a managed context', () => {
  let store: Store;
  let runtime: Runtime;

  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => {
    await runtime.close();
    await store.close();
  });

  /**
   * Run `agent` to its end, then leave behind what a worker that died right after journaling
   * `crashedAfter` of step 1 would have, and resume that run on another worker: the whole run's
   * journal and the resumed run's.
   */
  async function crashAndResume(
    agent: Agent,
    crashedAfter: RunEvent['type'],
  ): Promise<{ whole: Journal; resumed: Journal }> {
    runtime = createRuntime({
      store,
      agents: [agent],
      modelRetry: { initialDelayMs: 0, maxDelayMs: 0 },
    });
    const run = await runtime.run(agent.name, 'Where is order A1?');
    expect(run.status).toBe('succeeded');
    const events = await journalOf(run.id);
    const cut = events.findIndex(
      (event) => event.type === crashedAfter && 'step' in event && event.step === 1,
    );
    expect(cut).toBeGreaterThan(0);
    const runId = newRunId();
    const now = Date.now();
    await store.createRun({
      id: runId,
      agent: agent.name,
      task: 'Where is order A1?',
      createdAt: now,
      events: events.slice(0, cut + 1).map((event, index) => ({ seq: index + 1, at: now, event })),
      claimBy: { workerId: 'dead-worker', leaseUntil: now - 1_000 },
    });
    const worker = runtime.startWorker({ pollMs: 5 });
    try {
      expect((await runtime.wait(runId, { pollMs: 5 })).status).toBe('succeeded');
    } finally {
      await worker.stop();
    }
    return {
      whole: { runId: run.id, events },
      resumed: { runId, events: await journalOf(runId) },
    };
  }

  async function journalOf(runId: string): Promise<RunEvent[]> {
    return (await store.readEvents(runId)).map((entry) => entry.event);
  }

  it.each([
    ['had journaled its context_assembled', 'context_assembled', undefined, []],
    [
      'had also journaled a failed model call',
      'model_failed',
      { text: 'It has shipped.', failFirst: { type: 'server_error', times: 1 } },
      ['model_failed'],
    ],
  ] as const)(
    'reports identical when the killed attempt %s',
    async (_, cutAfter, reply, failed) => {
      const agent = contextAgent(`resumed-${cutAfter.replace('_', '-')}`, reply);
      const { resumed } = await crashAndResume(agent, cutAfter);
      expect(resumed.events.map((event) => event.type).slice(6)).toEqual([
        'tool_finished',
        'context_assembled',
        ...failed,
        'run_claimed',
        'context_assembled',
        'model_called',
        'run_finished',
      ]);
      const journal = await store.readEvents(resumed.runId);
      const replay = await replayRun({ agent, runId: resumed.runId, journal });
      expect(replay).toMatchObject({ identical: true, divergence: null });
    },
  );

  it('reports a context_assembled that changed in a run that never crashed', async () => {
    const agent = contextAgent('changed-context');
    runtime = createRuntime({ store, agents: [agent] });
    const run = await runtime.run(agent.name, 'Where is order A1?');
    const narrower = defineAgent({
      name: agent.name,
      model: agent.model,
      instructions: agent.instructions,
      tools: agent.tools,
      context: { windowTokens: 8_000 },
    });
    const journal = await store.readEvents(run.id);
    const replay = await replayRun({ agent: narrower, runId: run.id, journal });
    expect(replay).toMatchObject({
      identical: false,
      divergence: { step: 0, expected: { type: 'context_assembled' }, fields: ['budgetTokens'] },
    });
  });

  it('reports a resumed step whose context_assembled differs from the replayed one', async () => {
    const { whole, resumed } = await crashAndResume(
      contextAgent('resumed-changed'),
      'context_assembled',
    );
    // The whole run is what a replay of the resumed one journals when nothing changed.
    expect(compareJournals(resumed.runId, resumed.events, whole.events, whole.runId)).toMatchObject(
      { identical: true },
    );
    const changed = whole.events.map((event) =>
      event.type === 'context_assembled' && event.step === 1
        ? { ...event, totalTokens: event.totalTokens + 1 }
        : event,
    );
    expect(compareJournals(resumed.runId, resumed.events, changed, whole.runId)).toMatchObject({
      identical: false,
      divergence: { step: 1, expected: { type: 'context_assembled' }, fields: ['totalTokens'] },
    });
  });

  it('reports a step that journaled its context_assembled twice without a resume', async () => {
    const { whole } = await crashAndResume(contextAgent('assembled-twice'), 'context_assembled');
    const twice = whole.events.flatMap((event) =>
      event.type === 'context_assembled' && event.step === 1 ? [event, event] : [event],
    );
    expect(compareJournals(whole.runId, twice, whole.events, whole.runId)).toMatchObject({
      identical: false,
      divergence: { step: 1, expected: { type: 'context_assembled' } },
    });
  });
});
