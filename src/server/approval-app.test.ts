import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { createRuntime, type Runtime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import { openStore, type ApprovalRecord, type Store } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { STATUS_BY_CODE, approvalApp } from './index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Setup {
  store: Store;
  runtime: Runtime;
  app: ReturnType<typeof approvalApp>;
  finance: string;
  support: string;
  refunds: unknown[];
  pending(): Promise<ApprovalRecord>;
}

async function setup(): Promise<Setup> {
  const store = await openStore('sqlite::memory:');
  const refunds: unknown[] = [];
  const refund = defineTool({
    name: 'issue_refund',
    description: 'Refund an order',
    input: z.object({ orderId: z.string(), amountCents: z.number().int().positive() }),
    effect: 'irreversible',
    run(input) {
      refunds.push(input);
      return Promise.resolve({ ok: true });
    },
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
  const runtime = createRuntime({ store, agents: [agent] });
  const worker = runtime.startWorker({ pollMs: 10 });
  cleanups.push(async () => {
    await worker.stop({ abortInFlight: true });
    await runtime.close();
    await store.close();
  });
  const finance = (await runtime.approvals.addApprover({ name: 'fin', groups: ['finance'] })).token;
  const support = (await runtime.approvals.addApprover({ name: 'sup', groups: ['support'] })).token;
  return {
    store,
    runtime,
    app: approvalApp({ approvals: runtime.approvals }),
    finance,
    support,
    refunds,
    async pending() {
      const record = await runtime.submit('refunds', 'Refund A-1');
      for (;;) {
        const [approval] = await store.approvals.list({ runId: record.id, states: ['pending'] });
        if (approval && (await store.getRun(record.id))?.status === 'waiting') return approval;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
  };
}

function auth(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

describe('approval API', () => {
  it('lists, gets and approves with a bearer token; the run resumes', async () => {
    const s = await setup();
    const approval = await s.pending();
    const list = await s.app.request('/approvals?state=pending', { headers: auth(s.finance) });
    expect(list.status).toBe(200);
    const listed = (await list.json()) as { approvals: { id: string; argsHash: string }[] };
    expect(listed.approvals.map((entry) => entry.id)).toEqual([approval.id]);

    const got = await s.app.request(`/approvals/${approval.id}`, { headers: auth(s.finance) });
    expect(got.status).toBe(200);
    expect(await got.json()).toMatchObject({
      approval: { id: approval.id, state: 'pending', args: { orderId: 'A-1', amountCents: 900 } },
      decisions: [],
    });

    const decided = await s.app.request(`/approvals/${approval.id}/decision`, {
      method: 'POST',
      headers: auth(s.finance),
      body: JSON.stringify({ decision: 'approve', argsHash: approval.argsHash, reason: 'ok' }),
    });
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({
      approval: { state: 'approved', decidedBy: 'fin', reason: 'ok' },
    });
    const result = await s.runtime.wait(approval.runId, { pollMs: 10 });
    expect(result.status).toBe('succeeded');
    expect(s.refunds).toEqual([{ orderId: 'A-1', amountCents: 900 }]);
  });

  it('refuses bad requests with clear codes and statuses, and runs nothing', async () => {
    const s = await setup();
    const approval = await s.pending();
    const decide = (headers: Record<string, string>, body: string, id = approval.id) =>
      s.app.request(`/approvals/${id}/decision`, { method: 'POST', headers, body });
    const good = JSON.stringify({ decision: 'approve', argsHash: approval.argsHash });
    const cases: [string, Response, number, string][] = [
      [
        'no token',
        await decide({ 'content-type': 'application/json' }, good),
        401,
        'unauthenticated',
      ],
      ['bad token', await decide(auth('keel_apr_nope'), good), 401, 'unauthenticated'],
      ['wrong group', await decide(auth(s.support), good), 403, 'forbidden'],
      [
        'stale hash',
        await decide(
          auth(s.finance),
          JSON.stringify({ decision: 'approve', argsHash: 'f'.repeat(32) }),
        ),
        409,
        'conflict',
      ],
      ['not JSON', await decide(auth(s.finance), '{nope'), 400, 'invalid_input'],
      [
        'unknown decision',
        await decide(
          auth(s.finance),
          JSON.stringify({ decision: 'maybe', argsHash: approval.argsHash }),
        ),
        400,
        'invalid_input',
      ],
      [
        'bad edit',
        await decide(
          auth(s.finance),
          JSON.stringify({
            decision: 'approve',
            argsHash: approval.argsHash,
            editedArgs: { orderId: 3 },
          }),
        ),
        400,
        'invalid_input',
      ],
      ['unknown approval', await decide(auth(s.finance), good, 'apr_missing'), 404, 'not_found'],
      [
        'bad state filter',
        await s.app.request('/approvals?state=nope', { headers: auth(s.finance) }),
        400,
        'invalid_input',
      ],
      ['list without token', await s.app.request('/approvals'), 401, 'unauthenticated'],
      [
        'unknown route',
        await s.app.request('/nope', { headers: auth(s.finance) }),
        404,
        'not_found',
      ],
    ];
    for (const [name, response, status, code] of cases) {
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect([name, response.status, body.error.code]).toEqual([name, status, code]);
      expect(body.error.message).not.toMatch(/\n|at .*\(/);
    }
    expect(s.refunds).toEqual([]);
    expect((await s.store.getRun(approval.runId))?.status).toBe('waiting');
  });

  it('refuses a query parameter a route does not take, or one given twice, naming it', async () => {
    const s = await setup();
    const approval = await s.pending();
    const get = (path: string, token = s.finance) => s.app.request(path, { headers: auth(token) });
    const filtered = await get(`/approvals?state=pending&run=${approval.runId}&limit=5`);
    expect(filtered.status).toBe(200);
    const cases: [Response, string][] = [
      [await get('/approvals?stat=pending'), '"stat"'],
      [await get('/approvals?runId=run_x'), '"runId"'],
      [await get('/approvals?state=approved&state=bogus'), '"state" is given 2 times'],
      [await get('/approvals?run=a&run=a'), '"run" is given 2 times'],
      [await get(`/approvals/${approval.id}?verbose=1`), '"verbose"'],
      [
        await s.app.request(`/approvals/${approval.id}/decision?reason=ok`, {
          method: 'POST',
          headers: auth(s.finance),
          body: JSON.stringify({ decision: 'approve', argsHash: approval.argsHash }),
        }),
        '"reason"',
      ],
    ];
    for (const [response, named] of cases) {
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect([response.status, body.error.code]).toEqual([400, 'invalid_input']);
      expect(body.error.message).toContain(named);
    }
    // A stranger learns nothing, not even which parameters a route takes.
    expect((await s.app.request('/approvals?stat=pending')).status).toBe(401);
    expect((await s.store.approvals.get(approval.id))?.state).toBe('pending');
  });

  it('serves a browser the decide page on the link, and never the approval without a token', async () => {
    const s = await setup();
    const approval = await s.pending();
    const page = await s.app.request(`/approvals/${approval.id}`, {
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(html).toContain(`const id = "${approval.id}";`);
    expect(html).not.toContain('A-1');
    const hostile = await s.app.request('/approvals/%3C%2Fscript%3E%3Cb%3E', {
      headers: { accept: 'text/html' },
    });
    expect(await hostile.text()).not.toContain('</script><b>');
    const data = await s.app.request(`/approvals/${approval.id}`, {
      headers: { accept: 'application/json' },
    });
    expect(data.status).toBe(401);
  });

  it('shows each token its groups only, refuses a viewer decision and lets an admin decide', async () => {
    const s = await setup();
    const approval = await s.pending();
    const viewer = (
      await s.runtime.approvals.addApprover({ name: 'vic', groups: ['finance'], role: 'viewer' })
    ).token;
    const admin = (
      await s.runtime.approvals.addApprover({ name: 'root', groups: [], role: 'admin' })
    ).token;
    const listed = async (token: string) =>
      (
        (await (await s.app.request('/approvals', { headers: auth(token) })).json()) as {
          approvals: { id: string }[];
        }
      ).approvals.map((entry) => entry.id);
    expect([await listed(s.support), await listed(viewer), await listed(admin)]).toEqual([
      [],
      [approval.id],
      [approval.id],
    ]);
    const hidden = await s.app.request(`/approvals/${approval.id}`, { headers: auth(s.support) });
    expect([
      hidden.status,
      ((await hidden.json()) as { error: { code: string } }).error.code,
    ]).toEqual([403, 'forbidden']);
    const decide = (token: string) =>
      s.app.request(`/approvals/${approval.id}/decision`, {
        method: 'POST',
        headers: auth(token),
        body: JSON.stringify({ decision: 'approve', argsHash: approval.argsHash }),
      });
    const refused = await decide(viewer);
    expect([
      refused.status,
      ((await refused.json()) as { error: { code: string } }).error.code,
    ]).toEqual([403, 'forbidden']);
    expect((await s.store.getRun(approval.runId))?.status).toBe('waiting');
    const decided = await decide(admin);
    expect(decided.status).toBe(200);
    expect(await decided.json()).toMatchObject({
      approval: { state: 'approved', decidedBy: 'root' },
    });
    expect((await s.runtime.wait(approval.runId, { pollMs: 10 })).status).toBe('succeeded');
    expect(
      (await s.runtime.approvals.decisions(approval.id)).map((entry) => [
        entry.actor,
        entry.outcome,
        entry.errorCode,
      ]),
    ).toEqual([
      ['vic', 'refused', 'forbidden'],
      ['root', 'accepted', null],
    ]);
  });

  it('maps every fault code to a 4xx or 5xx status', () => {
    for (const status of Object.values(STATUS_BY_CODE)) expect(status).toBeGreaterThanOrEqual(400);
    expect(STATUS_BY_CODE.unauthenticated).toBe(401);
    expect(STATUS_BY_CODE.forbidden).toBe(403);
  });
});
