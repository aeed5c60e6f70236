import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { keelApp } from '../index.js';
import { listen } from '../listen.js';
import {
  SCREENSHOTS,
  launchBrowser,
  screenshot,
  signIn,
  type Browser,
} from '../__tests__/browser.js';
import { dashboardFixture, XSS, type DashboardFixture } from '../__tests__/dashboard-fixture.js';

/*
 * The dashboard in Chromium on runs full of HTML and script payloads: nothing of them runs or
 * renders as markup on any page, a viewer cannot act, the approval queue updates live, and no
 * page loads more than the JavaScript budget.
 */

const JS_BUDGET_BYTES = 250 * 1024;

let fixture: DashboardFixture;
let server: { url: string; close(): Promise<void> };
let closeApp: () => void;
let browser: Browser;
let deskRun: string;
let refundRun: string;
let parkedRun: string;

beforeAll(async () => {
  fixture = await dashboardFixture();
  const { app, close } = keelApp({ runtime: fixture.runtime, livePollMs: 100 });
  closeApp = close;
  server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
  deskRun = await fixture.runDeskTicket();
  // One refund approved (with a hostile reason) to the end, one left waiting.
  const first = await fixture.parkRefund();
  await fixture.runtime.approvals.decide({
    token: fixture.tokens.finance,
    id: first.id,
    decision: 'approve',
    argsHash: first.argsHash,
    reason: XSS.reason,
  });
  await fixture.runtime.wait(first.runId, { pollMs: 10 });
  refundRun = first.runId;
  parkedRun = (await fixture.parkRefund()).runId;
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  closeApp?.();
  await server?.close();
  await fixture?.close();
});

/** Open every part of a page that hides content (spans, journal entries). */
async function openAllDetails(page: Page): Promise<void> {
  await page.locator('details').evaluateAll((elements) => {
    for (const details of elements) (details as { open: boolean }).open = true;
  });
}

