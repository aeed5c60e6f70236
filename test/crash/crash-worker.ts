/**
 * A worker process for the crash test: `node --import tsx test/crash/crash-worker.ts`, with
 * `KEEL_STORE` (store URL) and `CRASH_LOG` (side-effect log) set. It executes runs until it is
 * killed, prints `ready` once it is claiming, and logs a `committed` line for each tool call
 * whose `tool_finished` event it saw commit.
 *
 * With `CRASH_START=stdin` it loads and opens the store, prints `loaded`, and starts claiming
 * only when a line arrives on stdin: the test loads the next worker while the current one runs,
 * so the kill loop does not wait for a process start each time. It exits when stdin closes.
 */
import { createInterface } from 'node:readline';
import { createRuntime, openStore, type RunEvent } from '../../src/index.js';
import { appendSideEffect, createCrashAgents } from './crash-agents.js';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`crash-worker: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
}

const storeUrl = requiredEnv('KEEL_STORE');
const logPath = requiredEnv('CRASH_LOG');

const store = await openStore(storeUrl);
/** Idempotency key of each call this process started or re-issued, by `${runId}/${callId}`. */
const keys = new Map<string, string>();

function onEvent(runId: string, event: RunEvent): void {
  if (event.type === 'tool_started') keys.set(`${runId}/${event.callId}`, event.idempotencyKey);
  if (event.type !== 'tool_finished') return;
  const key = keys.get(`${runId}/${event.callId}`);
  if (key === undefined) {
    process.stderr.write(
      `crash-worker: tool_finished for ${runId}/${event.callId} never started here\n`,
    );
    return;
  }
  appendSideEffect(logPath, { key, phase: 'committed', pid: process.pid, tool: event.toolName });
}

const runtime = createRuntime({
  store,
  agents: createCrashAgents({ logPath }),
  leaseMs: 600,
  maxClaims: 50,
  onEvent,
});
if (process.env.CRASH_START === 'stdin') {
  process.stdout.write('loaded\n');
  const lines = createInterface({ input: process.stdin });
  // Stdin closes when the test ends or dies: never outlive it.
  lines.once('close', () => process.exit(0));
  await new Promise<void>((resolve) => {
    lines.once('line', () => {
      resolve();
    });
  });
}
runtime.startWorker({
  pollMs: 20,
  concurrency: 8,
  onError(runId, error) {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`crash-worker: run ${runId || '(claim)'} threw: ${detail}\n`);
  },
});
process.stdout.write('ready\n');
