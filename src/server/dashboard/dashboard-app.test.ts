import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../../agent/index.js';
import { simulator } from '../../model/index.js';
import { keelApp } from '../index.js';
import { dashboardFixture, XSS, type DashboardFixture } from '../__tests__/dashboard-fixture.js';
import { formHeaders, signInAs, type DashboardClient } from '../__tests__/dashboard-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<DashboardFixture & { app: ReturnType<typeof keelApp>['app'] }> {
  const fixture = await dashboardFixture();
  const { app, close } = keelApp({ runtime: fixture.runtime, livePollMs: 20 });
  cleanups.push(async () => {
    close();
    await fixture.close();
  });
  return { ...fixture, app };
}

async function html(response: Response | Promise<Response>): Promise<string> {
  return (await response).text();
}

/** Run ids linked from a runs page, in order. */
function listedRuns(page: string): string[] {
  return [...page.matchAll(/<tr data-run-id="([^"]+)"/g)].map((match) => match[1] ?? '');
}

async function waitForStatus(fixture: DashboardFixture, runId: string, status: string) {
  for (;;) {
    if ((await fixture.store.getRun(runId))?.status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('dashboard sign-in', () => {
  it('sends a browser without a session to the token form, and back where it was going', async () => {
    const s = await setup();
    const page = await s.app.request('/runs/run_x?tab=1');
    expect([page.status, page.headers.get('location')]).toEqual([
      303,
      '/login?next=%2Fruns%2Frun_x%3Ftab%3D1',
    ]);
    const login = await s.app.request('/login?next=%2Fqueue');
    const loginCookie = /keel_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    expect(await login.text()).toContain('name="next" value="/queue"');
    const signedIn = await s.app.request('/login', {
      method: 'POST',
      headers: formHeaders({ cookie: `keel_login=${loginCookie ?? ''}` }),
      body: new URLSearchParams({
        _csrf: loginCookie ?? '',
        token: s.tokens.finance,
        next: '/queue',
      }),
    });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/queue');
    const cookie = signedIn.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/keel_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict/);
    expect(cookie).not.toContain(s.tokens.finance);
    expect(cookie).not.toContain('Secure');
  });

  it('marks the cookie Secure behind https, and never redirects off the site', async () => {
    const s = await setup();
    const login = await s.app.request('/login');
    const loginCookie = /keel_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
    const signedIn = await s.app.request('/login', {
      method: 'POST',
      headers: formHeaders({
        cookie: `keel_login=${loginCookie ?? ''}`,
        'x-forwarded-proto': 'https',
      }),
      body: new URLSearchParams({
        _csrf: loginCookie ?? '',
        token: s.tokens.finance,
        next: '//evil.example/x',
      }),
    });
    expect(signedIn.headers.get('location')).toBe('/');
    expect(signedIn.headers.get('set-cookie')).toMatch(/keel_session=[^;]+;.*Secure/);
  });

  it('refuses a bad token, a stale form and a cross-site post, and signs out', async () => {
    const s = await setup();
    const login = await s.app.request('/login');
    const loginCookie = /keel_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
    const attempt = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      s.app.request('/login', {
        method: 'POST',
        headers: formHeaders({ cookie: `keel_login=${loginCookie}`, ...headers }),
        body: new URLSearchParams(fields),
      });
    const bad = await attempt({ _csrf: loginCookie, token: 'keel_apr_nope' });
    const stale = await attempt({ _csrf: 'other', token: s.tokens.finance });
    const crossSite = await attempt(
      { _csrf: loginCookie, token: s.tokens.finance },
      { origin: 'https://evil.example' },
    );
    expect([bad.status, stale.status, crossSite.status]).toEqual([401, 400, 403]);
    expect(await bad.text()).toContain('That token is not valid.');
    for (const response of [bad, stale, crossSite]) {
      expect(response.headers.get('set-cookie') ?? '').not.toContain('keel_session=');
    }

    const client = await signInAs(s.app, s.tokens.finance);
    expect((await client.get('/')).status).toBe(200);
    const out = await client.post('/logout');
    expect([out.status, out.headers.get('location')]).toEqual([303, '/login']);
    expect((await client.get('/')).status).toBe(303);
  });
});

describe('dashboard security headers', () => {
  it('sends a strict policy on every page, asset and API answer', async () => {
    const s = await setup();
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.admin);
    const responses: [string, Response][] = [
      ['login', await s.app.request('/login')],
      ['runs', await client.get('/')],
      ['run', await client.get(`/runs/${approval.runId}`)],
      ['queue', await client.get('/queue')],
      ['costs', await client.get('/costs')],
      ['alerts', await client.get('/alerts')],
      ['css', await client.get('/assets/dashboard.css')],
      ['script', await client.get('/assets/live.js')],
      ['error page', await client.get('/?status=nope')],
      ['missing page', await client.get('/nope', { accept: 'text/html' })],
      [
        'decide page',
        await s.app.request(`/approvals/${approval.id}`, { headers: { accept: 'text/html' } }),
      ],
      [
        'API',
        await s.app.request('/approvals', {
          headers: { authorization: `Bearer ${s.tokens.admin}` },
        }),
      ],
    ];
    for (const [name, response] of responses) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect([
        name,
        csp.includes("default-src 'none'"),
        /script-src 'self' 'nonce-[^']+'(;|$)/.test(csp),
        csp.includes('unsafe-inline') || csp.includes('unsafe-eval'),
        csp.includes("frame-ancestors 'none'"),
        response.headers.get('x-frame-options'),
        response.headers.get('x-content-type-options'),
        response.headers.get('referrer-policy'),
        response.headers.get('cache-control'),
      ]).toEqual([name, true, true, false, true, 'DENY', 'nosniff', 'no-referrer', 'no-store']);
    }
  });
});

