import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ToolError,
  createRuntime,
  decide,
  defineAgent,
  defineTool,
  openStore,
  replayRun,
  simulator,
  type Agent,
  type ModelAdapterV1,
  type SimulatedTurn,
} from '../index.js';

const topic = z.enum(['billing', 'shipping', 'other']);

/** A decision model that counts its calls. */
function counted(script: (call: number) => SimulatedTurn): {
  model: ModelAdapterV1;
  calls: () => number;
} {
  let calls = 0;
  const inner = simulator({
    modelId: 'decider',
    price: { inputPerMillion: 1, outputPerMillion: 5 },
    script: () => script(calls - 1),
  });
  return {
    calls: () => calls,
    model: {
      ...inner,
      doGenerate(request, options) {
        calls += 1;
        return inner.doGenerate(request, options);
      },
    },
  };
}

/** An agent whose one tool classifies the ticket with `decide`, then answers. */
function triageAgent(
  decider: ModelAdapterV1,
  options: { failFirstAttempt?: boolean; fallbackOnly?: boolean } = {},
): Agent {
  const classify = defineTool({
    name: 'classify',
    description: 'Classify the ticket',
    input: z.object({ ticket: z.string() }),
    effect: 'read',
    retry: { maxAttempts: 2, initialDelayMs: 0, maxDelayMs: 0 },
    async run({ ticket }, context) {
      const decision = await decide({
        schema: topic,
        instructions: 'Classify the support ticket.',
        input: ticket,
        model: decider,
        retries: options.fallbackOnly ? 1 : 2,
        fallback: 'other',
        run: context,
      });
      if (options.failFirstAttempt && context.attempt === 1) {
        throw new ToolError('unavailable', 'the ticket system timed out');
      }
      return { topic: decision.value, status: decision.status, calls: decision.calls };
    },
  });
  return defineAgent({
    name: 'triage',
    model: simulator({
      modelId: 'triage-model',
      script: [
        { toolCalls: [{ name: 'classify', args: { ticket: 'I was charged twice.' } }] },
        { text: 'Routed.' },
      ],
    }),
    instructions: 'Classify the ticket with the tool.',
    tools: [classify],
  });
}

async function runOnce(agent: Agent) {
  const store = await openStore('sqlite::memory:');
  const runtime = createRuntime({ store, agents: [agent] });
  try {
    const result = await runtime.run(agent.name, 'Triage this ticket');
    const journal = await store.readEvents(result.id);
    return { result, journal, events: journal.map((entry) => entry.event) };
  } finally {
    await runtime.close();
    await store.close();
  }
}

