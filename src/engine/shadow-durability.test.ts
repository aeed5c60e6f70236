import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { simulator, type SimulatorScript } from '../model/index.js';
import type { Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { createRuntime, inShadowSample, type Runtime } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/*
 * A production run's pair is queued after its `run_finished` commits. A process that dies in
 * between (or between the pair and its shadow run) is simulated by a runtime that cannot queue
 * (it has not loaded the candidate) and by writing a pair with no run: the sweep every worker
 * makes as it starts queues what was left, once.
 */

function desk(executions: string[], script: SimulatorScript, version: string): Agent {
  return defineAgent({
    name: 'desk',
    version,
    model: simulator({ script }),
    instructions: 'You update tickets.',
    tools: [
      defineTool({
        name: 'update_ticket',
        description: 'Update a ticket',
        input: z.object({ note: z.string() }),
        effect: 'write',
        run: ({ note }) => {
          executions.push(note);
          return Promise.resolve({ ok: true });
        },
      }),
    ],
  });
}

const PRODUCTION: SimulatorScript = [
  { toolCalls: [{ name: 'update_ticket', args: { note: 'done' } }] },
  { text: 'Done.' },
];
const CANDIDATE: SimulatorScript = [
  { toolCalls: [{ name: 'update_ticket', args: { note: 'done, with a credit' } }] },
  { text: 'Done with a credit.' },
];

async function until<T>(read: () => Promise<T | undefined>): Promise<T> {
  for (let tries = 0; tries < 2_000; tries++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('timed out');
}

for (const target of storeTargets('keel_shadow_sweep_')) {
  describe(`shadow sweep (${target.name})`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const runtimes: Runtime[] = [];
    const production: string[] = [];
    const candidate: string[] = [];

    beforeEach(async () => {
      ({ store, dispose } = await target.open());
      production.length = 0;
      candidate.length = 0;
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
      await dispose();
    });

    function runtime(withCandidate: boolean): Runtime {
      const created = createRuntime({
        store,
        agents: [desk(production, PRODUCTION, 'v1')],
        candidates: withCandidate ? [desk(candidate, CANDIDATE, 'v2')] : [],
        leaseMs: 60_000,
      });
      runtimes.push(created);
      return created;
    }

    it('queues the pairs of sampled runs that finished without one, once, and runs them with no side effect', async () => {
      const dead = runtime(false);
      const survivor = runtime(true);
      const shadow = await survivor.shadows.start({
        agent: 'desk',
        candidate: desk(candidate, CANDIDATE, 'v2'),
        share: 0.5,
        maxConcurrent: 20,
      });
      const ids = Array.from({ length: 8 }, (_, index) => `run_sweep_${index}`);
      // Finished in a process that never queued their pairs (as if it died right after).
      for (const id of ids) await dead.run('desk', 'Close T-1', { runId: id });
      await dead.close();
      expect(await store.shadows.pairs(shadow.id)).toEqual([]);

      const sampled = ids.filter((id) => inShadowSample(id, 0.5));
      expect(sampled.length).toBeGreaterThan(0);
      expect(sampled.length).toBeLessThan(ids.length);
      const queued = await survivor.shadows.sweep();
      expect(queued).toHaveLength(sampled.length);
      expect((await store.shadows.pairs(shadow.id)).map((pair) => pair.runId).sort()).toEqual(
        [...sampled].sort(),
      );
      // Idempotent: a second sweep (or another worker's) queues nothing more.
      expect(await survivor.shadows.sweep()).toEqual([]);

      survivor.startWorker({ pollMs: 5 });
      for (const runId of queued)
        expect((await survivor.wait(runId, { pollMs: 5 })).status).toBe('succeeded');
      expect(candidate).toEqual([]);
      expect(production).toHaveLength(ids.length);
    });

    it('creates the shadow run of a pair left without one, once its grace is over', async () => {
      const dead = runtime(false);
      const survivor = runtime(true);
      const shadow = await survivor.shadows.start({
        agent: 'desk',
        candidate: desk(candidate, CANDIDATE, 'v2'),
        share: 1,
      });
      const finished = await dead.run('desk', 'Close T-2');
      // The pair is written, and its process died before creating the shadow run.
      const pair = {
        shadowId: shadow.id,
        runId: finished.id,
        candidateRunId: 'run_orphaned_candidate',
        createdAt: Date.now(),
      };
      expect(await store.shadows.addPair(pair)).toBe(true);
      // Within the grace its own process may still be creating it: left alone.
      expect(await survivor.shadows.sweep()).toEqual([]);
      expect(await survivor.shadows.sweep({ graceMs: -1 })).toEqual(['run_orphaned_candidate']);
      expect(await survivor.shadows.sweep({ graceMs: -1 })).toEqual([]);
      survivor.startWorker({ pollMs: 5 });
      const result = await until(async () => {
        const record = await store.getRun('run_orphaned_candidate');
        return record?.status === 'succeeded' ? record : undefined;
      });
      expect(result).toMatchObject({ shadowOf: finished.id, version: 'v2' });
      expect(candidate).toEqual([]);
    });

    it('pairs no run that finished before the shadow started, on consideration or sweep', async () => {
      const survivor = runtime(true);
      const before = await survivor.run('desk', 'Close T-0');
      await new Promise((resolve) => setTimeout(resolve, 2));
      await survivor.shadows.start({
        agent: 'desk',
        candidate: desk(candidate, CANDIDATE, 'v2'),
        share: 1,
      });
      expect(await survivor.shadows.consider(before.id)).toEqual([]);
      expect(await survivor.shadows.sweep({ graceMs: -1 })).toEqual([]);
      const after = await survivor.run('desk', 'Close T-1');
      await survivor.shadows.consider(after.id);
      expect((await store.shadows.pairs()).map((pair) => pair.runId)).toEqual([after.id]);
    });

    it('a starting worker sweeps by itself', async () => {
      const dead = runtime(false);
      const survivor = runtime(true);
      const shadow = await survivor.shadows.start({
        agent: 'desk',
        candidate: desk(candidate, CANDIDATE, 'v2'),
        share: 1,
      });
      const finished = await dead.run('desk', 'Close T-3');
      expect(await store.shadows.pairs(shadow.id)).toEqual([]);
      survivor.startWorker({ pollMs: 5 });
      const pair = await until(async () => {
        const found = (await store.shadows.pairs(shadow.id)).find(
          (each) => each.runId === finished.id,
        );
        // The pair is written before its shadow run.
        return found && (await store.getRun(found.candidateRunId)) ? found : undefined;
      });
      expect((await survivor.wait(pair.candidateRunId, { pollMs: 5 })).status).toBe('succeeded');
    });
  });
}
