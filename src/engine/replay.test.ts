import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSupportDeskAgents } from '../../examples/support-desk/agents.js';
import { SupportBackend } from '../../examples/support-desk/backend.js';
import { runDemo, type DemoReport } from '../../examples/support-desk/demo.js';
import { defineAgent, type Agent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import { simulator, type ScriptContext } from '../model/index.js';
import { openStore, type Store, type StoredEvent } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, replayRun } from './index.js';

const directory = mkdtempSync(join(tmpdir(), 'keel-replay-test-'));
afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('replayRun on the demo runs', () => {
  let report: DemoReport;
  let store: Store;
  const agents = createSupportDeskAgents(new SupportBackend());
  const agent = (name: string): Agent => {
    const found = agents.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no agent ${name}`);
    return found;
  };

  beforeAll(async () => {
    const storeUrl = `sqlite:${join(directory, 'demo.db')}`;
    report = await runDemo({ storeUrl, json: true, log: () => undefined });
    store = await openStore(storeUrl);
  }, 120_000);
  afterAll(async () => {
    await store.close();
  });

  it('reproduces every demo run identically, the crashed-and-resumed one included', async () => {
    expect(report.scenarios.map((scenario) => scenario.name)).toEqual([
      'success',
      'retry',
      'loop_stopped',
      'resume',
      'approval',
    ]);
    for (const scenario of report.scenarios) {
      const journal = await store.readEvents(scenario.runId);
      const replay = await replayRun({
        agent: agent(scenario.agent),
        runId: scenario.runId,
        journal,
      });
      expect({ scenario: scenario.name, ...replay }).toMatchObject({
        scenario: scenario.name,
        identical: true,
        divergence: null,
      });
      expect(replay.comparedEvents).toBeGreaterThan(3);
    }
  });

  it('reports the first divergent step after the instructions change', async () => {
    const success = report.scenarios[0];
    if (!success) throw new Error('no success scenario');
    const journal = await store.readEvents(success.runId);
    const original = agent('refunds');
    const changed = defineAgent({
      name: original.name,
      model: original.model,
      instructions: `${original.instructions} Always answer in French.`,
      tools: original.tools,
      limits: original.limits,
      maxOutputTokens: original.maxOutputTokens ?? 1024,
    });
    const replay = await replayRun({ agent: changed, runId: success.runId, journal });
    expect(replay.identical).toBe(false);
    expect(replay.divergence?.step).toBe(0);
    const expected = replay.divergence?.expected as Record<string, unknown>;
    const actual = replay.divergence?.actual as Record<string, unknown>;
    expect(expected.type).toBe('model_called');
    expect(actual.type).toBe('model_called');
    expect(typeof expected.requestHash).toBe('string');
    expect(actual.requestHash).not.toBe(expected.requestHash);
    // Only what the model was asked differs: its (recorded) reply is the same.
    expect(replay.divergence?.fields).toEqual(['requestHash']);
  });

  it('reports the gated step when the gate that held the refund is removed', async () => {
    const approval = report.scenarios.find((scenario) => scenario.name === 'approval');
    if (!approval) throw new Error('no approval scenario');
    const journal = await store.readEvents(approval.runId);
    const original = agent(approval.agent);
    const ungated = defineAgent({
      name: original.name,
      model: original.model,
      instructions: original.instructions,
      tools: original.tools,
      limits: original.limits,
      maxOutputTokens: original.maxOutputTokens ?? 1024,
    });
    const replay = await replayRun({ agent: ungated, runId: approval.runId, journal });
    const requested = journal
      .map((entry) => entry.event)
      .find((event) => event.type === 'approval_requested');
    expect({
      identical: replay.identical,
      step: replay.divergence?.step,
      expected: (replay.divergence?.expected as { type?: string } | null)?.type,
      actual: (replay.divergence?.actual as { type?: string } | null)?.type,
    }).toEqual({
      identical: false,
      step: requested?.step,
      expected: 'approval_requested',
      actual: 'tool_started',
    });
  });

  it('reports a later step when the change first matters there (a stricter tool input)', async () => {
    const success = report.scenarios[0];
    if (!success) throw new Error('no success scenario');
    const journal = await store.readEvents(success.runId);
    const original = agent('refunds');
    // Validation that the model is not told about: every request stays the same (same spec),
    // but the recorded refund call is now rejected.
    const tools = original.tools.map((tool) =>
      tool.name === 'issue_refund'
        ? {
            ...defineTool({ ...tool, input: tool.input.refine(() => false, 'refunds are paused') }),
            spec: tool.spec,
          }
        : tool,
    );
    const stricter = defineAgent({
      name: original.name,
      model: original.model,
      instructions: original.instructions,
      tools,
      limits: original.limits,
      maxOutputTokens: original.maxOutputTokens ?? 1024,
    });
    const refundStep = journal
      .map((entry) => entry.event)
      .find((event) => event.type === 'tool_requested' && event.toolName === 'issue_refund');
    const replay = await replayRun({ agent: stricter, runId: success.runId, journal });
    expect(replay.identical).toBe(false);
    expect(refundStep && 'step' in refundStep ? refundStep.step : -1).toBeGreaterThan(0);
    expect(replay.divergence).toMatchObject({
      step: refundStep && 'step' in refundStep ? refundStep.step : -1,
      expected: { type: 'tool_requested', toolName: 'issue_refund' },
      actual: { type: 'tool_rejected', toolName: 'issue_refund' },
    });
  });

  it('still reads journals written before requests were hashed', async () => {
    const success = report.scenarios[0];
    if (!success) throw new Error('no success scenario');
    const journal = (await store.readEvents(success.runId)).map((entry): StoredEvent => {
      if (entry.event.type !== 'model_called') return entry;
      const { requestHash: _dropped, ...event } = entry.event;
      return { ...entry, event };
    });
    expect(journal.some((entry) => 'requestHash' in entry.event)).toBe(false);
    const replay = await replayRun({ agent: agent('refunds'), runId: success.runId, journal });
    expect(replay).toMatchObject({ identical: true, divergence: null });
  });
});

describe('replayRun of a tokens-only run', () => {
  it.each([
    ['limited by tokens alone', { limits: { maxCostUsd: 'tokens-only' } }, {}],
    [
      'given a tokens-only limit of its own',
      {},
      { limits: { maxCostUsd: 'tokens-only', maxTokens: 5_000 } },
    ],
  ] as const)('reproduces a run %s when its model has no known price', async (_, own, options) => {
    const agent = defineAgent({
      name: 'unpriced',
      model: simulator({ script: [{ text: 'done' }], price: null }),
      instructions: 'Answer.',
      ...own,
    });
    const store = await openStore('sqlite::memory:');
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const run = await runtime.run('unpriced', 'go', options);
      expect(run.status).toBe('succeeded');
      const journal = await store.readEvents(run.id);
      const replay = await replayRun({ agent, runId: run.id, journal });
      expect(replay).toMatchObject({ identical: true, divergence: null });
    } finally {
      await runtime.close();
      await store.close();
    }
  });
});

describe('Runtime.fork', () => {
  it('continues from step N without re-running the steps before it', async () => {
    const store = await openStore('sqlite::memory:');
    const modelSteps: number[] = [];
    const toolRuns: string[] = [];
    const note = defineTool({
      name: 'note',
      description: 'Write a note',
      input: z.object({ text: z.string() }),
      effect: 'write',
      run({ text }) {
        toolRuns.push(text);
        return Promise.resolve({ saved: text });
      },
    });
    const script = ({ step }: ScriptContext) => {
      modelSteps.push(step);
      return step < 3
        ? { toolCalls: [{ name: 'note', args: { text: `note ${step}` } }] }
        : { text: 'all noted' };
    };
    const agent = defineAgent({
      name: 'notes',
      model: simulator({ script }),
      instructions: 'Write three notes, then say so.',
      tools: [note],
    });
    const runtime = createRuntime({
      store,
      agents: [agent],
      resolveModel: () => simulator({ script, modelId: 'other-model' }),
    });
    try {
      const original = await runtime.run('notes', 'take notes');
      expect(original.status).toBe('succeeded');
      expect(modelSteps).toEqual([0, 1, 2, 3]);
      expect(toolRuns).toEqual(['note 0', 'note 1', 'note 2']);
      modelSteps.length = 0;
      toolRuns.length = 0;

      const fork = await runtime.fork(original.id, { fromStep: 2, model: 'simulator:other' });
      expect(fork.status).toBe('succeeded');
      expect(fork.output).toBe('all noted');
      // Steps 0 and 1 came from the journal: neither the model nor the tool ran for them.
      expect(modelSteps).toEqual([2, 3]);
      expect(toolRuns).toEqual(['note 2']);

      const events = (await store.readEvents(fork.id)).map((entry) => entry.event);
      const started = events[0];
      expect(started).toMatchObject({
        type: 'run_started',
        forkOf: { runId: original.id, step: 2 },
        modelSpec: 'simulator:other',
      });
      const originalEvents = (await store.readEvents(original.id)).map((entry) => entry.event);
      const before = (list: RunEvent[]) =>
        list.filter((event) => 'step' in event && event.step < 2);
      expect(before(events)).toEqual(before(originalEvents));
      const calledModels = events
        .filter((event) => event.type === 'model_called')
        .map((event) => event.responseModel);
      expect(calledModels).toEqual(['simulator', 'simulator', 'other-model', 'other-model']);
      expect(fork.steps).toBe(4);
    } finally {
      await runtime.close();
      await store.close();
    }
  });

  it('refuses a step the run never reached, or one after a call that never finished', async () => {
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'short',
      model: simulator({ script: [{ text: 'done' }] }),
      instructions: 'Answer.',
    });
    const runtime = createRuntime({ store, agents: [agent] });
    try {
      const original = await runtime.run('short', 'go');
      await expect(runtime.fork(original.id, { fromStep: 5 })).rejects.toMatchObject({
        code: 'invalid_input',
      });
      await expect(runtime.fork('run_missing', { fromStep: 0 })).rejects.toMatchObject({
        code: 'not_found',
      });

      // A run whose step-0 tool call started and never finished (its worker died then).
      const [started] = (await store.readEvents(original.id)).map((entry) => entry.event);
      if (started?.type !== 'run_started') throw new Error('expected run_started first');
      const events: RunEvent[] = [
        started,
        {
          type: 'model_called',
          step: 0,
          content: [{ type: 'tool_call', callId: 'c1', toolName: 'missing', arguments: '{}' }],
          finishReason: 'tool_calls',
          usage: { inputTokens: 10, outputTokens: 2 },
          costUsd: null,
          estimatedInputTokens: 10,
          latencyMs: 1,
          attempts: 1,
          provenance: { trust: 'trusted', source: 'model' },
        },
        {
          type: 'tool_requested',
          step: 0,
          callId: 'c1',
          index: 0,
          toolName: 'missing',
          input: {},
          effect: 'write',
        },
        {
          type: 'tool_started',
          step: 0,
          callId: 'c1',
          toolName: 'missing',
          idempotencyKey: 'run_crashed:0:0',
          attempt: 1,
        },
      ];
      await store.createRun({
        id: 'run_crashed',
        agent: 'short',
        task: 'go',
        createdAt: Date.now(),
        events: events.map((event, index) => ({
          seq: index + 1,
          at: Date.now(),
          event,
        })),
      });
      await expect(runtime.fork('run_crashed', { fromStep: 1 })).rejects.toMatchObject({
        code: 'invalid_input',
      });
    } finally {
      await runtime.close();
      await store.close();
    }
  });
});