describe('decide inside a run', () => {
  it("journals the decision's attempts, vote and outcome as events of the calling tool", async () => {
    const decider = counted((call) =>
      call === 0
        ? { text: 'billing, surely' }
        : { text: JSON.stringify({ value: 'billing', confidence: 0.9 }) },
    );
    const { result, events } = await runOnce(triageAgent(decider.model));
    expect(result.status).toBe('succeeded');
    const types = events.map((event) =>
      event.type === 'decision_recorded' ? `decision:${event.entry.type}` : event.type,
    );
    const started = types.indexOf('tool_started');
    expect(types.slice(started, started + 7)).toEqual([
      'tool_started',
      'decision:decision_started',
      'decision:decision_attempt',
      'decision:decision_attempt',
      'decision:decision_vote',
      'decision:decision_made',
      'tool_finished',
    ]);
    const attempts = events.flatMap((event) =>
      event.type === 'decision_recorded' && event.entry.type === 'decision_attempt'
        ? [event.entry]
        : [],
    );
    expect(attempts[0]?.error).toMatch(/not valid JSON/);
    expect(attempts[1]?.error).toBeUndefined();
    const recorded = events.filter((event) => event.type === 'decision_recorded');
    expect(new Set(recorded.map((event) => event.toolName))).toEqual(new Set(['classify']));
    // The decision's two model calls are the run's spending too.
    const decisionTokens = attempts.reduce(
      (sum, attempt) =>
        sum + (attempt.usage?.inputTokens ?? 0) + (attempt.usage?.outputTokens ?? 0),
      0,
    );
    const stepTokens = events
      .filter((event) => event.type === 'model_called')
      .reduce((sum, event) => sum + event.usage.inputTokens + event.usage.outputTokens, 0);
    expect(decisionTokens).toBeGreaterThan(0);
    expect(result.usage.inputTokens + result.usage.outputTokens).toBe(stepTokens + decisionTokens);
  });

  it('replays identically, serving the decision from the journal without a model call', async () => {
    const decider = counted(() => ({ text: JSON.stringify({ value: 'shipping', confidence: 1 }) }));
    const agent = triageAgent(decider.model);
    const { result, journal } = await runOnce(agent);
    expect(decider.calls()).toBe(1);
    const report = await replayRun({ agent, runId: result.id, journal });
    expect(report).toMatchObject({ identical: true, divergence: null });
    expect(decider.calls()).toBe(1);
  });

  it('serves a retried call the decision its first attempt made', async () => {
    const decider = counted(() => ({ text: JSON.stringify({ value: 'shipping', confidence: 1 }) }));
    const { result, events } = await runOnce(
      triageAgent(decider.model, { failFirstAttempt: true }),
    );
    expect(result.status).toBe('succeeded');
    expect(decider.calls()).toBe(1);
    const finished = events.find((event) => event.type === 'tool_finished');
    expect(finished?.type === 'tool_finished' && JSON.parse(finished.content)).toEqual({
      topic: 'shipping',
      status: 'decided',
      calls: 0,
    });
    expect(
      events.filter(
        (event) => event.type === 'decision_recorded' && event.entry.type === 'decision_made',
      ),
    ).toHaveLength(1);
  });

  it('journals the fallback when every answer is invalid; the tool never sees a throw', async () => {
    const decider = counted(() => ({ text: '{"value": "refunds", "confidence": 1}' }));
    const { result, events } = await runOnce(triageAgent(decider.model, { fallbackOnly: true }));
    expect(result.status).toBe('succeeded');
    expect(decider.calls()).toBe(2);
    const fallback = events.find(
      (event) => event.type === 'decision_recorded' && event.entry.type === 'decision_fallback',
    );
    expect(fallback).toMatchObject({
      entry: { confidence: 0, reason: expect.stringMatching(/no valid answer after 2/) },
    });
    const finished = events.find((event) => event.type === 'tool_finished');
    expect(finished?.type === 'tool_finished' && JSON.parse(finished.content)).toMatchObject({
      topic: 'other',
      status: 'fallback',
    });
  });

  it('serves a call resumed after a crash the decision it journaled before the crash', async () => {
    const decider = counted(() => ({ text: JSON.stringify({ value: 'billing', confidence: 1 }) }));
    const agent = triageAgent(decider.model);
    const first = await runOnce(agent);
    // The journal a worker leaves when it dies after the decision, before the tool's result.
    const cut = first.events.findIndex((event) => event.type === 'tool_finished');
    const crashed = first.journal.slice(0, cut);
    expect(crashed.some((entry) => entry.event.type === 'decision_recorded')).toBe(true);
    const store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const now = Date.now();
      await store.createRun({
        id: first.result.id,
        agent: agent.name,
        task: 'Triage this ticket',
        createdAt: now,
        events: crashed.map((entry) => ({ seq: entry.seq, at: entry.at, event: entry.event })),
        claimBy: { workerId: 'dead-worker', leaseUntil: now - 1_000 },
      });
      const worker = runtime.startWorker({ pollMs: 10 });
      const result = await runtime.wait(first.result.id, { pollMs: 10 });
      await worker.stop();
      expect(result.status).toBe('succeeded');
      expect(decider.calls()).toBe(1);
      const journal = await store.readEvents(first.result.id);
      const events = journal.map((entry) => entry.event);
      const finished = events.find((event) => event.type === 'tool_finished');
      expect(finished?.type === 'tool_finished' && JSON.parse(finished.content)).toEqual({
        topic: 'billing',
        status: 'decided',
        calls: 0,
      });
      const replay = await replayRun({ agent, runId: first.result.id, journal });
      expect(replay.divergence).toBeNull();
    } finally {
      await runtime.close();
      await store.close();
    }
  });
});
