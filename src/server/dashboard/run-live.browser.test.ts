import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../../agent/index.js';
import { createRuntime, type Runtime } from '../../engine/index.js';
import { gatedModel } from '../../engine/__tests__/gated-model.js';
import { openStore, type Store } from '../../store/index.js';
import { keelApp } from '../index.js';
import { listen } from '../listen.js';
import { launchBrowser, screenshot, signIn, type Browser } from '../__tests__/browser.js';

/*
 * The dashboard as a reference client of the run stream: a run's page, opened while the model
 * is mid-reply, shows the text so far, then each piece as it arrives, then the end.
 */

const REPLY = 'Checking your order now.';
const model = gatedModel([{ text: REPLY }], 4);
let store: Store;
let runtime: Runtime;
let server: { url: string; close(): Promise<void> };
let closeApp: () => void;
let browser: Browser;
let token: string;
let viewerToken: string;

beforeAll(async () => {
  store = await openStore('sqlite::memory:');
  runtime = createRuntime({
    store,
    agents: [
      defineAgent({
        name: 'support',
        instructions: 'Answer about orders.',
        model,
        gates: { approverGroup: 'support' },
      }),
    ],
  });
  token = (await runtime.approvals.addApprover({ name: 'ada', groups: ['support'], role: 'admin' }))
    .token;
  viewerToken = (
    await runtime.approvals.addApprover({ name: 'vic', groups: ['support'], role: 'viewer' })
  ).token;
  const { app, close } = keelApp({ runtime });
  closeApp = close;
  server = await listen(app.fetch, { port: 0, host: '127.0.0.1' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  closeApp?.();
  await server?.close();
  await runtime?.close();
  await store?.close();
});

describe("a run's page, live", () => {
  it('shows the text so far, then each piece as it arrives, then the end', async () => {
    const running = runtime.run('support', 'Where is order A-1?', { runId: 'run_live' });
    while (!(await store.getRun('run_live'))) await new Promise((resolve) => setImmediate(resolve));
    // A viewer is shown each step's text once it is complete and redacted: a secret can be
    // split across two pieces, so the pieces go to an admin only.
    const viewerPage = await browser.newPage();
    await signIn(viewerPage, server.url, viewerToken);
    await viewerPage.goto(`${server.url}/runs/run_live`);
    const page = await browser.newPage();
    await signIn(page, server.url, token);
    await page.goto(`${server.url}/runs/run_live`);
    const text = page.locator('#run-live-text');
    // The first piece is out and held: it comes as the catch-up.
    await expect.poll(() => text.textContent()).toBe('Chec');
    expect(await viewerPage.locator('#run-live-text').textContent()).toBe('');
    model.release();
    await expect.poll(() => text.textContent()).toBe('Checking');
    for (let piece = 0; piece < 6; piece++) model.release();
    const result = await running;
    expect(result.output).toBe(REPLY);
    await expect.poll(() => text.textContent()).toBe(REPLY);
    await expect.poll(() => page.locator('#run-live-status').textContent()).toContain('finished');
    expect(await page.locator('#run-live-events li').allTextContents()).toEqual([
      'step 0',
      'succeeded',
    ]);
    await screenshot(page, 'run-live', '#run-live');
    await page.close();
    await expect.poll(() => viewerPage.locator('#run-live-text').textContent()).toBe(REPLY);
    await viewerPage.close();
  });
});
