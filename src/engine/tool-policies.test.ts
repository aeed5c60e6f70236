import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, type Agent } from '../agent/index.js';
import { type RunEvent } from '../journal/index.js';
import { simulator, type ScriptContext, type SimulatedTurn } from '../model/index.js';
import type { Store } from '../store/index.js';
import {
  ToolError,
  defineTool,
  throwIfHttpError,
  verifyAuditChain,
  type Tool,
  type ToolDefinition,
} from '../tools/index.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './index.js';
import { storeTargets } from '../../test/support/store-targets.js';

/*
 * The tool layer as a run meets it: HTTP failures typed and retried by their type, escape
 * hatches, the shared result cache and the audit log, on both stores.
 */

const STORE_TARGETS = storeTargets('keel_tp_');

/** An HTTP service answering each request with the next scripted response (the last repeats). */
async function scriptedService(
  responses: readonly { status: number; headers?: Record<string, string>; body?: unknown }[],
): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = [];
  const server: Server = createServer((request, response) => {
    const next = responses[Math.min(hits.length, responses.length - 1)];
    hits.push(`${request.method ?? ''} ${request.url ?? ''}`);
    response.writeHead(next?.status ?? 500, {
      'content-type': 'application/json',
      ...next?.headers,
    });
    response.end(JSON.stringify(next?.body ?? null));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}

/** A read tool fetching `<base>/orders/<orderId>` and typing HTTP failures. */
function httpLookup(base: () => string, extra: Partial<ToolDefinition> = {}): Tool {
  return defineTool({
    name: 'lookup_order',
    description: 'Find an order by id',
    input: z.object({ orderId: z.string() }),
    effect: 'read',
    retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 1_000 },
    async run({ orderId }: { orderId: string }, { signal, idempotencyKey }) {
      const response = await fetch(`${base()}/orders/${orderId}`, {
        signal,
        headers: { 'idempotency-key': idempotencyKey },
      });
      return await throwIfHttpError(response, { what: `order ${orderId}` }).json();
    },
    ...extra,
  });
}

function agentWith(
  name: string,
  script: readonly SimulatedTurn[] | ((context: ScriptContext) => SimulatedTurn),
  tools: readonly Tool[],
): Agent {
  return defineAgent({
    name,
    model: simulator({ script }),
    instructions: 'You help customers with their orders.',
    tools,
  });
}

function errorOf(content: string | undefined): unknown {
  return (JSON.parse(content ?? '{}') as { error?: unknown }).error;
}

