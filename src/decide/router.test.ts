import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createRuntime,
  defineAgent,
  defineModelTiers,
  defineRouter,
  defineTool,
  openStore,
  replayRun,
  simulator,
  type Agent,
  type SimulatedTurn,
} from '../index.js';

const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order',
  input: z.object({ orderId: z.string() }),
  effect: 'read',
  run: (input) => Promise.resolve({ orderId: input.orderId, status: 'shipped' }),
});
const issueRefund = defineTool({
  name: 'issue_refund',
  description: 'Refund an order',
  input: z.object({ orderId: z.string() }),
  effect: 'write',
  run: (input) => Promise.resolve({ refunded: input.orderId }),
});

function executors(shippingScript: readonly SimulatedTurn[] = [{ text: 'It has shipped.' }]) {
  const refunds = defineAgent({
    name: 'refunds',
    description: 'refunds and double charges',
    model: simulator({ script: [{ text: 'Refund issued.' }] }),
    instructions: 'Handle refunds.',
    tools: [issueRefund],
  });
  const shipping = defineAgent({
    name: 'shipping',
    description: 'where a parcel is',
    model: simulator({ script: shippingScript }),
    instructions: 'Answer shipping questions.',
    tools: [lookupOrder],
    limits: { maxTokens: 50_000, maxCostUsd: 0.5 },
  });
  return { refunds, shipping };
}

const choose = (value: string, confidence: number): SimulatedTurn => ({
  text: JSON.stringify({ value, confidence }),
});

/** A router whose model picks `shipping` with confidence 0.9, falling back to `refunds`. */
function confidentlyShipping(routes: ReturnType<typeof executors>) {
  return defineRouter({
    model: simulator({ script: [choose('shipping', 0.9)] }),
    routes,
    fallback: 'refunds',
  });
}

async function withRuntime<T>(
  agents: readonly Agent[],
  work: (runtime: ReturnType<typeof createRuntime>) => Promise<T>,
): Promise<T> {
  const store = await openStore('sqlite::memory:');
  const runtime = createRuntime({ store, agents });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
    await store.close();
  }
}

describe('defineRouter', () => {
  it('starts the chosen executor on the fast tier, linked to the routing decision', async () => {
    const { refunds, shipping } = executors();
    const tiers = defineModelTiers({
      fast: [simulator({ script: [choose('shipping', 0.95)], modelId: 'fast-sim' })],
      frontier: [simulator({ script: [choose('refunds', 0.95)], modelId: 'frontier-sim' })],
    });
    const router = defineRouter({ tiers, routes: { refunds, shipping }, fallback: 'refunds' });
    await withRuntime([refunds, shipping], async (runtime) => {
      const routed = await router.route('Where is order A-1?', { runtime });
      expect(routed).toMatchObject({ status: 'started', route: 'shipping' });
      expect(routed.decision.events[0]).toMatchObject({ model: 'simulator:fast-sim' });
      const record = await runtime.store.decisions.get(routed.decision.id);
      expect(record).toMatchObject({
        kind: 'route',
        value: 'shipping',
        startedRunId: routed.runId,
      });
      runtime.startWorker({ pollMs: 10 });
      const result = await runtime.wait(routed.runId ?? '', { pollMs: 10 });
      expect(result).toMatchObject({ status: 'succeeded', output: 'It has shipped.' });
      const { record: run } = await runtime.inspect(routed.runId ?? '');
      expect(run.agent).toBe('shipping');
    });
  });

  it('takes the fallback route when the router never gives a valid choice', async () => {
    const { refunds, shipping } = executors();
    const router = defineRouter({
      model: simulator({ script: () => ({ text: 'shipping, probably' }) }),
      routes: { refunds, shipping },
      fallback: 'refunds',
      retries: 1,
    });
    await withRuntime([refunds, shipping], async (runtime) => {
      const routed = await router.route('Help', { runtime });
      expect(routed).toMatchObject({ status: 'started', route: 'refunds' });
      expect(routed.decision).toMatchObject({ status: 'fallback', confidence: 0 });
    });
  });

  it("gives the routed run what is left of the parent's budget", async () => {
    const { refunds, shipping } = executors();
    const parent = defineAgent({
      name: 'desk',
      model: simulator({ script: [{ text: 'Routing.' }] }),
      instructions: 'Front desk.',
      limits: { maxTokens: 10_000, maxCostUsd: 0.2, maxIterations: 10 },
    });
    const router = confidentlyShipping({ refunds, shipping });
    await withRuntime([parent, refunds, shipping], async (runtime) => {
      const parentRun = await runtime.run('desk', 'Where is order A-1?');
      const { state } = await runtime.inspect(parentRun.id);
      const routed = await router.route('Where is order A-1?', {
        runtime,
        parentRunId: parentRun.id,
      });
      const spent = state.usage.inputTokens + state.usage.outputTokens;
      const routing = routed.decision.usage.inputTokens + routed.decision.usage.outputTokens;
      const { state: child } = await runtime.inspect(routed.runId ?? '');
      expect(child.limits).toMatchObject({
        maxTokens: 10_000 - spent - routing,
        maxIterations: 10 - state.steps,
      });
      expect(child.limits?.maxCostUsd).toBeCloseTo(
        0.2 - state.usage.costUsd - (routed.decision.costUsd ?? 0),
        12,
      );
    });
  });

  it('keeps an executor limit that is already below what the parent has left', async () => {
    const { refunds, shipping } = executors();
    const router = confidentlyShipping({ refunds, shipping });
    await withRuntime([refunds, shipping], async (runtime) => {
      const routed = await router.route('Where?', { runtime, budget: { maxTokens: 1_000_000 } });
      const { state: child } = await runtime.inspect(routed.runId ?? '');
      expect(child.limits?.maxTokens).toBe(50_000);
    });
  });

  it('starts no run when the budget is already spent', async () => {
    const { refunds, shipping } = executors();
    const router = confidentlyShipping({ refunds, shipping });
    await withRuntime([refunds, shipping], async (runtime) => {
      const routed = await router.route('Where?', { runtime, budget: { maxTokens: 10 } });
      expect(routed).toMatchObject({ status: 'no_budget', runId: undefined });
      expect(await runtime.store.listRuns()).toEqual([]);
    });
  });

  it('rejects a fallback that is not a route, naming the field', () => {
    const { refunds, shipping } = executors();
    expect(() =>
      defineRouter({
        model: simulator({ script: [] }),
        routes: { refunds, shipping },
        fallback: 'billing',
      }),
    ).toThrow(/"fallback" must be one of the routes/);
  });
});