describe('dashboard in the browser', () => {
  it('keeps HTML and script payloads inert on every page', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await signIn(page, server.url, fixture.tokens.admin);
    const paths = [
      '/',
      `/?q=${encodeURIComponent('refund please')}`,
      `/runs/${refundRun}`,
      `/runs/${parkedRun}`,
      `/runs/${deskRun}`,
      '/queue',
      '/costs',
      '/alerts',
    ];
    const text: string[] = [];
    for (const path of paths) {
      await page.goto(`${server.url}${path}`);
      await openAllDetails(page);
      const found = {
        xss: await page.evaluate(() => (globalThis as { __xss?: string }).__xss ?? null),
        injected: await page
          .locator('img, iframe, b, svg[onload], script:not([src])')
          .evaluateAll((elements) => elements.map((element) => element.outerHTML)),
        scripts: await page
          .locator('script')
          .evaluateAll((elements) => elements.map((element) => (element as { src: string }).src)),
      };
      expect({
        path,
        ...found,
        scripts: found.scripts.map((src) => new URL(src).pathname),
      }).toEqual({
        path,
        xss: null,
        injected: [],
        // The live views: the queue, and a run not finished yet.
        scripts: path === '/queue' || path === `/runs/${parkedRun}` ? ['/assets/live.js'] : [],
      });
      text.push(await page.locator('body').innerText());
    }
    const all = text.join('\n');
    // The payloads are there, as the words they are.
    for (const payload of [
      XSS.task,
      XSS.output,
      XSS.reason,
      `<script>window.__xss='result'</script>`,
    ]) {
      expect([payload, all.includes(payload)]).toEqual([payload, true]);
    }
    expect(dialogs).toEqual([]);
    await page.goto(`${server.url}/runs/${refundRun}`);
    await page.locator('details.span').nth(1).locator('summary').click();
    await screenshot(page, 'run-with-payloads');
    await page.close();
  });

  it('shows a viewer the queue but refuses the viewer an approval, even posted by hand', async () => {
    const page = await browser.newPage();
    await signIn(page, server.url, fixture.tokens.financeViewer);
    await page.goto(`${server.url}/queue`);
    const card = page.locator('article.approval');
    expect(await card.count()).toBe(1);
    expect(await card.locator('button').count()).toBe(0);
    const approval = (await fixture.store.approvals.list({ runId: parkedRun }))[0]!;
    // The viewer's own session and CSRF token, the approver's form: refused all the same.
    const csrf = await page.locator('input[name=_csrf]').first().inputValue();
    const status = await page.evaluate(
      async ({ id, argsHash, csrf }) => {
        const response = await fetch(`/queue/${id}/decision`, {
          method: 'POST',
          body: new URLSearchParams({ _csrf: csrf, decision: 'approve', argsHash }),
        });
        return [response.status, await response.text()] as const;
      },
      { id: approval.id, argsHash: approval.argsHash, csrf },
    );
    expect(status[0]).toBe(403);
    expect(status[1]).toContain('vic is a viewer');
    expect((await fixture.store.getRun(parkedRun))?.status).toBe('waiting');
    await page.goto(`${server.url}/`);
    expect(await page.locator('tr[data-run-id] td:nth-child(2) .agent').allTextContents()).toEqual([
      'refunds',
      'refunds',
    ]);
    const hidden = await page.goto(`${server.url}/runs/${deskRun}`);
    expect(hidden?.status()).toBe(404);
    await page.close();
  });

  it('adds a new approval to an open queue live, keeping what the approver typed', async () => {
    const page = await browser.newPage();
    await signIn(page, server.url, fixture.tokens.finance);
    await page.goto(`${server.url}/queue`);
    await page.waitForSelector('#live-status[data-live=on]');
    const shown = await page.locator('article.approval').first().getAttribute('data-approval-id');
    const typed = page.locator(`[data-approval-id="${shown ?? ''}"] textarea[name=reason]`);
    await typed.fill('half-written reason');
    const count = await page.locator('article.approval').count();
    const approval = await fixture.parkRefund('Refund A-9 today');
    await page.waitForSelector(`[data-approval-id="${approval.id}"]`);
    expect(await page.locator('article.approval').count()).toBe(count + 1);
    expect(await page.locator('#pending-count').textContent()).toBe(String(count + 1));
    expect(await typed.inputValue()).toBe('half-written reason');
    await screenshot(page, 'queue-live');
    await page.close();
  });

  it('loads at most 250 KB of JavaScript (gzipped) on any page', async () => {
    const page = await browser.newPage();
    await signIn(page, server.url, fixture.tokens.admin);
    const weights: Record<string, { scripts: number; css: number; html: number }> = {};
    const sections = [
      ['login', '/login'],
      ['runs', '/'],
      ['run', `/runs/${refundRun}`],
      ['queue', '/queue'],
      ['costs', '/costs'],
      ['alerts', '/alerts'],
    ] as const;
    for (const [name, path] of sections) {
      const weight = { scripts: 0, css: 0, html: 0 };
      const pending: Promise<void>[] = [];
      const onResponse = (response: import('playwright-core').Response): void => {
        const type = response.request().resourceType();
        // The live queue's event stream never ends: only files are weighed.
        if (!['script', 'stylesheet', 'document'].includes(type)) return;
        pending.push(
          response.body().then(
            (body) => {
              const gzipped = gzipSync(body).length;
              if (type === 'script') weight.scripts += gzipped;
              else if (type === 'stylesheet') weight.css += gzipped;
              else if (type === 'document') weight.html += gzipped;
            },
            () => undefined,
          ),
        );
      };
      const fresh = await browser.context.newPage();
      fresh.on('response', onResponse);
      await fresh.goto(`${server.url}${path}`, { waitUntil: 'load' });
      if (name === 'queue') await fresh.waitForSelector('#live-status[data-live=on]');
      await Promise.all(pending);
      await screenshot(fresh, name);
      await fresh.close();
      weights[name] = weight;
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    writeFileSync(
      join(SCREENSHOTS, '..', 'page-weight.json'),
      `${JSON.stringify(weights, null, 2)}\n`,
    );
    console.log(`page weight (gzipped bytes): ${JSON.stringify(weights)}`);
    for (const [name, weight] of Object.entries(weights)) {
      expect([name, weight.scripts <= JS_BUDGET_BYTES]).toEqual([name, true]);
    }
    expect(weights.queue?.scripts).toBeGreaterThan(0);
    expect(weights.runs?.scripts).toBe(0);
    await page.close();
  });
});
