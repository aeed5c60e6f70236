import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime, openStore, type RunEvent, type Store } from '../../src/index.js';
import { POSTGRES_URL, dropPostgresSchema } from '../support/store-targets.js';
import { BREAKER, createBreakerAgents } from './breaker-agents.js';

/*
 * One tool's circuit breaker shared by two worker processes through the store: failures seen
 * by one worker open it, the other fails fast without calling the service, and after the
 * cooldown one probe call closes it again for both.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKER = fileURLToPath(new URL('./breaker-worker.ts', import.meta.url));

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const child of children) child.stdin?.end();
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (child.exitCode !== null) child.emit('exit');
        }),
    ),
  );
  children.clear();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The inventory service: healthy or answering 503, counting requests. */
async function inventoryService(): Promise<{
  url: string;
  requests: () => number;
  healthy: (on: boolean) => void;
}> {
  let requests = 0;
  let healthy = false;
  const server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
    response.end(JSON.stringify(healthy ? { inStock: 4 } : { error: 'down' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    healthy: (on) => {
      healthy = on;
    },
  };
}

async function startWorker(env: { storeUrl: string; serviceUrl: string; agent: string }) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEEL_STORE: env.storeUrl,
      SERVICE_URL: env.serviceUrl,
      AGENT: env.agent,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`worker not ready: ${stderr}`));
    }, 30_000);
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${String(code)}: ${stderr}`));
    });
  });
}

const BACKENDS = [
  {
    name: 'sqlite',
    prepare() {
      const directory = mkdtempSync(join(tmpdir(), 'keel-breaker-'));
      cleanups.push(() => rm(directory, { recursive: true, force: true }));
      return `sqlite:${join(directory, 'keel.db')}`;
    },
  },
  {
    name: 'postgres',
    prepare() {
      const schema = `keel_br_${randomBytes(6).toString('hex')}`;
      cleanups.push(() => dropPostgresSchema(schema));
      return `${POSTGRES_URL}?schema=${schema}`;
    },
  },
] as const;

describe('circuit breaker across worker processes', () => {
  for (const backend of BACKENDS) {
    it(`opens after ${BREAKER.failureThreshold} failures in one worker, fails fast in the other, half-opens after its cooldown (${backend.name})`, async () => {
      const service = await inventoryService();
      const storeUrl = backend.prepare();
      const store: Store = await openStore(storeUrl);
      cleanups.push(() => store.close());
      // The test only submits and waits; the two worker processes execute.
      const submitter = createRuntime({ store, agents: createBreakerAgents(service.url) });
      cleanups.push(() => submitter.close());
      await Promise.all([
        startWorker({ storeUrl, serviceUrl: service.url, agent: 'agent-a' }),
        startWorker({ storeUrl, serviceUrl: service.url, agent: 'agent-b' }),
      ]);

      async function toolOutcome(agent: 'agent-a' | 'agent-b', sku: string): Promise<RunEvent> {
        const { id } = await submitter.submit(agent, sku);
        const result = await submitter.wait(id, { pollMs: 20 });
        expect(result.status).toBe('succeeded');
        const events = (await store.readEvents(id)).map((entry) => entry.event);
        const outcome = events.find(
          (event) => event.type === 'tool_finished' || event.type === 'tool_failed',
        );
        if (!outcome) throw new Error(`run ${id} has no tool outcome`);
        return outcome;
      }
      const errorType = (event: RunEvent) =>
        event.type === 'tool_failed' ? event.error.type : 'ok';

      // Worker A: the service is down; three failures open the breaker.
      for (let index = 0; index < BREAKER.failureThreshold; index++) {
        expect(errorType(await toolOutcome('agent-a', `sku-${index}`))).toBe('unavailable');
      }
      expect(service.requests()).toBe(BREAKER.failureThreshold);
      expect(await store.tools.getBreaker('inventory')).toMatchObject({ state: 'open' });

      // Worker B fails fast: the service, healthy again, is not called.
      service.healthy(true);
      const fast = await toolOutcome('agent-b', 'sku-b1');
      expect(fast).toMatchObject({
        type: 'tool_failed',
        final: true,
        error: {
          type: 'unavailable',
          message: 'inventory: circuit breaker open after repeated failures; failing fast',
        },
      });
      expect(service.requests()).toBe(BREAKER.failureThreshold);

      // After the cooldown worker B's call is the probe: it reaches the service and closes it.
      const retryAfterMs = fast.type === 'tool_failed' ? (fast.error.retryAfterMs ?? 0) : 0;
      expect(retryAfterMs).toBeGreaterThan(0);
      expect(retryAfterMs).toBeLessThanOrEqual(BREAKER.cooldownMs);
      await sleep(retryAfterMs + 50);
      expect(errorType(await toolOutcome('agent-b', 'sku-b2'))).toBe('ok');
      expect(await store.tools.getBreaker('inventory')).toMatchObject({
        state: 'closed',
        failures: 0,
      });
      // And worker A calls through again.
      expect(errorType(await toolOutcome('agent-a', 'sku-a4'))).toBe('ok');
      expect(service.requests()).toBe(BREAKER.failureThreshold + 2);
    }, 90_000);
  }
});