describe('dashboard pages', () => {
  it('lists, filters and searches runs, with a clear error for a bad filter', async () => {
    const s = await setup();
    const desk = await s.runDeskTicket('Where is parcel Zephyr-77?');
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.admin);
    const cases: [string, string[]][] = [
      ['/', [approval.runId, desk]],
      ['/?status=waiting', [approval.runId]],
      ['/?agent=desk', [desk]],
      ['/?q=zephyr', [desk]],
      ['/?approvals=with', [approval.runId]],
      ['/?reason=final_answer&approvals=without', [desk]],
      ['/?cost=1000', []],
    ];
    const results: [string, string[]][] = [];
    for (const [path] of cases) results.push([path, listedRuns(await html(client.get(path)))]);
    expect(results).toEqual(cases);
    const bad = await client.get('/?from=yesterday');
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid_input');
    const refused: [string, string][] = [];
    for (const path of ['/?from=2026-02-30', '/?to=2025-02-29', '/?status=failed&status=bogus']) {
      const response = await client.get(path);
      const text = await response.text();
      refused.push([
        path,
        `${response.status} ${/not a calendar day|given 2 times/.exec(text)?.[0] ?? text}`,
      ]);
    }
    expect(refused).toEqual([
      ['/?from=2026-02-30', '400 not a calendar day'],
      ['/?to=2025-02-29', '400 not a calendar day'],
      ['/?status=failed&status=bogus', '400 given 2 times'],
    ]);
  });

  it('shows a run: outcome, limits, conversation with provenance, trace with usage, journal', async () => {
    const s = await setup();
    const desk = await s.runDeskTicket();
    const client = await signInAs(s.app, s.tokens.admin);
    const page = await html(client.get(`/runs/${desk}`));
    expect(page).toContain('the agent gave its final answer');
    expect(page).toContain('dashboard-script (scripted simulator — no real model was called)');
    expect(page).toContain(
      '<tr data-limit="iterations"><td>iterations</td><td class="num">2</td><td class="num">25</td>',
    );
    expect(page).toContain('untrusted · tool:lookup_order');
    expect(page).toContain('trusted · task');
    expect(page.match(/<details class="span" data-span="chat dashboard-script"/g)?.length).toBe(2);
    expect(page).toMatch(/data-span="execute_tool lookup_order"/);
    expect(page).toMatch(/<span class="num">\d+ \/ \d+<\/span><span class="num">\$0\.\d+<\/span>/);
    expect(page).toContain('Raw journal · ');
    expect(page).toContain(`keel --store sqlite::memory: replay ${desk}`);
    expect((await client.get('/runs/run_missing')).status).toBe(404);
  });

  it("shows each run's agent version, and marks a shadow run with a link to its production run", async () => {
    const s = await setup();
    const candidate = defineAgent({
      name: 'desk',
      version: 'desk-candidate-2',
      instructions: 'Answer support tickets, briefly.',
      model: simulator({ script: [{ text: 'On its way.' }] }),
    });
    await s.runtime.shadows.start({ agent: 'desk', candidate, share: 1 });
    const desk = await s.runDeskTicket();
    let shadowRunId: string | undefined;
    for (let tries = 0; tries < 1_000 && shadowRunId === undefined; tries++) {
      const pair = (await s.store.shadows.pairs()).find((each) => each.runId === desk);
      if (pair && (await s.store.getRun(pair.candidateRunId))?.status === 'succeeded')
        shadowRunId = pair.candidateRunId;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (shadowRunId === undefined) throw new Error('no shadow run');
    const production = s.agents.find((agent) => agent.name === 'desk')?.version ?? '';
    const client = await signInAs(s.app, s.tokens.admin);

    const list = await html(client.get('/'));
    const row = (runId: string) =>
      new RegExp(`<tr data-run-id="${runId}">[\\s\\S]*?</tr>`).exec(list)?.[0] ?? '';
    expect(row(shadowRunId)).toContain(
      `<div class="shadow-of">shadow of <a href="/runs/${desk}"><code>${desk}</code></a></div>`,
    );
    expect(row(shadowRunId)).toContain('<div class="version"><code>desk-candidate-2</code></div>');
    expect(row(desk)).toContain(`<div class="version"><code>${production}</code></div>`);
    expect(row(desk)).not.toContain('shadow-of');

    const shadowPage = await html(client.get(`/runs/${shadowRunId}`));
    expect(shadowPage).toContain('<dt>Shadow of</dt>');
    expect(shadowPage).toContain(`<a href="/runs/${desk}"><code>${desk}</code></a>`);
    expect(shadowPage).toContain('<code>desk-candidate-2</code>');
    const productionPage = await html(client.get(`/runs/${desk}`));
    expect(productionPage).toContain(`<dd class="version"><code>${production}</code></dd>`);
    expect(productionPage).not.toContain('<dt>Shadow of</dt>');
  });

  it('replays a run and forks it from a step, for an approver', async () => {
    const s = await setup();
    const desk = await s.runDeskTicket();
    const client = await signInAs(s.app, s.tokens.support);
    const replay = await client.post(`/runs/${desk}/replay`);
    expect(replay.status).toBe(200);
    expect(await replay.text()).toMatch(/Replay identical: \d+ events compared\./);
    const fork = await client.post(`/runs/${desk}/fork`, { fromStep: '1' });
    expect(fork.status).toBe(303);
    const forkId = decodeURIComponent((fork.headers.get('location') ?? '').replace('/runs/', ''));
    await waitForStatus(s, forkId, 'succeeded');
    const forked = await html(client.get(`/runs/${forkId}`));
    expect(forked).toContain(`href="/runs/${desk}"`);
    expect(forked).toContain('from step 1');
    const badStep = await client.post(`/runs/${desk}/fork`, { fromStep: '99' });
    expect(badStep.status).toBe(400);
  });

  it('shows costs per day, agent and model, the baselines and the alerts', async () => {
    const s = await setup();
    for (let ticket = 0; ticket < 6; ticket += 1) await s.runDeskTicket(`Where is B-${ticket}?`);
    const client = await signInAs(s.app, s.tokens.admin);
    const costs = await html(client.get('/costs?days=1'));
    expect(costs).toContain('6 runs: $');
    expect(costs).toContain('data-chart="Cost per agent"');
    expect(costs).toContain('<th>simulator:dashboard-script</th>');
    expect(costs).toMatch(/<td>desk<\/td><td>iterations<\/td><td class="num">2<\/td>/);
    const alerts = await client.get('/alerts?days=7');
    expect(alerts.status).toBe(200);
    expect(await alerts.text()).toContain('No alerts in this window.');
    expect((await client.get('/costs?days=2')).status).toBe(400);
    for (const path of ['/costs?agent=desk', '/alerts?days=7&days=30', '/queue?state=pending']) {
      expect([path, (await client.get(path)).status]).toEqual([path, 400]);
    }
  });
});

