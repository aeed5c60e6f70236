import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import type { Clock } from '../core/index.js';
import { createRuntime, type Runtime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore, type ApprovalRecord, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { approvalApp, keelApp } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class FakeClock implements Clock {
  at = 1_000_000;
  now(): number {
    return this.at;
  }
}

async function setup() {
  const store = await openStore('sqlite::memory:');
  const refund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    run: () => Promise.resolve({ ok: true }),
  });
  const agent = defineAgent({
    name: 'refunds',
    instructions: 'Refund.',
    model: simulator({
      script: ({ step }) =>
        step === 0
          ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-1', amountCents: 900 } }] }
          : { text: 'done' },
    }),
    tools: [refund],
    gates: { approverGroup: 'finance' },
  });
  const runtime: Runtime = createRuntime({ store, agents: [agent] });
  const worker = runtime.startWorker({ pollMs: 10 });
  cleanups.push(async () => {
    await worker.stop({ abortInFlight: true });
    await runtime.close();
    await store.close();
  });
  const finance = (await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] })).token;
  const clock = new FakeClock();
  const limits = {
    clock,
    clientKey: (c: { req: { header(name: string): string | undefined } }) =>
      c.req.header('x-client') ?? 'anyone',
  };
  const app = approvalApp({ approvals: runtime.approvals, limits });
  async function pending(): Promise<ApprovalRecord> {
    const record = await runtime.submit('refunds', 'Refund A-1');
    for (;;) {
      const [approval] = await store.approvals.list({ runId: record.id, states: ['pending'] });
      if (approval && (await store.getRun(record.id))?.status === 'waiting') return approval;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  return { store, runtime, app, finance, clock, limits, pending };
}

async function storedBytes(store: Store, approvalId: string): Promise<number> {
  const decisions = await store.approvals.decisions(approvalId);
  const audit = await store.audit.read({ limit: 10_000 });
  return JSON.stringify(decisions).length + JSON.stringify(audit).length;
}

const errorCode = async (response: Response) =>
  ((await response.json()) as { error: { code: string } }).error.code;

describe('the approval API under hostile requests', () => {
  it('refuses a large body with 413 before reading it, and stores nothing', async () => {
    const s = await setup();
    const approval = await s.pending();
    const before = await storedBytes(s.store, approval.id);
    const huge = JSON.stringify({ decision: 'approve', argsHash: 'x'.repeat(2_000_000) });
    for (const headers of [
      { 'content-type': 'application/json' },
      { 'content-type': 'application/json', authorization: 'Bearer keel_apr_wrong' },
    ]) {
      const response = await s.app.request(`/approvals/${approval.id}/decision`, {
        method: 'POST',
        headers,
        body: huge,
      });
      expect(response.status).toBe(413);
      expect(await errorCode(response)).toBe('payload_too_large');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await storedBytes(s.store, approval.id)).toBe(before);
  });

  it('refuses a body without a JSON content type (a cross-origin no-cors post) with 415', async () => {
    const s = await setup();
    const approval = await s.pending();
    const response = await s.app.request(`/approvals/${approval.id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${s.finance}` },
      body: JSON.stringify({ decision: 'approve', argsHash: approval.argsHash }),
    });
    expect(response.status).toBe(415);
    expect(await errorCode(response)).toBe('unsupported_media_type');
    expect((await s.store.approvals.get(approval.id))?.state).toBe('pending');
    expect(await s.store.approvals.decisions(approval.id)).toEqual([]);
  });

  it('caps every field: a long id or hash is a 400, never stored', async () => {
    const s = await setup();
    const approval = await s.pending();
    const long = 'a'.repeat(5_000);
    const byId = await s.app.request(`/approvals/${long}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.finance}` },
      body: JSON.stringify({ decision: 'approve', argsHash: approval.argsHash }),
    });
    expect([byId.status, await errorCode(byId)]).toEqual([400, 'invalid_input']);
    const byHash = await s.app.request(`/approvals/${approval.id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.finance}` },
      body: JSON.stringify({ decision: 'approve', argsHash: long }),
    });
    expect([byHash.status, await errorCode(byHash)]).toEqual([400, 'invalid_input']);
    const audit = JSON.stringify(await s.store.audit.read({ limit: 10_000 }));
    expect(audit).not.toContain(long);
  });

  it('never stores an unauthenticated attempt verbatim, and records at most a bounded few', async () => {
    const s = await setup();
    const approval = await s.pending();
    const hash = 'b'.repeat(100);
    for (let attempt = 0; attempt < 50; attempt += 1) {
      await s.runtime.approvals
        .decide({ token: 'keel_apr_wrong', id: approval.id, decision: 'approve', argsHash: hash })
        .catch(() => undefined);
    }
    const decisions = await s.store.approvals.decisions(approval.id);
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.length).toBeLessThanOrEqual(10);
    expect(decisions.every((entry) => entry.argsHash === null)).toBe(true);
    expect(JSON.stringify(await s.store.audit.read({ limit: 10_000 }))).not.toContain(hash);
  });

  it('rate-limits failed sign-ins per client: 429 with Retry-After, others unaffected, and again after the window', async () => {
    const s = await setup();
    const approval = await s.pending();
    const attempt = (client: string, token: string) =>
      s.app.request(`/approvals/${approval.id}`, {
        headers: { authorization: `Bearer ${token}`, 'x-client': client },
      });
    const statuses: number[] = [];
    for (let index = 0; index < 30; index += 1)
      statuses.push((await attempt('mallory', 'keel_apr_guess')).status);
    expect(statuses.slice(0, 20).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(20).every((status) => status === 429)).toBe(true);
    const limited = await attempt('mallory', s.finance);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await attempt('ana', s.finance)).status).toBe(200);
    s.clock.at += 61_000;
    expect((await attempt('mallory', s.finance)).status).toBe(200);
  });

  it('rate-limits every request per client', async () => {
    const s = await setup();
    const app = approvalApp({
      approvals: s.runtime.approvals,
      limits: { ...s.limits, requestsPerMinute: 5 },
    });
    const statuses: number[] = [];
    for (let index = 0; index < 7; index += 1)
      statuses.push(
        (await app.request('/approvals', { headers: { authorization: `Bearer ${s.finance}` } }))
          .status,
      );
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
  });

  it('refuses an edit nested 20,000 levels deep with 400', async () => {
    const s = await setup();
    const approval = await s.pending();
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const response = await s.app.request(`/approvals/${approval.id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.finance}` },
      body: `{"decision":"approve","argsHash":"${approval.argsHash}","editedArgs":{"orderId":"A-1","amountCents":5,"note":${deep}}}`,
    });
    expect([response.status, await errorCode(response)]).toEqual([400, 'invalid_input']);
    expect((await s.store.approvals.get(approval.id))?.state).toBe('pending');
  });

  it('limits the body on the dashboard routes too', async () => {
    const s = await setup();
    const { app, close } = keelApp({ runtime: s.runtime, limits: s.limits });
    cleanups.push(() => {
      close();
      return Promise.resolve();
    });
    const response = await app.request('/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      body: `token=${'t'.repeat(1_000_000)}`,
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
