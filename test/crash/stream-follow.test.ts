import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, openStore, type RunStreamEvent } from '../../src/index.js';
import { isJournaledStreamEvent } from '../../src/engine/index.js';
import { serveKeel } from '../../src/server/index.js';
import { readSse } from '../../src/server/__tests__/sse-client.js';
import { STREAM_AGENT, STREAM_OUTPUT, createStreamAgents } from './stream-agents.js';

/*
 * A stream opened on a serving process follows a run executed by a separate worker process,
 * across a SIGKILL of that worker and the re-claim by another. On PostgreSQL the stream polls
 * only every ten minutes: it can only keep up through the journal's notifications.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./stream-worker.ts', import.meta.url));
const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Backend {
  readonly name: 'sqlite' | 'postgres';
  readonly pollMs: number;
  prepare(directory: string): { url: string; dispose(): Promise<void> };
}

const BACKENDS: readonly Backend[] = [
  {
    name: 'sqlite',
    pollMs: 50,
    prepare: (directory) => ({
      url: `sqlite:${join(directory, 'keel.db')}`,
      dispose: () => Promise.resolve(),
    }),
  },
  {
    name: 'postgres',
    pollMs: 600_000,
    prepare() {
      const schema = `keel_sf_${randomBytes(6).toString('hex')}`;
      return {
        url: `${POSTGRES_URL}?schema=${schema}`,
        async dispose() {
          const client = new pg.Client({ connectionString: POSTGRES_URL });
          await client.connect();
          await client.query(`drop schema if exists ${schema} cascade`);
          await client.end();
        },
      };
    },
  },
];

/** A worker process; `printed(line)` resolves once it has printed that line. */
function spawnWorker(storeUrl: string, hold: boolean) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, KEEL_STORE: storeUrl, STREAM_HOLD: hold ? '1' : '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  return {
    child,
    exited,
    printed(line: string): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (stdout.includes(`${line}\n`)) resolve();
        };
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
          check();
        });
        child.once('exit', () => {
          reject(new Error(`worker exited before "${line}": ${stderr}`));
        });
        check();
      });
    },
  };
}

describe('a stream follows a run on another worker process', () => {
  for (const backend of BACKENDS) {
    it(`across a SIGKILL of the worker and the re-claim (${backend.name})`, async () => {
      const directory = mkdtempSync(join(tmpdir(), `keel-stream-${backend.name}-`));
      cleanups.push(() => rm(directory, { recursive: true, force: true }));
      const { url, dispose } = backend.prepare(directory);
      cleanups.push(dispose);
      const store = await openStore(url);
      cleanups.push(() => store.close());
      // The serving side executes nothing: it only serves the stream.
      const runtime = createRuntime({ store, agents: createStreamAgents({ hold: false }) });
      cleanups.push(() => runtime.close());
      const { token } = await runtime.approvals.addApprover({
        name: 'root',
        groups: [],
        role: 'admin',
      });
      const server = await serveKeel({
        runtime,
        port: 0,
        streamPollMs: backend.pollMs,
        limits: { requestsPerMinute: 100_000 },
      });
      cleanups.push(() => server.close());
      const headers = { authorization: `Bearer ${token}` };

      const started = await fetch(`${server.url}/runs`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: STREAM_AGENT, task: 'Where is order A-1?' }),
      });
      expect(started.status).toBe(201);
      const { runId, streamUrl } = (await started.json()) as { runId: string; streamUrl: string };
      const response = await fetch(`${server.url}${streamUrl}`, { headers });
      expect(response.status).toBe(200);

      const seen: RunStreamEvent[] = [];
      let sawToolCall: () => void = () => undefined;
      const toolCalled = new Promise<void>((resolve) => (sawToolCall = resolve));
      const reading = (async () => {
        for await (const message of readSse(response.body ?? new ReadableStream())) {
          const event = JSON.parse(message.data) as RunStreamEvent;
          seen.push(event);
          if (event.type === 'tool_call') sawToolCall();
        }
      })();

      const first = spawnWorker(url, true);
      await first.printed('held');
      await toolCalled;
      first.child.kill('SIGKILL');
      await first.exited;
      const killedAt = seen.length;

      const second = spawnWorker(url, false);
      await reading;
      second.child.kill('SIGKILL');

      const journal = await store.readEvents(runId);
      const claims = journal.filter((entry) => entry.event.type === 'run_claimed');
      expect(claims.length).toBeGreaterThanOrEqual(2);
      const result = await runtime.wait(runId);
      expect(result).toMatchObject({ status: 'succeeded', output: STREAM_OUTPUT });
      expect(seen.at(-1)).toEqual({ type: 'run_finished', seq: journal.at(-1)?.seq, result });
      expect(seen.length).toBeGreaterThan(killedAt);
      // Every journaled event once, in journal order: the same as a fresh read of the finished run.
      const again: RunStreamEvent[] = [];
      for await (const event of runtime.stream(runId)) again.push(event);
      expect(seen.filter(isJournaledStreamEvent)).toEqual(again.filter(isJournaledStreamEvent));
      // Text deltas are live only where the run executes: here the journaled text carries it.
      expect(seen.some((event) => event.type === 'text_delta')).toBe(false);
      expect(
        seen.filter((event) => event.type === 'text_completed').map((event) => event.text),
      ).toEqual(['Looking it up.', STREAM_OUTPUT]);
    });
  }
});
