import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent, type AgentDefinition } from '../agent/index.js';
import { KeelError, TRUSTED_TASK } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';
import { simulator, type SimulatorScript } from '../model/index.js';
import type { Notifier } from '../notify/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool, type Tool } from '../tools/index.js';
import { createRuntime, inShadowSample, newRunId, type Runtime } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/** Every execution of a tool's `run`, by tool: the side effects that took place. */
type Executions = Record<string, unknown[]>;

/** A desk's tools, one per effect, counting each execution at the tool. */
function deskTools(executions: Executions): Tool[] {
  const counted = (name: string) => (input: unknown) => {
    (executions[name] ??= []).push(input);
    return Promise.resolve({ ok: true, tool: name, input });
  };
  return [
    defineTool({
      name: 'lookup_order',
      description: 'Look an order up',
      input: z.object({ orderId: z.string() }),
      effect: 'read',
      run: counted('lookup_order'),
    }),
    defineTool({
      name: 'update_ticket',
      description: 'Update the ticket',
      input: z.object({ ticketId: z.string(), note: z.string() }),
      effect: 'write',
      run: counted('update_ticket'),
    }),
    defineTool({
      name: 'issue_refund',
      description: 'Refund an order',
      input: z.object({ orderId: z.string(), amount: z.number() }),
      effect: 'irreversible',
      run: counted('issue_refund'),
    }),
    defineTool({
      name: 'send_email',
      description: 'Email the customer',
      input: z.object({ to: z.string(), body: z.string() }),
      effect: 'egress',
      run: counted('send_email'),
    }),
  ];
}

/** Production: looks up ORD-1, updates the ticket, refunds 5, emails; then answers. */
const PRODUCTION_SCRIPT: SimulatorScript = [
  {
    toolCalls: [
      { name: 'lookup_order', args: { orderId: 'ORD-1' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'refunding' } },
    ],
  },
  {
    toolCalls: [
      { name: 'issue_refund', args: { orderId: 'ORD-1', amount: 5 } },
      { name: 'send_email', args: { to: 'ana@example.com', body: 'Refunded 5.' } },
    ],
  },
  { text: 'Refunded 5 on ORD-1.' },
];

/**
 * The candidate: the same lookup (served from production), then every side-effecting tool
 * with new arguments and a lookup production never made; its first model call is rate limited
 * twice (a provider fault) before it answers.
 */
const CANDIDATE_SCRIPT: SimulatorScript = [
  {
    failFirst: { type: 'rate_limited', times: 2 },
    toolCalls: [
      { name: 'lookup_order', args: { orderId: 'ORD-1' } },
      { name: 'lookup_order', args: { orderId: 'ORD-2' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'refund 50' } },
    ],
  },
  {
    toolCalls: [
      { name: 'issue_refund', args: { orderId: 'ORD-1', amount: 50 } },
      { name: 'send_email', args: { to: 'ana@example.com', body: 'Refunded 50.' } },
      { name: 'update_ticket', args: { ticketId: 'T-1', note: 'refunding' } },
    ],
  },
  { text: 'Refunded 50 on ORD-1.' },
];

function deskAgent(
  executions: Executions,
  script: SimulatorScript,
  extra: Pick<AgentDefinition, 'version' | 'gates'> = {},
): Agent {
  return defineAgent({
    name: 'desk',
    model: simulator({ script }),
    instructions: 'You help customers with refunds.',
    tools: deskTools(executions),
    ...extra,
  });
}

function ofType<T extends RunEvent['type']>(events: readonly RunEvent[], type: T) {
  return events.filter((event): event is Extract<RunEvent, { type: T }> => event.type === type);
}

async function eventsOf(store: Store, runId: string): Promise<RunEvent[]> {
  return (await store.readEvents(runId)).map((entry) => entry.event);
}

/** The pair queued for a production run (in the background when it finished), once queued. */
async function pairFor(store: Store, runId: string) {
  for (let tries = 0; tries < 1_000; tries++) {
    const pair = (await store.shadows.pairs()).find((each) => each.runId === runId);
    if (pair && (await store.getRun(pair.candidateRunId))) return pair;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`no shadow run was queued for ${runId}`);
}

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 2 };

