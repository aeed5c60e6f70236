import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { TRUSTED_TASK } from '../core/index.js';
import type { RunEvent, RunEventType } from '../journal/index.js';
import { simulator } from '../model/index.js';
import { openStore, type Store } from '../store/index.js';
import { defineTool, type ToolEffect } from '../tools/index.js';
import { wrapAppend } from '../../test/support/wrap-append.js';
import { createRuntime, newRunId, type Runtime } from './index.js';

/*
 * A step whose calls only read commits once, after the reads: the model's reply, the calls and
 * their results together (one fsync instead of two). A crash before that commit leaves the
 * journal as it was before the step, so the step is repeated — harmless for reads. Any other
 * call still has its start committed before it runs.
 */

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Fixture {
  readonly store: Store;
  readonly runtime: Runtime;
  /** Event types of each journal write after the run's creation, in order. */
  readonly commits: RunEventType[][];
  /** The run's durable journal as the tool saw it while it ran. */
  readonly seenByTool: RunEventType[][];
  readonly modelSteps: number[];
}

async function fixture({
  effect = 'read',
  untrustedOutput = false,
}: { effect?: ToolEffect; untrustedOutput?: boolean } = {}): Promise<Fixture> {
  const store = await openStore('sqlite::memory:');
  closers.push(() => store.close());
  const commits: RunEventType[][] = [];
  const seenByTool: RunEventType[][] = [];
  const modelSteps: number[] = [];
  const counting = wrapAppend(store, (write, inner) => {
    commits.push(write.events.map((entry) => entry.event.type));
    return inner(write);
  });
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up an order.',
    input: z.object({ id: z.string() }),
    effect,
    untrustedOutput,
    async run({ id }, context) {
      const durable = await store.readEvents(context.runId);
      seenByTool.push(durable.map((entry) => entry.event.type));
      return { id, status: 'shipped' };
    },
  });
  const agent: Agent = defineAgent({
    name: 'orders',
    instructions: 'Look the order up, then answer.',
    model: simulator({
      script: ({ step }) => {
        modelSteps.push(step);
        return step === 0
          ? { toolCalls: [{ name: 'lookup', args: { id: 'A1' } }] }
          : { text: 'It shipped.' };
      },
    }),
    tools: [lookup],
  });
  const runtime = createRuntime({ store: counting, agents: [agent] });
  closers.push(() => runtime.close());
  return { store, runtime, commits, seenByTool, modelSteps };
}

describe('a step whose calls only read', () => {
  it('commits its reply, calls and results once, after the reads ran', async () => {
    const { runtime, commits, seenByTool } = await fixture();
    const result = await runtime.run('orders', 'Where is order A1?');
    expect(result.status).toBe('succeeded');
    expect(commits).toEqual([
      ['model_called', 'tool_requested', 'tool_started', 'tool_finished'],
      ['model_called', 'run_finished'],
    ]);
    // While the read ran, the step was not durable yet: a crash there repeats the step.
    expect(seenByTool).toEqual([['run_started', 'run_claimed']]);
  });

  it('is repeated from its start when the worker died during the read', async () => {
    const { store, runtime, modelSteps, seenByTool } = await fixture();
    // The journal a worker leaves when it dies while a deferred step's read runs.
    const runId = newRunId();
    const now = Date.now();
    const agent = runtime.agent('orders');
    if (!agent) throw new Error('the runtime has no agent "orders"');
    const started: RunEvent = {
      type: 'run_started',
      agent: 'orders',
      task: 'Where is order A1?',
      taskProvenance: TRUSTED_TASK,
      model: { provider: 'simulator', modelId: 'simulator' },
      limits: agent.limits,
      startedAt: now,
    };
    await store.createRun({
      id: runId,
      agent: 'orders',
      task: 'Where is order A1?',
      createdAt: now,
      events: [
        { seq: 1, at: now, event: started },
        { seq: 2, at: now, event: { type: 'run_claimed', workerId: 'dead', claim: 1 } },
      ],
      claimBy: { workerId: 'dead', leaseUntil: now - 1_000 },
    });
    const worker = runtime.startWorker({ pollMs: 10 });
    closers.push(() => worker.stop());
    const result = await runtime.wait(runId, { pollMs: 10 });
    expect({ status: result.status, output: result.output, steps: result.steps }).toEqual({
      status: 'succeeded',
      output: 'It shipped.',
      steps: 2,
    });
    expect(modelSteps).toEqual([0, 1]);
    expect(seenByTool).toHaveLength(1);
    const types = (await store.readEvents(runId)).map((entry) => entry.event.type);
    expect(types).toEqual([
      'run_started',
      'run_claimed',
      'run_claimed',
      'model_called',
      'tool_requested',
      'tool_started',
      'tool_finished',
      'model_called',
      'run_finished',
    ]);
  });
});

describe('a step with any other call', () => {
  it('commits a write call as started before the tool runs', async () => {
    const { runtime, commits, seenByTool } = await fixture({ effect: 'write' });
    const result = await runtime.run('orders', 'Where is order A1?');
    expect(result.status).toBe('succeeded');
    expect(commits).toEqual([
      ['model_called', 'tool_requested', 'tool_started'],
      ['tool_finished'],
      ['model_called', 'run_finished'],
    ]);
    expect(seenByTool).toEqual([
      ['run_started', 'run_claimed', 'model_called', 'tool_requested', 'tool_started'],
    ]);
  });

  it('commits a read of untrusted content as started before it runs', async () => {
    const { runtime, seenByTool } = await fixture({ untrustedOutput: true });
    const result = await runtime.run('orders', 'Where is order A1?');
    expect(result.status).toBe('succeeded');
    expect(seenByTool).toEqual([
      ['run_started', 'run_claimed', 'model_called', 'tool_requested', 'tool_started'],
    ]);
  });
});
