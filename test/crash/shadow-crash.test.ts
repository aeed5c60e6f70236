import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createRuntime, openStore, type RunEvent } from '../../src/index.js';
import { executedSideEffects } from '../../src/exports/eval.js';
import {
  CANDIDATE_VERSION,
  SIDE_EFFECT_TOOLS,
  createShadowAgents,
  readExecutions,
} from './shadow-agents.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = join(ROOT, 'test/crash/shadow-worker.ts');
const directory = mkdtempSync(join(tmpdir(), 'keel-shadow-crash-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

/** A worker process, once it claims runs. */
async function startWorker(storeUrl: string, logPath: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, KEEL_STORE: storeUrl, SHADOW_LOG: logPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  await new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => {
      reject(new Error(`shadow worker exited (${String(code)}) before it was ready`));
    });
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const gone = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGKILL');
  await gone;
  children.delete(child);
}

describe('a shadow run under worker SIGKILLs and provider faults', () => {
  it('executes none of the candidate side effects, each journaled as suppressed', async () => {
    const storeUrl = `sqlite:${join(directory, 'keel.db')}`;
    const logPath = join(directory, 'executions.jsonl');
    const store = await openStore(storeUrl);
    const { production, candidate } = createShadowAgents(logPath);
    const runtime = createRuntime({ store, agents: [production], candidates: [candidate] });
    const shadow = await runtime.shadows.start({ agent: 'desk', candidate, share: 1 });
    const productionRun = await runtime.run('desk', 'Handle ticket T-1');
    await runtime.close();
    await runtime.shadows.consider(productionRun.id);
    const [pair] = await store.shadows.pairs(shadow.id);
    const candidateRunId = pair?.candidateRunId ?? '';
    const events = async (): Promise<RunEvent[]> =>
      (await store.readEvents(candidateRunId)).map((entry) => entry.event);
    const modelCalls = async () =>
      (await events()).filter((event) => event.type === 'model_called').length;

    // Kill a worker after each of the candidate's first model steps, mid-run.
    let kills = 0;
    for (const stepsBeforeKill of [2, 4, 6]) {
      const worker = await startWorker(storeUrl, logPath);
      for (let tries = 0; tries < 3_000 && (await modelCalls()) < stepsBeforeKill; tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      await kill(worker);
      kills += 1;
    }
    const last = await startWorker(storeUrl, logPath);
    let finished: RunEvent | undefined;
    for (let tries = 0; tries < 6_000 && !finished; tries++) {
      finished = (await events()).find((event) => event.type === 'run_finished');
      if (!finished) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await kill(last);

    const journal = await events();
    expect(finished).toMatchObject({ type: 'run_finished', status: 'succeeded' });
    expect(kills).toBe(3);
    expect(
      new Set(journal.filter((event) => event.type === 'run_claimed').map((e) => e.workerId)).size,
    ).toBeGreaterThanOrEqual(4);
    expect(journal.filter((event) => event.type === 'model_failed').length).toBeGreaterThan(0);
    // Counted at the tools, across every process: only production's.
    const executions = readExecutions(logPath);
    expect(executions.filter((line) => line.version === CANDIDATE_VERSION)).toEqual([]);
    expect(executions.map((line) => line.tool)).toEqual(['lookup_order', 'update_ticket']);
    const suppressed = journal.filter((event) => event.type === 'shadow_suppressed');
    expect(
      new Set(suppressed.map((event) => `${event.toolName} ${JSON.stringify(event.input)}`)),
    ).toEqual(
      new Set(
        [1, 2].flatMap((round) =>
          SIDE_EFFECT_TOOLS.map(
            (name) =>
              `${name} ${JSON.stringify({ amount: 50 * round, target: `${name}-${round}` })}`,
          ),
        ),
      ),
    );
    expect(executedSideEffects(journal)).toBe(0);
    await store.close();
  });
});