describe('inShadowSample', () => {
  it('samples the share of 1,000 run ids within 2 points, the same way every time', () => {
    const ids = Array.from({ length: 1_000 }, (_, index) => `run_${index.toString(36)}_sample`);
    for (const share of [0.05, 0.2, 0.5]) {
      const sampled = ids.filter((id) => inShadowSample(id, share));
      expect(Math.abs(sampled.length / ids.length - share)).toBeLessThanOrEqual(0.02);
      expect(ids.filter((id) => inShadowSample(id, share))).toEqual(sampled);
    }
    expect(ids.every((id) => inShadowSample(id, 1))).toBe(true);
  });

  it('keeps a run sampled at a lower share when the share grows', () => {
    const ids = Array.from({ length: 200 }, (_, index) => `run_${index}`);
    const small = ids.filter((id) => inShadowSample(id, 0.1));
    expect(small.every((id) => inShadowSample(id, 0.3))).toBe(true);
  });
});

for (const target of storeTargets('keel_shadow_')) {
  describe(`shadow runs (${target.name})`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const runtimes: Runtime[] = [];
    beforeAll(async () => {
      ({ store, dispose } = await target.open());
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    });
    afterAll(async () => {
      await dispose();
    });

    const ORDER_REDACTOR = { name: 'order_id', pattern: /\bORD-\d+\b/ };

    function runtimeWith(agents: Agent[], candidates: Agent[] = [], notifier?: Notifier) {
      const runtime = createRuntime({
        store,
        agents,
        candidates,
        leaseMs: 60_000,
        modelRetry: FAST_RETRY,
        // Recorded with every run, shadow runs included, for the views that redact them.
        redact: [ORDER_REDACTOR],
        ...(notifier ? { approvals: { notifier } } : {}),
      });
      runtimes.push(runtime);
      return runtime;
    }

    it('executes no side effect of a candidate under provider faults and a dead worker, journaling each suppressed call', async () => {
      const production: Executions = {};
      const candidateExecutions: Executions = {};
      const runtime = runtimeWith(
        [deskAgent(production, PRODUCTION_SCRIPT)],
        [deskAgent(candidateExecutions, CANDIDATE_SCRIPT, { version: 'candidate-1' })],
      );
      const shadow = await store.shadows.list();
      expect(shadow).toEqual([]);
      const started = await runtime.shadows.start({
        agent: 'desk',
        candidate: deskAgent(candidateExecutions, CANDIDATE_SCRIPT, { version: 'candidate-1' }),
        share: 1,
      });
      const result = await runtime.run('desk', 'Refund ORD-1 for Ana');
      expect(result.status).toBe('succeeded');
      const pair = await pairFor(store, result.id);
      expect(pair).toMatchObject({ shadowId: started.id, runId: result.id });
      const candidateRunId = pair.candidateRunId;
      // A worker claims the shadow run and dies at once (its lease already expired).
      const dead = await store.claimNext({ workerId: 'dead-worker', now: Date.now(), leaseMs: -1 });
      expect(dead?.id).toBe(candidateRunId);
      runtime.startWorker({ pollMs: 5 });
      const shadowResult = await runtime.wait(candidateRunId, { pollMs: 5 });

      expect(shadowResult.status).toBe('succeeded');
      expect(candidateExecutions).toEqual({});
      expect(Object.keys(production).sort()).toEqual([
        'issue_refund',
        'lookup_order',
        'send_email',
        'update_ticket',
      ]);
      const events = await eventsOf(store, candidateRunId);
      expect(ofType(events, 'run_started')[0]).toMatchObject({
        shadowOf: result.id,
        shadowId: started.id,
        version: 'candidate-1',
        secrets: { redactors: [{ name: 'order_id', source: ORDER_REDACTOR.pattern.source }] },
      });
      expect(ofType(events, 'run_claimed').map((event) => event.workerId)).toContain('dead-worker');
      expect(ofType(events, 'model_failed')).toHaveLength(2);
      expect(
        ofType(events, 'shadow_suppressed').map((event) => [event.toolName, event.input]),
      ).toEqual([
        ['lookup_order', { orderId: 'ORD-2' }],
        ['update_ticket', { ticketId: 'T-1', note: 'refund 50' }],
        ['issue_refund', { orderId: 'ORD-1', amount: 50 }],
        ['send_email', { to: 'ana@example.com', body: 'Refunded 50.' }],
      ]);
      // Identical calls are served what production recorded.
      expect(
        ofType(events, 'tool_intercepted')
          .filter((event) => event.action === 'served')
          .map((event) => event.toolName),
      ).toEqual(['lookup_order', 'update_ticket']);
      const record = await store.getRun(candidateRunId);
      expect(record).toMatchObject({ shadowOf: result.id, version: 'candidate-1' });
      expect((await store.getRun(result.id))?.shadowOf).toBeNull();
      // Shadow runs are left out of listings unless asked for.
      expect((await store.listRuns()).map((run) => run.id)).not.toContain(candidateRunId);
      expect((await store.listRuns({ shadows: 'only' })).map((run) => run.id)).toContain(
        candidateRunId,
      );
      await runtime.shadows.stop(started.id);
    });

    it('stores a shadow as started, and stops it once', async () => {
      const runtime = runtimeWith([deskAgent({}, [{ text: 'ok' }])]);
      const record = await runtime.shadows.start({
        agent: 'desk',
        candidate: deskAgent({}, [{ text: 'ok' }], { version: 'stored-1' }),
        share: 0.25,
        maxConcurrent: 3,
        maxCostUsd: 1.5,
        allowLiveReads: true,
        candidateModule: '/srv/candidate.ts',
      });
      expect(await store.shadows.get(record.id)).toEqual(record);
      const stopped = await runtime.shadows.stop(record.id);
      expect(stopped).toMatchObject({ id: record.id, stopReason: 'stopped' });
      expect(stopped.stoppedAt).not.toBeNull();
      expect((await store.shadows.list({ active: true })).map((each) => each.id)).not.toContain(
        record.id,
      );
      expect(await store.shadows.usage(record.id)).toEqual({
        pairs: 0,
        active: 0,
        costUsd: 0,
        costStops: 0,
      });
    });

    it('resumes a shadow run whose worker died after the model asked for a write, and never runs it', async () => {
      const candidateExecutions: Executions = {};
      const candidate = deskAgent(
        candidateExecutions,
        [
          { toolCalls: [{ name: 'update_ticket', args: { ticketId: 'T-9', note: 'x' } }] },
          { text: 'done' },
        ],
        { version: 'candidate-crash' },
      );
      const runtime = runtimeWith([deskAgent({}, PRODUCTION_SCRIPT)], [candidate]);
      const productionRun = await runtime.run('desk', 'Refund ORD-1 for Bo');
      const runId = newRunId();
      const now = Date.now();
      const journal: RunEvent[] = [
        {
          type: 'run_started',
          agent: 'desk',
          task: 'Refund ORD-1 for Bo',
          taskProvenance: TRUSTED_TASK,
          model: { provider: 'simulator', modelId: 'simulator' },
          limits: candidate.limits,
          startedAt: now,
          version: 'candidate-crash',
          shadowOf: productionRun.id,
        },
        { type: 'run_claimed', workerId: 'dead-worker', claim: 1, at: now },
        {
          type: 'model_called',
          step: 0,
          content: [
            {
              type: 'tool_call',
              callId: 'call_0_0',
              toolName: 'update_ticket',
              arguments: '{"ticketId":"T-9","note":"x"}',
            },
          ],
          finishReason: 'tool_calls',
          usage: { inputTokens: 10, outputTokens: 5 },
          costUsd: 0,
          estimatedInputTokens: 10,
          latencyMs: 1,
          attempts: 1,
          provenance: { trust: 'trusted', source: 'model' },
        },
        {
          type: 'tool_requested',
          step: 0,
          callId: 'call_0_0',
          index: 0,
          toolName: 'update_ticket',
          input: { ticketId: 'T-9', note: 'x' },
          effect: 'write',
        },
      ];
      await store.createRun({
        id: runId,
        agent: 'desk',
        task: 'Refund ORD-1 for Bo',
        createdAt: now,
        events: journal.map((event, index) => ({ seq: index + 1, at: now, event })),
        claimBy: { workerId: 'dead-worker', leaseUntil: now - 1_000 },
      });
      runtime.startWorker({ pollMs: 5 });
      const result = await runtime.wait(runId, { pollMs: 5 });
      expect(result.status).toBe('succeeded');
      expect(candidateExecutions).toEqual({});
      const events = await eventsOf(store, runId);
      expect(ofType(events, 'shadow_suppressed')).toEqual([
        expect.objectContaining({ toolName: 'update_ticket', effect: 'write' }),
      ]);
    });

    it('asks nobody for a call the gates would hold: recorded as would_need_approval, answered neutrally', async () => {
      const notified: unknown[] = [];
      const notifier: Notifier = {
        name: 'recorder',
        notify(notice) {
          notified.push(notice);
          return Promise.resolve();
        },
      };
      const candidateExecutions: Executions = {};
      const candidate = deskAgent(
        candidateExecutions,
        [
          { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-7', amount: 9 } }] },
          { text: 'asked' },
        ],
        { version: 'candidate-gated', gates: {} },
      );
      const runtime = runtimeWith(
        [deskAgent({}, [{ text: 'nothing to do' }])],
        [candidate],
        notifier,
      );
      const shadow = await runtime.shadows.start({ agent: 'desk', candidate, share: 1 });
      const production = await runtime.run('desk', 'Look at ORD-7');
      const pair = await pairFor(store, production.id);
      runtime.startWorker({ pollMs: 5 });
      const result = await runtime.wait(pair.candidateRunId, { pollMs: 5 });
      expect(result.status).toBe('succeeded');
      const events = await eventsOf(store, result.id);
      expect(ofType(events, 'would_need_approval')).toEqual([
        expect.objectContaining({
          toolName: 'issue_refund',
          input: { orderId: 'ORD-7', amount: 9 },
        }),
      ]);
      expect(ofType(events, 'approval_requested')).toEqual([]);
      expect(await store.approvals.list({ runId: result.id })).toEqual([]);
      expect(notified).toEqual([]);
      expect(candidateExecutions).toEqual({});
      expect(ofType(events, 'tool_finished')[0]?.content).toContain('"executed":false');
      await runtime.shadows.stop(shadow.id);
    });
  });
}

