import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../core/index.js';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { keelApp } from './index.js';
import { formHeaders, signInAs } from './__tests__/dashboard-client.js';

/*
 * Every route of the server (approval API and dashboard) on bounded, seeded junk: methods,
 * paths, ids, queries, headers and bodies, signed in and not. No 5xx, no hang, no thrown error.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const ROUTES = [
  '/approvals',
  '/approvals/:id',
  '/approvals/:id/decision',
  '/',
  '/login',
  '/logout',
  '/runs/:id',
  '/runs/:id/replay',
  '/runs/:id/fork',
  '/queue',
  '/queue/:id/decision',
  '/live/queue',
  '/costs',
  '/alerts',
  '/assets/:id',
  '/favicon.ico',
];

describe('every route on seeded junk', () => {
  it('answers 600 junk requests without a 5xx', async () => {
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'refunds',
      instructions: 'Refund.',
      model: simulator({
        script: ({ step }) =>
          step === 0
            ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1', amountCents: 900 } }] }
            : { text: 'done' },
      }),
      tools: [
        defineTool({
          name: 'issue_refund',
          description: 'Refund an order',
          input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
          effect: 'irreversible',
          run: () => Promise.resolve({ ok: true }),
        }),
      ],
      gates: { approverGroup: 'finance' },
    });
    const runtime = createRuntime({ store, agents: [agent] });
    const worker = runtime.startWorker({ pollMs: 10 });
    const { app, close } = keelApp({
      runtime,
      livePollMs: 50,
      limits: { requestsPerMinute: 100_000, failedAuthPerMinute: 100_000 },
    });
    cleanups.push(async () => {
      close();
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    });
    const { token } = await runtime.approvals.addApprover({
      name: 'root',
      groups: [],
      role: 'admin',
    });
    const run = await runtime.submit('refunds', 'Refund A-1');
    let approvalId = '';
    while (approvalId === '') {
      const [approval] = await store.approvals.list({ runId: run.id });
      if (approval) approvalId = approval.id;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const client = await signInAs(app, token);
    const random = seededRandom(24_2026);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const ids = [
      approvalId,
      run.id,
      'x',
      '',
      '%00',
      '..%2f..',
      'a'.repeat(500),
      '<script>',
      '%E0%A4%A',
    ];
    const jsonJunk = [
      '{',
      'null',
      '[]',
      '"x"',
      '{"decision":"approve","argsHash":"x"}',
      `{"decision":"approve","argsHash":"x","editedArgs":${'['.repeat(5_000)}${']'.repeat(5_000)}}`,
      `{"decision":"approve","argsHash":"x","editedArgs":{"orderId":"A-1","amountCents":1,"__proto__":{"x":1}}}`,
      '{"decision":"deny","argsHash":"' +
        'f'.repeat(64) +
        '","reason":' +
        JSON.stringify('r'.repeat(3_000)) +
        '}',
    ];
    const statuses = new Map<number, number>();
    for (let index = 0; index < 600; index += 1) {
      const id = pick(ids);
      const path = pick(ROUTES).replace(':id', id);
      const query = pick([
        '',
        '?state=pending',
        '?state=nope',
        '?limit=-1',
        '?limit=1e9',
        '?run=' + id,
        '?next=//evil',
        '?since=junk',
        '?window=7',
        '?page=9999999999999999',
      ]);
      const method = pick(['GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD']);
      const signed = random() < 0.5;
      const headers: Record<string, string> = pick([
        { 'content-type': 'application/json' },
        { 'content-type': 'text/plain' },
        formHeaders(),
        { 'content-type': 'multipart/form-data; boundary=x' },
        { accept: 'text/html' },
        {},
      ]);
      if (signed) {
        headers.cookie = client.cookie;
        headers.authorization = `Bearer ${token}`;
        if (random() < 0.5) headers['x-csrf-token'] = client.csrf;
      } else if (random() < 0.3)
        headers.authorization = pick(['Bearer', 'Bearer x', 'Basic a', `Bearer ${token}x`]);
      let body: string | undefined;
      if (method !== 'GET' && method !== 'HEAD') {
        body = pick([
          ...jsonJunk,
          new URLSearchParams({
            _csrf: client.csrf,
            decision: pick(['approve', 'deny', 'x']),
            argsHash: 'x',
            editedArgs: pick(['{', '{"orderId":3}', '[]']),
          }).toString(),
          new URLSearchParams({
            _csrf: client.csrf,
            fromStep: pick(['-1', 'x', '99', '0']),
            model: pick(['', 'nope:x', 'simulator:x']),
          }).toString(),
          '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
        ]);
      }
      const response = await Promise.race([
        app.request(`${path}${query}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body }),
        }),
        new Promise<never>((_, reject) =>
          setTimeout(() => {
            reject(new Error(`hung: ${method} ${path}${query}`));
          }, 10_000),
        ),
      ]);
      if (path.startsWith('/live/')) await response.body?.cancel();
      else await response.arrayBuffer();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      expect([method, path, query, response.status < 500]).toEqual([method, path, query, true]);
    }
    // The fuzz reached the handlers, not only the refusals in front of them.
    expect(statuses.get(200)).toBeGreaterThan(0);
  }, 120_000);
});