for (const target of STORE_TARGETS) {
  describe(`tool policies in runs on ${target.name}`, () => {
    let store: Store;
    let dispose: (() => Promise<void>) | undefined;
    const runtimes: Runtime[] = [];
    const cleanups: (() => Promise<void>)[] = [];

    beforeAll(async () => {
      ({ store, dispose } = await target.open());
    });
    afterAll(async () => {
      await dispose?.();
    });
    afterEach(async () => {
      await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    });

    function makeRuntime(agents: readonly Agent[], options: Partial<RuntimeOptions> = {}) {
      const runtime = createRuntime({
        store,
        agents,
        modelRetry: { initialDelayMs: 1, maxDelayMs: 5 },
        // No jitter: the waits are exactly what the policy computes.
        toolPolicies: { random: () => 0 },
        ...options,
      });
      runtimes.push(runtime);
      return runtime;
    }

    async function journal(runId: string): Promise<{ at: number; event: RunEvent }[]> {
      return (await store.readEvents(runId)).map((entry) => ({
        at: entry.at,
        event: entry.event,
      }));
    }

    async function toolEvents(runId: string): Promise<RunEvent[]> {
      return (await journal(runId))
        .map((entry) => entry.event)
        .filter((event) => event.type.startsWith('tool_'));
    }

    it('retries a 429 with retry-after twice, waiting what the server asked, then succeeds once', async () => {
      const service = await scriptedService([
        { status: 429, headers: { 'retry-after': '0.12' } },
        { status: 429, headers: { 'retry-after-ms': '80' } },
        { status: 200, body: { orderId: 'A-1', status: 'shipped' } },
      ]);
      cleanups.push(service.close);
      const agent = agentWith(
        'rate-limited',
        [{ toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] }, { text: 'Shipped.' }],
        [httpLookup(() => service.url)],
      );
      const result = await makeRuntime([agent]).run('rate-limited', 'Where is A-1?');

      const entries = await journal(result.id);
      const events = entries.map((entry) => entry.event);
      expect(events.filter((event) => event.type.startsWith('tool_'))).toEqual([
        expect.objectContaining({ type: 'tool_requested' }),
        expect.objectContaining({ type: 'tool_started', attempt: 1 }),
        expect.objectContaining({
          type: 'tool_failed',
          attempt: 1,
          final: false,
          error: {
            type: 'rate_limited',
            message: 'order A-1: HTTP 429 Too Many Requests',
            retryAfterMs: 120,
          },
          retryInMs: 120,
        }),
        expect.objectContaining({ type: 'tool_started', attempt: 2 }),
        expect.objectContaining({
          type: 'tool_failed',
          attempt: 2,
          final: false,
          error: expect.objectContaining({ type: 'rate_limited', retryAfterMs: 80 }),
          retryInMs: 80,
        }),
        expect.objectContaining({ type: 'tool_started', attempt: 3 }),
        expect.objectContaining({
          type: 'tool_finished',
          attempts: 3,
          content: '{"orderId":"A-1","status":"shipped"}',
        }),
      ]);
      expect(service.hits).toEqual(['GET /orders/A-1', 'GET /orders/A-1', 'GET /orders/A-1']);
      // The next attempt was not started (committed) before the recorded wait had passed.
      for (const attempt of [1, 2]) {
        const failed = entries.find(
          ({ event }) => event.type === 'tool_failed' && event.attempt === attempt,
        );
        const next = entries.find(
          ({ event }) => event.type === 'tool_started' && event.attempt === attempt + 1,
        );
        const waited = failed?.event.type === 'tool_failed' ? failed.event.retryInMs : undefined;
        expect((next?.at ?? 0) - (failed?.at ?? 0)).toBeGreaterThanOrEqual(waited ?? Infinity);
      }
      expect(result.status).toBe('succeeded');
    });

    it('does not retry a 404: the model sees not_found and its next call differs', async () => {
      const service = await scriptedService([{ status: 404 }]);
      cleanups.push(service.close);
      const searches: string[] = [];
      const searchOrders = defineTool({
        name: 'search_orders',
        description: 'Search orders by customer email',
        input: z.object({ email: z.string() }),
        effect: 'read',
        run: ({ email }: { email: string }) => {
          searches.push(email);
          return Promise.resolve([{ orderId: 'A-10', email }]);
        },
      });
      const seen: unknown[] = [];
      const agent = agentWith(
        'not-found',
        ({ step, lastToolResults }) => {
          seen.push(...lastToolResults.map((part) => errorOf(part.content)));
          const lastError = lastToolResults[0]?.isError
            ? errorOf(lastToolResults[0].content)
            : undefined;
          if (step === 0)
            return { toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1O' } }] };
          // The typed error, not a string match, decides the next move.
          if ((lastError as { type?: string } | undefined)?.type === 'not_found') {
            return { toolCalls: [{ name: 'search_orders', args: { email: 'ann@example.com' } }] };
          }
          return { text: 'Found order A-10.' };
        },
        [httpLookup(() => service.url), searchOrders],
      );
      const result = await makeRuntime([agent]).run('not-found', 'Where is my order A-1O?');

      const events = await toolEvents(result.id);
      expect(events.filter((event) => event.type === 'tool_started')).toHaveLength(2);
      expect(events.filter((event) => event.type === 'tool_requested')).toEqual([
        expect.objectContaining({ toolName: 'lookup_order', input: { orderId: 'A-1O' } }),
        expect.objectContaining({ toolName: 'search_orders', input: { email: 'ann@example.com' } }),
      ]);
      expect({
        hits: service.hits,
        seen: seen[0],
        searches,
        status: result.status,
        output: result.output,
      }).toEqual({
        hits: ['GET /orders/A-1O'],
        seen: { type: 'not_found', message: 'order A-1O: HTTP 404 Not Found' },
        searches: ['ann@example.com'],
        status: 'succeeded',
        output: 'Found order A-10.',
      });
    });

    it('never retries a non-idempotent write, even on a 429 or a timeout', async () => {
      for (const [name, failure] of [
        ['rate_limited', new ToolError('rate_limited', 'slow down', { retryAfterMs: 1 })],
        ['timeout', new ToolError('timeout', 'took too long')],
      ] as const) {
        let sends = 0;
        const sendRefund = defineTool({
          name: 'send_refund',
          description: 'Send a refund',
          input: z.object({ orderId: z.string() }),
          effect: 'write',
          retry: { maxAttempts: 5, initialDelayMs: 1, maxDelayMs: 5 },
          run: () => {
            sends += 1;
            return Promise.reject(failure);
          },
        });
        const agentName = `write-${name}`;
        const agent = agentWith(
          agentName,
          [
            { toolCalls: [{ name: 'send_refund', args: { orderId: 'A-1' } }] },
            { text: 'Not sent.' },
          ],
          [sendRefund],
        );
        const result = await makeRuntime([agent]).run(agentName, 'Refund A-1.');
        const failed = (await toolEvents(result.id)).filter(
          (event) => event.type === 'tool_failed',
        );
        expect({
          sends,
          failed: failed.map((event) => [event.error.type, event.attempt, event.final]),
        }).toEqual({ sends: 1, failed: [[name, 1, true]] });
      }
    });

    it('answers with the fallback, marked degraded in the journal and to the model', async () => {
      let calls = 0;
      const quote = defineTool({
        name: 'shipping_quote',
        description: 'Quote shipping',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 },
        breaker: false,
        escape: { type: 'fallback', value: () => ({ estimate: 'standard rates apply' }) },
        run: () => {
          calls += 1;
          return Promise.reject(new ToolError('unavailable', 'quote service down'));
        },
      });
      const fedBack: string[] = [];
      const agent = agentWith(
        'fallback',
        ({ step, lastToolResults }) => {
          fedBack.push(...lastToolResults.map((part) => part.content));
          return step === 0
            ? { toolCalls: [{ name: 'shipping_quote', args: { orderId: 'A-1' } }] }
            : { text: 'Standard rates apply.' };
        },
        [quote],
      );
      const result = await makeRuntime([agent]).run('fallback', 'Quote shipping for A-1.');
      const finished = (await toolEvents(result.id)).find(
        (event) => event.type === 'tool_finished',
      );
      const failure = { type: 'unavailable', message: 'quote service down' };
      expect({ calls, status: result.status, finished, fedBack }).toEqual({
        calls: 2,
        status: 'succeeded',
        finished: expect.objectContaining({ degraded: failure, attempts: 2 }),
        fedBack: [
          JSON.stringify({
            degraded: true,
            error: failure,
            result: { estimate: 'standard rates apply' },
          }),
        ],
      });
    });

    it('does not fall back on a failure its escape hatch does not cover', async () => {
      const lookup = defineTool({
        name: 'lookup_order',
        description: 'Find an order',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        escape: { type: 'fallback', value: () => 'a guess' },
        run: () => Promise.reject(new ToolError('not_found', 'no such order')),
      });
      const agent = agentWith(
        'no-fallback',
        [{ toolCalls: [{ name: 'lookup_order', args: { orderId: 'Z' } }] }, { text: 'None.' }],
        [lookup],
      );
      const result = await makeRuntime([agent]).run('no-fallback', 'Find Z.');
      const events = await toolEvents(result.id);
      expect(events.at(-1)).toMatchObject({
        type: 'tool_failed',
        final: true,
        error: { type: 'not_found' },
      });
      expect(events.some((event) => event.type === 'tool_finished')).toBe(false);
    });

    it('hands the run off: it ends escalated with the reason and everything gathered so far', async () => {
      const lookup = defineTool({
        name: 'lookup_order',
        description: 'Find an order',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        run: ({ orderId }: { orderId: string }) => Promise.resolve({ orderId, total: 120 }),
      });
      let refunds = 0;
      const refund = defineTool({
        name: 'issue_refund',
        description: 'Refund an order',
        input: z.object({ orderId: z.string() }),
        effect: 'irreversible',
        escape: { type: 'handoff', reason: 'the payment provider is down: refund by hand' },
        run: () => {
          refunds += 1;
          return Promise.reject(new ToolError('unavailable', 'payments unreachable'));
        },
      });
      const agent = agentWith(
        'handoff',
        [
          { toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
          { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1' } }] },
          { text: 'never reached' },
        ],
        [lookup, refund],
      );
      const result = await makeRuntime([agent]).run('handoff', 'Refund order A-1.');
      const events = (await journal(result.id)).map((entry) => entry.event);
      const failure = { type: 'unavailable', message: 'payments unreachable' };
      expect({
        status: result.status,
        reason: result.reason,
        gathered: JSON.parse(result.output ?? 'null') as unknown,
        refunds,
        tail: events.slice(-2).map((event) => event.type),
        modelCalls: events.filter((event) => event.type === 'model_called').length,
        record: (await store.getRun(result.id))?.status,
      }).toEqual({
        status: 'escalated',
        reason: {
          type: 'escalation',
          message: 'the payment provider is down: refund by hand',
          toolName: 'issue_refund',
          error: failure,
        },
        gathered: {
          task: 'Refund order A-1.',
          toolResults: [
            { toolName: 'lookup_order', isError: false, content: '{"orderId":"A-1","total":120}' },
          ],
        },
        refunds: 1,
        tail: ['tool_failed', 'run_finished'],
        modelCalls: 2,
        record: 'escalated',
      });
    });

    it('ends the run at a handoff while another call of the step still runs, and stops that call', async () => {
      let slowAborted = false;
      const slow = defineTool({
        name: 'slow_report',
        description: 'A slow report',
        input: z.object({}),
        effect: 'read',
        run: (_input, { signal }) =>
          new Promise((resolve) => {
            const timer = setTimeout(() => {
              resolve('late report');
            }, 2_000);
            signal.addEventListener('abort', () => {
              slowAborted = true;
              clearTimeout(timer);
              resolve('aborted');
            });
          }),
      });
      const refund = defineTool({
        name: 'issue_refund',
        description: 'Refund',
        input: z.object({}),
        effect: 'irreversible',
        escape: { type: 'handoff' },
        run: () => Promise.reject(new ToolError('unavailable', 'payments unreachable')),
      });
      const agent = agentWith(
        'handoff-parallel',
        [
          {
            toolCalls: [
              { name: 'slow_report', args: {} },
              { name: 'issue_refund', args: {} },
            ],
          },
          { text: 'never reached' },
        ],
        [slow, refund],
      );
      const result = await makeRuntime([agent]).run('handoff-parallel', 'Refund and report.');
      const events = (await journal(result.id)).map((entry) => entry.event);
      expect({
        status: result.status,
        message: result.reason.type === 'escalation' ? result.reason.message : undefined,
        last: events.at(-1)?.type,
        slowFinished: events.some(
          (event) => event.type === 'tool_finished' && event.toolName === 'slow_report',
        ),
        slowAborted,
      }).toEqual({
        status: 'escalated',
        message: 'issue_refund failed after 1 attempt(s): payments unreachable',
        last: 'run_finished',
        slowFinished: false,
        slowAborted: true,
      });
    });

    it('serves a cacheable read from the shared cache in a later run and journals the hit', async () => {
      let now = Date.now();
      const clock = { now: () => now };
      const executions: string[] = [];
      const rates = defineTool({
        name: 'exchange_rate',
        description: 'Exchange rate',
        input: z.object({ from: z.string(), to: z.string() }),
        effect: 'read',
        cache: { ttlMs: 60_000 },
        run: ({ from, to }: { from: string; to: string }) => {
          executions.push(`${from}${to}`);
          return Promise.resolve({ rate: 1.25 });
        },
      });
      const agent = agentWith(
        'cached',
        ({ step, task }) =>
          step === 0
            ? { toolCalls: [{ name: 'exchange_rate', args: JSON.parse(task) as unknown }] }
            : { text: 'Rate found.' },
        [rates],
      );
      // Two runtimes stand for two workers sharing the store.
      const first = makeRuntime([agent], { clock });
      const second = makeRuntime([agent], { clock });
      const a = await first.run('cached', '{"from":"EUR","to":"USD"}');
      const b = await second.run('cached', '{"to":"USD","from":"EUR"}');
      now += 61_000;
      const c = await second.run('cached', '{"from":"EUR","to":"USD"}');
      const finished = async (runId: string) =>
        (await toolEvents(runId)).find((event) => event.type === 'tool_finished');
      expect(executions).toEqual(['EURUSD', 'EURUSD']);
      expect(await finished(a.id)).not.toHaveProperty('cache');
      expect(await finished(b.id)).toMatchObject({ cache: 'hit', content: '{"rate":1.25}' });
      expect(await finished(c.id)).not.toHaveProperty('cache');
    });

    it('appends every attempt to an audit log that verifies', async () => {
      const before = (await store.audit.read({ limit: 100_000 })).length;
      let attempts = 0;
      const flaky = defineTool({
        name: 'flaky_lookup',
        description: 'Flaky',
        input: z.object({ orderId: z.string() }),
        effect: 'read',
        breaker: false,
        retry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 },
        run: ({ orderId }: { orderId: string }) => {
          attempts += 1;
          return attempts === 1
            ? Promise.reject(new ToolError('unavailable', 'restarting'))
            : Promise.resolve({ orderId });
        },
      });
      const agent = agentWith(
        'audited',
        [{ toolCalls: [{ name: 'flaky_lookup', args: { orderId: 'A-1' } }] }, { text: 'ok' }],
        [flaky],
      );
      const result = await makeRuntime([agent]).run('audited', 'Look up A-1.');
      const rows = await store.audit.read({ limit: 100_000 });
      const mine = rows
        .slice(before)
        .filter((row) => row.runId === result.id && row.kind !== 'run_finished');
      expect(mine.map((row) => JSON.parse(row.payload) as unknown)).toEqual([
        expect.objectContaining({
          tool: 'flaky_lookup',
          step: 0,
          callId: 'call_0_0',
          idempotencyKey: `${result.id}:0:0`,
          args: { orderId: 'A-1' },
          attempt: 1,
          durationMs: expect.any(Number),
          outcome: { ok: false, error: { type: 'unavailable', message: 'restarting' } },
          decision: { allowedBy: 'agent_tool_scope', policy: null },
        }),
        expect.objectContaining({
          attempt: 2,
          outcome: { ok: true, result: { orderId: 'A-1' } },
        }),
      ]);
      expect(verifyAuditChain(rows)).toMatchObject({ ok: true, entries: rows.length });
    });
  });
}