describe('dashboard approvals', () => {
  async function decide(
    client: DashboardClient,
    approvalId: string,
    fields: Record<string, string>,
  ): Promise<Response> {
    return client.post(`/queue/${approvalId}/decision`, fields);
  }

  it('approves from the queue: the parked run resumes and succeeds', async () => {
    const s = await setup();
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.finance);
    const queue = await html(client.get('/queue'));
    expect(queue).toContain(`data-approval-id="${approval.id}"`);
    expect(queue).toContain(approval.argsHash);
    expect(queue).toContain('the tool&#39;s effect is irreversible');
    const decided = await decide(client, approval.id, {
      decision: 'approve',
      argsHash: approval.argsHash,
      reason: 'checked',
    });
    expect([decided.status, decided.headers.get('location')]).toEqual([
      303,
      `/queue?decided=${approval.id}`,
    ]);
    expect(await html(client.get(decided.headers.get('location') ?? ''))).toContain(
      `${approval.id} approved by fin`,
    );
    await waitForStatus(s, approval.runId, 'succeeded');
    expect(s.refunds).toEqual([{ orderId: XSS.argument, amountCents: 900 }]);
  });

  it('approves with edited arguments only when they fit the tool schema', async () => {
    const s = await setup();
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.finance);
    const notJson = await decide(client, approval.id, {
      decision: 'approve',
      argsHash: approval.argsHash,
      editedArgs: '{orderId:',
    });
    const wrongShape = await decide(client, approval.id, {
      decision: 'approve',
      argsHash: approval.argsHash,
      editedArgs: '{"orderId": "A-1", "amountCents": -5}',
    });
    expect([notJson.status, wrongShape.status]).toEqual([400, 400]);
    expect(await notJson.text()).toContain(
      'invalid_input: the edited arguments are not valid JSON',
    );
    const shape = await wrongShape.text();
    expect(shape).toContain('edited arguments do not match issue_refund&#39;s input schema');
    // What the approver typed is kept for them to correct.
    expect(shape).toContain('{&quot;orderId&quot;: &quot;A-1&quot;, &quot;amountCents&quot;: -5}');
    expect((await s.store.getRun(approval.runId))?.status).toBe('waiting');
    const edited = await decide(client, approval.id, {
      decision: 'approve',
      argsHash: approval.argsHash,
      editedArgs: '{"orderId": "A-1", "amountCents": 500}',
    });
    expect(edited.status).toBe(303);
    await waitForStatus(s, approval.runId, 'succeeded');
    expect(s.refunds).toEqual([{ orderId: 'A-1', amountCents: 500 }]);
  });

  it('refuses a stale hash, a missing CSRF token and a cross-site post; nothing runs', async () => {
    const s = await setup();
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.finance);
    const fields = { decision: 'approve', argsHash: approval.argsHash };
    const stale = await decide(client, approval.id, { ...fields, argsHash: 'f'.repeat(32) });
    const noToken = await client.post(`/queue/${approval.id}/decision`, { ...fields, _csrf: '' });
    const crossSite = await client.post(`/queue/${approval.id}/decision`, fields, {
      origin: 'https://evil.example',
    });
    expect([stale.status, noToken.status, crossSite.status]).toEqual([409, 403, 403]);
    expect(await stale.text()).toContain('stale or replayed decision');
    expect((await s.store.getRun(approval.runId))?.status).toBe('waiting');
    expect(s.refunds).toEqual([]);
  });

  it('lets a viewer look but not act, and shows nobody the groups they are not in', async () => {
    const s = await setup();
    const desk = await s.runDeskTicket();
    const approval = await s.parkRefund();
    const viewer = await signInAs(s.app, s.tokens.financeViewer);
    const queue = await html(viewer.get('/queue'));
    expect(queue).toContain(`data-approval-id="${approval.id}"`);
    expect(queue).not.toContain('action="/queue/');
    const refused = await decide(viewer, approval.id, {
      decision: 'approve',
      argsHash: approval.argsHash,
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('vic is a viewer');
    expect((await viewer.post(`/runs/${approval.runId}/replay`)).status).toBe(403);
    expect((await s.store.getRun(approval.runId))?.status).toBe('waiting');

    // Finance sees the refunds agent's runs only; support the desk's only; an admin both.
    const support = await signInAs(s.app, s.tokens.support);
    const admin = await signInAs(s.app, s.tokens.admin);
    expect([
      listedRuns(await html(viewer.get('/'))),
      listedRuns(await html(viewer.get('/?agent=desk'))),
      listedRuns(await html(support.get('/'))),
      listedRuns(await html(admin.get('/'))),
    ]).toEqual([[approval.runId], [], [desk], [approval.runId, desk]]);
    expect((await viewer.get(`/runs/${desk}`)).status).toBe(404);
    expect((await support.get(`/runs/${approval.runId}`)).status).toBe(404);
    const supportPages = [
      await html(support.get('/queue')),
      await html(support.get('/costs')),
      await html(support.get('/alerts')),
    ].join('\n');
    expect(supportPages).not.toContain(approval.id);
    expect(supportPages).not.toContain('refunds');
    expect(supportPages).not.toContain('A-1');
    expect(
      await decide(support, approval.id, { decision: 'approve', argsHash: approval.argsHash }),
    ).toHaveProperty('status', 403);
  });

  it('streams the queue live: a new approval arrives as a server-sent event', async () => {
    const s = await setup();
    const client = await signInAs(s.app, s.tokens.finance);
    const controller = new AbortController();
    const live = await s.app.request('/live/queue', {
      headers: { cookie: client.cookie },
      signal: controller.signal,
    });
    expect(live.headers.get('content-type')).toContain('text/event-stream');
    const reader = live.body!.pipeThrough(new TextDecoderStream()).getReader();
    let received = '';
    const until = async (text: string): Promise<void> => {
      while (!received.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${text}`);
        received += value;
      }
    };
    await until('Nothing is waiting for your groups.');
    const approval = await s.parkRefund();
    await until(`data-approval-id="${approval.id}"`);
    expect(received).toContain('event: queue');
    controller.abort();
    await reader.cancel().catch(() => undefined);
  });
});

describe('dashboard escaping', () => {
  it('renders every model output, tool argument and result as text on every page', async () => {
    const s = await setup();
    const approval = await s.parkRefund();
    const client = await signInAs(s.app, s.tokens.finance);
    const decided = await client.post(`/queue/${approval.id}/decision`, {
      decision: 'approve',
      argsHash: approval.argsHash,
      reason: XSS.reason,
    });
    expect(decided.status).toBe(303);
    await waitForStatus(s, approval.runId, 'succeeded');
    const second = await s.parkRefund();
    const pages = [
      await html(client.get('/')),
      await html(client.get(`/?q=${encodeURIComponent(XSS.task)}`)),
      await html(client.get(`/runs/${approval.runId}`)),
      await html(client.get(`/runs/${second.runId}`)),
      await html(client.get('/queue')),
      await html(client.get('/costs')),
      await html(client.get('/alerts')),
    ].join('\n');
    for (const markup of ['<img src=x', '<script>window', '<svg onload', '<iframe', '<b>bold']) {
      expect([markup, pages.includes(markup)]).toEqual([markup, false]);
    }
    expect(pages).toContain('&lt;img src=x onerror=&quot;window.__xss=&#39;task&#39;&quot;&gt;');
    expect(pages).toContain('&lt;/pre&gt;&lt;svg onload=');
    expect(pages).toContain('&lt;iframe src=&quot;javascript:');
    // The only scripts on any page are the dashboard's own file (the queue's and the parked
    // run's live views).
    const own = '<script src="/assets/live.js" defer="">';
    expect([...pages.matchAll(/<script[^>]*>/g)].map((match) => match[0])).toEqual([own, own]);
  });
});