describe('shadows', () => {
  let store: Store;
  const runtimes: Runtime[] = [];
  beforeAll(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
    for (const shadow of await store.shadows.list({ active: true }))
      await store.shadows.stop(shadow.id, Date.now());
  });
  afterAll(async () => {
    await store.close();
  });

  function desk(script: SimulatorScript = [{ text: 'ok' }], version?: string): Agent {
    return deskAgent({}, script, version === undefined ? {} : { version });
  }

  it('refuses bad settings, naming the field', async () => {
    const runtime = createRuntime({ store, agents: [desk()] });
    runtimes.push(runtime);
    const candidate = desk([{ text: 'v2' }], 'v2');
    const attempts = [
      { agent: 'nobody', candidate },
      { agent: 'desk', candidate, share: 0 },
      { agent: 'desk', candidate, share: 1.5 },
      { agent: 'desk', candidate, maxConcurrent: 0 },
      { agent: 'desk', candidate, maxCostUsd: -1 },
      { agent: 'desk', candidate: desk() },
    ];
    const fields: string[] = [];
    for (const attempt of attempts) {
      const error = await runtime.shadows.start(attempt).catch((caught: unknown) => caught);
      expect(KeelError.isInstance(error) && error.code).toBe('invalid_input');
      fields.push(String((error as Error).message.match(/"(\w+)"/)?.[1]));
    }
    expect(fields).toEqual(['agent', 'share', 'share', 'maxConcurrent', 'maxCostUsd', 'candidate']);
  });

  it('queues nothing for a run outside the sample, and nothing once stopped', async () => {
    const runtime = createRuntime({ store, agents: [desk()], candidates: [] });
    runtimes.push(runtime);
    const shadow = await runtime.shadows.start({
      agent: 'desk',
      candidate: desk([{ text: 'v2' }], 'v2'),
      share: 0.5,
      maxConcurrent: 10,
    });
    const ids = Array.from({ length: 8 }, (_, index) => `run_sample_${index}`);
    for (const id of ids) await runtime.run('desk', 'Hello', { runId: id });
    await runtime.close();
    const pairs = (await store.shadows.pairs(shadow.id)).map((pair) => pair.runId).sort();
    expect(pairs).toEqual(ids.filter((id) => inShadowSample(id, 0.5)).sort());
    await runtime.shadows.stop(shadow.id);
    const again = createRuntime({ store, agents: [desk()] });
    runtimes.push(again);
    const late = await again.run('desk', 'Hello', { runId: 'run_after_stop' });
    expect(await again.shadows.consider(late.id)).toEqual([]);
  });

  it('stops sampling at maxConcurrent shadow runs waiting, and at its budget', async () => {
    const runtime = createRuntime({ store, agents: [desk()] });
    runtimes.push(runtime);
    const candidate = desk([{ text: 'v2' }], 'v2-bounded');
    const bounded = await runtime.shadows.start({
      agent: 'desk',
      candidate,
      share: 1,
      maxConcurrent: 1,
    });
    const first = await runtime.run('desk', 'One');
    const second = await runtime.run('desk', 'Two');
    await runtime.close();
    // No worker runs: the first shadow run waits, the second production run gets none.
    expect((await store.shadows.pairs(bounded.id)).map((pair) => pair.runId)).toEqual([first.id]);
    expect(second.id).not.toBe(first.id);
    await store.shadows.stop(bounded.id, Date.now());

    const budgeted = createRuntime({ store, agents: [desk()] });
    runtimes.push(budgeted);
    const shadow = await budgeted.shadows.start({
      agent: 'desk',
      candidate: desk([{ text: 'v2 costs' }], 'v2-budget'),
      share: 1,
      maxConcurrent: 10,
      maxCostUsd: 0.000_001,
    });
    budgeted.startWorker({ pollMs: 5 });
    const paid = await budgeted.run('desk', 'Three');
    const pair = await pairFor(store, paid.id);
    expect(pair.shadowId).toBe(shadow.id);
    await budgeted.wait(pair.candidateRunId, { pollMs: 5 });
    const over = await budgeted.run('desk', 'Four');
    await budgeted.close();
    expect((await store.shadows.pairs(shadow.id)).map((each) => each.runId)).not.toContain(over.id);
    expect(await store.shadows.get(shadow.id)).toMatchObject({ stopReason: 'budget' });
  });

  it('gives a suppressed call the configured stand-in, and still never runs it', async () => {
    const executions: Executions = {};
    const candidate = deskAgent(
      executions,
      ({ lastToolResults }) =>
        lastToolResults.length === 0
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'ORD-3', amount: 1 } }] }
          : { text: `got ${lastToolResults[0]?.content ?? ''}` },
      { version: 'v2-stand-in' },
    );
    const runtime = createRuntime({
      store,
      agents: [desk()],
      candidates: [candidate],
      shadowResult: (call) => ({
        ok: true,
        value: { refundId: 'RF-STAND-IN', tool: call.toolName },
      }),
    });
    runtimes.push(runtime);
    await runtime.shadows.start({ agent: 'desk', candidate, share: 1, maxConcurrent: 10 });
    const production = await runtime.run('desk', 'Refund ORD-3');
    const pair = await pairFor(store, production.id);
    runtime.startWorker({ pollMs: 5 });
    const result = await runtime.wait(pair.candidateRunId, { pollMs: 5 });
    expect(result.output).toBe('got {"refundId":"RF-STAND-IN","tool":"issue_refund"}');
    expect(executions).toEqual({});
    expect(ofType(await eventsOf(store, result.id), 'shadow_suppressed')).toHaveLength(1);
  });

  it('keeps shadows across a restart of the store', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-shadow-'));
    try {
      const url = `sqlite:${join(directory, 'keel.db')}`;
      const first = await openStore(url);
      const runtime = createRuntime({ store: first, agents: [desk()] });
      const shadow = await runtime.shadows.start({
        agent: 'desk',
        candidate: desk([{ text: 'v2' }], 'v2-durable'),
        share: 0.3,
        maxConcurrent: 3,
        maxCostUsd: 2,
        allowLiveReads: true,
        candidateModule: '/srv/agents/candidate.ts',
      });
      await runtime.close();
      await first.close();
      const second = await openStore(url);
      expect(await second.shadows.list({ active: true })).toEqual([shadow]);
      await second.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