describe('executor scope', () => {
  it('refuses and flags a call to a tool outside the executor set; the run continues', async () => {
    const { refunds, shipping } = executors([
      { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] },
      { toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
      { text: 'It has shipped.' },
    ]);
    await withRuntime([refunds, shipping], async (runtime) => {
      const result = await runtime.run('shipping', 'Refund A-1 and tell me where it is');
      expect(result).toMatchObject({ status: 'succeeded', output: 'It has shipped.' });
      const events = (await runtime.store.readEvents(result.id)).map((entry) => entry.event);
      const rejected = events.filter((event) => event.type === 'tool_rejected');
      expect(rejected).toEqual([
        expect.objectContaining({
          toolName: 'issue_refund',
          outOfScope: true,
          error: expect.objectContaining({ type: 'not_found' }),
        }),
      ]);
      expect(
        events.some((event) => event.type === 'tool_started' && event.toolName === 'issue_refund'),
      ).toBe(false);
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'tool_finished', toolName: 'lookup_order' }),
      );
    });
  });

  it('stops the run with an out_of_scope outcome under onOutOfScope: stop', async () => {
    const shipping = executors().shipping;
    const strict = defineAgent({
      name: 'strict',
      model: simulator({
        script: [
          {
            toolCalls: [
              { name: 'lookup_order', args: { orderId: 'A-1' } },
              { name: 'issue_refund', args: { orderId: 'A-1' } },
            ],
          },
          { text: 'never reached' },
        ],
      }),
      instructions: 'Answer shipping questions.',
      tools: [lookupOrder],
      onOutOfScope: 'stop',
    });
    await withRuntime([shipping, strict], async (runtime) => {
      const result = await runtime.run('strict', 'Refund A-1 and tell me where it is');
      expect(result).toMatchObject({
        status: 'stopped',
        reason: { type: 'out_of_scope', toolName: 'issue_refund', step: 0 },
      });
      const journal = await runtime.store.readEvents(result.id);
      const events = journal.map((entry) => entry.event);
      expect(events.filter((event) => event.type === 'tool_rejected')).toEqual([
        expect.objectContaining({ toolName: 'issue_refund', outOfScope: true }),
      ]);
      // Nothing the stopping step asked for runs, in scope or not.
      expect(events.some((event) => event.type === 'tool_started')).toBe(false);
      const replay = await replayRun({ agent: strict, runId: result.id, journal });
      expect(replay.identical).toBe(true);
    });
  });

  it('rejects an unknown out-of-scope policy, naming the field', () => {
    expect(() =>
      defineAgent({
        name: 'strict',
        model: simulator({ script: [] }),
        instructions: 'x',
        onOutOfScope: 'ignore' as 'stop',
      }),
    ).toThrow(/"onOutOfScope" must be one of refuse, stop/);
  });

  it('does not flag a call to a tool of its own set', async () => {
    const { refunds, shipping } = executors([
      { toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
      { text: 'It has shipped.' },
    ]);
    await withRuntime([refunds, shipping], async (runtime) => {
      const result = await runtime.run('shipping', 'Where is A-1?');
      const events = (await runtime.store.readEvents(result.id)).map((entry) => entry.event);
      expect(events.filter((event) => event.type === 'tool_rejected')).toEqual([]);
    });
  });
});
