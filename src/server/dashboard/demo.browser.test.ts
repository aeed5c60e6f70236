import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TASKS, supportDeskAgents } from '../../../examples/support-desk/agents.js';
import { runDemo } from '../../../examples/support-desk/demo.js';
import { createApprovals } from '../../approval/index.js';
import { createRuntime } from '../../engine/index.js';
import { openStore, type Store } from '../../store/index.js';
import { storeLocations } from '../../store/__tests__/store-locations.js';
import { launchBrowser, screenshot, signIn, type Browser } from '../__tests__/browser.js';
import { startServe, type ServeProcess } from '../__tests__/serve-process.js';

/*
 * `npm run demo && keel serve`, in Chromium: the demo's runs on the dashboard, a run's trace,
 * the list filtered, and a refund the demo's agents park for the finance group approved from
 * the page, after which `keel serve --worker` resumes it to `succeeded`. SQLite and PostgreSQL.
 */

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = [
  { name: 'sqlite', url: () => locations.sqliteFile() },
  { name: 'postgres', url: () => locations.postgres('keel_ui') },
];

describe.each(BACKENDS)('the dashboard on the demo ($name)', ({ name, url }) => {
  let storeUrl: string;
  let store: Store;
  let serve: ServeProcess;
  let browser: Browser;
  const tokens = { admin: '', finance: '' };

  beforeAll(async () => {
    storeUrl = url();
    const report = await runDemo({ storeUrl, json: true, log: () => undefined });
    expect(report.asExpected).toBe(true);
    store = await openStore(storeUrl);
    const approvals = createApprovals({ store });
    tokens.admin = (await approvals.addApprover({ name: 'ops', groups: [], role: 'admin' })).token;
    // The demo made "dana" already; approver names are unique.
    tokens.finance = (await approvals.addApprover({ name: 'erin', groups: ['finance'] })).token;
    serve = await startServe(storeUrl, ['--worker']);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
    await store?.close();
  });

  it("lists the demo's runs and shows a run's trace with tokens and cost per span", async () => {
    const page = await browser.newPage();
    await signIn(page, serve.url, tokens.admin);
    const rows = page.locator('table.runs tbody tr');
    // The demo's five runs and the shadow run its refunds candidate made of one of them.
    expect(await rows.count()).toBe(6);
    const agents = await page.locator('tr[data-run-id] td:nth-child(2) .agent').allTextContents();
    expect([...agents].sort()).toEqual([
      'general',
      'payments',
      'refunds',
      'refunds',
      'refunds',
      'refunds',
    ]);
    // Each run shows its agent version; the shadow run links to the production run it repeats.
    expect(await page.locator('tr[data-run-id] td:nth-child(2) .version code').count()).toBe(6);
    const shadowOf = page.locator('tr[data-run-id] .shadow-of a');
    expect(await shadowOf.count()).toBe(1);
    const production = (await shadowOf.getAttribute('href')) ?? '';
    expect(production).toMatch(/^\/runs\/run_/);
    expect(
      await page.locator(`tr[data-run-id] > td:first-child > a[href="${production}"]`).count(),
    ).toBe(1);
    if (name === 'sqlite') await screenshot(page, 'demo-runs');

    await page.locator('tr[data-run-id]').last().locator('a').first().click();
    await page.waitForURL(/\/runs\/run_/);
    expect(await page.locator('h1 .badge').textContent()).toBe('succeeded');
    const chat = page.locator('details.span[data-kind="client"]').first();
    const usage = await chat.locator('summary > span.num').allTextContents();
    expect(usage[1]).toMatch(/^[\d,]+ \/ [\d,]+$/);
    expect(usage[2]).toMatch(/^\$0\.\d+$/);
    const attributes = chat.locator('.span-body');
    expect(await attributes.isVisible()).toBe(false);
    await chat.locator('summary').click();
    await attributes.waitFor({ state: 'visible' });
    expect(await attributes.locator('th').allTextContents()).toContain('gen_ai.usage.input_tokens');
    expect(await page.locator('.msg.tool .badge.trust').first().textContent()).toMatch(
      /trusted|untrusted/,
    );
    if (name === 'sqlite') {
      await screenshot(page, 'demo-run');
      await screenshot(page, 'demo-trace', 'section:has(.waterfall)');
    }
    await page.close();
  });

  it('filters the list by status and by words of the task', async () => {
    const page = await browser.newPage();
    await signIn(page, serve.url, tokens.admin);
    await page.selectOption('select[name=status]', 'stopped');
    await Promise.all([page.waitForURL(/status=stopped/), page.click('.filters button')]);
    expect(await page.locator('tr[data-run-id] td:nth-child(2) .agent').allTextContents()).toEqual([
      'general',
    ]);
    await page.goto(`${serve.url}/`);
    await page.fill('input[name=q]', 'ORD-1005');
    await Promise.all([page.waitForURL(/q=ORD-1005/), page.click('.filters button')]);
    expect(await page.locator('tr[data-run-id] td.task').allTextContents()).toEqual([
      expect.stringContaining('ORD-1005'),
    ]);
    await page.close();
  });

  it('approves a parked demo refund from the queue; the run resumes and succeeds', async () => {
    // The desk's refund over the limit, queued: `keel serve --worker` executes it and parks it.
    const submitter = createRuntime({ store, agents: supportDeskAgents });
    const record = await submitter.submit('refunds', DEMO_TASKS.largeRefund);
    await submitter.close();
    const approval = await poll(async () => {
      const [pending] = await store.approvals.list({ runId: record.id, states: ['pending'] });
      return pending && (await store.getRun(record.id))?.status === 'waiting' ? pending : undefined;
    });

    const page = await browser.newPage();
    await signIn(page, serve.url, tokens.finance);
    await page.goto(`${serve.url}/queue`);
    const card = page.locator(`[data-approval-id="${approval.id}"]`);
    expect(await card.locator('.hash').textContent()).toBe(approval.argsHash);
    expect(await card.locator('dd').first().textContent()).toMatch(/policy|limit|refund/i);
    if (name === 'sqlite') await screenshot(page, 'demo-queue');
    await card.locator('textarea[name=reason]').fill('receipt checked');
    await Promise.all([
      page.waitForURL(/\/queue\?decided=/),
      card.locator('button[value=approve]').click(),
    ]);
    expect(await page.locator('.notice').textContent()).toContain(
      `${approval.id} approved by erin`,
    );

    await poll(async () =>
      (await store.getRun(record.id))?.status === 'succeeded' ? true : undefined,
    );
    await page.goto(`${serve.url}/runs/${record.id}`);
    expect(await page.locator('h1 .badge').textContent()).toBe('succeeded');
    expect(await page.locator('.msg.tool').allTextContents()).toContainEqual(
      expect.stringContaining('issue_refund'),
    );
    if (name === 'sqlite') {
      await page.goto(`${serve.url}/costs`);
      await screenshot(page, 'demo-costs');
      await page.goto(`${serve.url}/alerts`);
      await screenshot(page, 'demo-alerts');
    }
    await page.close();
  });
});

async function poll<T>(probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
