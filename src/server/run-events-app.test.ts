import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import {
  createRuntime,
  isJournaledStreamEvent,
  type RunStreamEvent,
  type Runtime,
  type RuntimeOptions,
} from '../engine/index.js';
import { gatedModel } from '../engine/__tests__/gated-model.js';
import { textsFromDeltas } from '../engine/__tests__/stream-text.js';
import { KeelError } from '../core/index.js';
import { resolveModel, simulator, type ModelAdapterV1 } from '../model/index.js';
import { openStore } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { keelApp } from './index.js';
import { readSse } from './__tests__/sse-client.js';
import { signInAs } from './__tests__/dashboard-client.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const lookup = defineTool({
  name: 'lookup_order',
  description: 'Look up an order',
  input: z.object({ orderId: z.string() }),
  effect: 'read',
  run: ({ orderId }) => Promise.resolve({ orderId, status: 'shipped' }),
});

const TURNS = [
  { text: 'Checking.', toolCalls: [{ name: 'lookup_order', args: { orderId: 'A-1' } }] },
  { text: 'It shipped Tuesday.' },
];

async function setup(
  model: ModelAdapterV1 = simulator({ script: TURNS }),
  options: Pick<RuntimeOptions, 'resolveModel'> = {},
) {
  const store = await openStore('sqlite::memory:');
  const support = defineAgent({
    name: 'support',
    instructions: 'Answer about orders.',
    model,
    tools: [lookup],
    gates: { approverGroup: 'support' },
  });
  const billing = defineAgent({
    name: 'billing',
    instructions: 'Answer about invoices.',
    model: simulator({ script: [{ text: 'Paid.' }] }),
    gates: { approverGroup: 'finance' },
  });
  const runtime = createRuntime({ store, agents: [support, billing], ...options });
  const { app, close } = keelApp({ runtime, limits: { requestsPerMinute: 100_000 } });
  const tokens = {
    admin: (await runtime.approvals.addApprover({ name: 'root', groups: [], role: 'admin' })).token,
    supportViewer: (
      await runtime.approvals.addApprover({ name: 'vic', groups: ['support'], role: 'viewer' })
    ).token,
    financeViewer: (
      await runtime.approvals.addApprover({ name: 'fay', groups: ['finance'], role: 'viewer' })
    ).token,
    approver: (await runtime.approvals.addApprover({ name: 'ana', groups: ['support'] })).token,
  };
  cleanups.push(async () => {
    close();
    await runtime.close();
    await store.close();
  });
  return { runtime, app, tokens };
}

function events(
  app: ReturnType<typeof keelApp>['app'],
  runId: string,
  token?: string,
  last?: string,
) {
  return app.request(`/runs/${runId}/events`, {
    headers: {
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...(last === undefined ? {} : { 'last-event-id': last }),
    },
  });
}

/** Until the run's row exists (a run started with `run` is created asynchronously). */
async function created(runtime: Runtime, runId: string): Promise<void> {
  while (!(await runtime.store.getRun(runId)))
    await new Promise((resolve) => setImmediate(resolve));
}

async function finishedRun(runtime: Runtime) {
  return runtime.run('support', 'Where is order A-1?');
}

describe('GET /runs/:id/events', () => {
  it('is 401 without a token or with a wrong one, and says nothing about the run', async () => {
    const { runtime, app } = await setup();
    const result = await finishedRun(runtime);
    const none = await events(app, result.id);
    const wrong = await events(app, result.id, 'not-a-token');
    expect([none.status, wrong.status]).toEqual([401, 401]);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it("is 403 for a viewer outside the run's agent scope, 200 for one inside it and for an admin", async () => {
    const { runtime, app, tokens } = await setup();
    const result = await finishedRun(runtime);
    const outside = await events(app, result.id, tokens.financeViewer);
    expect(outside.status).toBe(403);
    expect(await outside.json()).toMatchObject({ error: { code: 'forbidden' } });
    for (const token of [tokens.supportViewer, tokens.admin]) {
      const allowed = await events(app, result.id, token);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(allowed.headers.get('x-content-type-options')).toBe('nosniff');
      const seen: RunStreamEvent[] = [];
      for await (const message of readSse(allowed.body ?? new ReadableStream()))
        seen.push(JSON.parse(message.data) as RunStreamEvent);
      expect(seen.at(-1)).toMatchObject({ type: 'run_finished', result });
    }
  });

  it('is 404 for an unknown run and 400 for a Last-Event-ID that is not a sequence number', async () => {
    const { runtime, app, tokens } = await setup();
    const result = await finishedRun(runtime);
    expect((await events(app, 'no-such-run', tokens.admin)).status).toBe(404);
    const bad = await events(app, result.id, tokens.admin, 'abc');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_input' } });
  });

  it('is 400 for a query parameter, which it does not take, naming it', async () => {
    const { runtime, app, tokens } = await setup();
    const result = await finishedRun(runtime);
    for (const query of ['after=3', 'after=3&after=4']) {
      const response = await app.request(`/runs/${result.id}/events?${query}`, {
        headers: { authorization: `Bearer ${tokens.admin}` },
      });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({
        error: { code: 'invalid_input', message: expect.stringContaining('"after"') as string },
      });
    }
  });

  it('resumes after any event with Last-Event-ID: every journaled event once, the whole text', async () => {
    /** One client read: until `cut` events (or the end), releasing the model on each delta. */
    async function read(
      app: ReturnType<typeof keelApp>['app'],
      runId: string,
      token: string,
      release: () => void,
      cut: number,
      last?: string,
    ) {
      const response = await events(app, runId, token, last);
      expect(response.status).toBe(200);
      const seen: { id: string; event: RunStreamEvent }[] = [];
      for await (const message of readSse(response.body ?? new ReadableStream())) {
        const event = JSON.parse(message.data) as RunStreamEvent;
        expect(message.id).toBe(String(event.seq));
        expect(message.event).toBe(event.type);
        seen.push({ id: message.id ?? '', event });
        if (event.type === 'text_delta') release();
        if (seen.length === cut) break;
      }
      return seen;
    }

    // The whole stream once, to know how many cut positions there are.
    const reference = await (async () => {
      const model = gatedModel(TURNS, 3);
      const { runtime, app, tokens } = await setup(model);
      const running = runtime.run('support', 'Where is order A-1?', { runId: 'reference' });
      await created(runtime, 'reference');
      const seen = await read(
        app,
        'reference',
        tokens.admin,
        () => {
          model.release();
        },
        Infinity,
      );
      return { seen, result: await running };
    })();
    const journaledSeqs = reference.seen
      .map(({ event }) => event)
      .filter(isJournaledStreamEvent)
      .map((event) => event.seq);
    expect(reference.seen.length).toBeGreaterThan(12);
    expect(reference.result.output).toBe('It shipped Tuesday.');

    for (let cut = 1; cut < reference.seen.length; cut++) {
      const model = gatedModel(TURNS, 3);
      const { runtime, app, tokens } = await setup(model);
      const runId = `cut-${cut}`;
      const running = runtime.run('support', 'Where is order A-1?', { runId });
      await created(runtime, runId);
      const release = (): void => {
        model.release();
      };
      const before = await read(app, runId, tokens.admin, release, cut);
      const lastId = before.at(-1)?.id;
      const after = await read(app, runId, tokens.admin, release, Infinity, lastId);
      const result = await running;
      const all = [...before, ...after].map(({ event }) => event);
      expect({
        cut,
        journaled: all.filter(isJournaledStreamEvent).map((event) => event.seq),
      }).toEqual({ cut, journaled: journaledSeqs });
      const texts = textsFromDeltas(
        after.map(({ event }) => event),
        textsFromDeltas(before.map(({ event }) => event)),
      );
      expect({ cut, text: texts.get(1)?.text }).toEqual({ cut, text: result.output });
      expect(all.at(-1)).toMatchObject({ type: 'run_finished', result });
    }
  });
});

describe('POST /runs', () => {
  function start(
    app: ReturnType<typeof keelApp>['app'],
    body: unknown,
    token?: string,
    type = 'application/json',
  ) {
    return app.request('/runs', {
      method: 'POST',
      headers: {
        'content-type': type,
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  it('queues a run for an admin and answers its id and stream URL, which streams it', async () => {
    const { runtime, app, tokens } = await setup();
    const response = await start(
      app,
      { agent: 'support', task: 'Where is order A-1?' },
      tokens.admin,
    );
    expect(response.status).toBe(201);
    const { runId, streamUrl } = (await response.json()) as { runId: string; streamUrl: string };
    expect(streamUrl).toBe(`/runs/${runId}/events`);
    expect(await runtime.store.getRun(runId)).toMatchObject({ status: 'queued', agent: 'support' });
    const worker = runtime.startWorker({ pollMs: 10 });
    cleanups.push(() => worker.stop());
    const stream = await app.request(streamUrl, {
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    const seen: RunStreamEvent[] = [];
    for await (const message of readSse(stream.body ?? new ReadableStream()))
      seen.push(JSON.parse(message.data) as RunStreamEvent);
    expect(seen.at(-1)).toMatchObject({
      type: 'run_finished',
      result: { status: 'succeeded', output: 'It shipped Tuesday.' },
    });
  });

  it('refuses approvers and viewers (403), strangers (401), and bad bodies (400, 404, 415)', async () => {
    const { app, tokens } = await setup();
    const body = { agent: 'support', task: 'Where is order A-1?' };
    expect((await start(app, body)).status).toBe(401);
    expect((await start(app, body, tokens.approver)).status).toBe(403);
    expect((await start(app, body, tokens.supportViewer)).status).toBe(403);
    expect((await start(app, { ...body, agent: 'nobody' }, tokens.admin)).status).toBe(404);
    expect((await start(app, { agent: 'support' }, tokens.admin)).status).toBe(400);
    expect((await start(app, { ...body, extra: 1 }, tokens.admin)).status).toBe(400);
    expect((await start(app, '{not json', tokens.admin)).status).toBe(400);
    expect((await start(app, body, tokens.admin, 'text/plain')).status).toBe(415);
  });

  it('refuses a model it cannot resolve as 400 invalid_input with the reason, and queues nothing', async () => {
    const resolve = (spec: string, agent: { model: ModelAdapterV1 }) =>
      resolveModel(spec, agent.model, { env: {}, onWarning: () => undefined });
    const { runtime, app, tokens } = await setup(undefined, { resolveModel: resolve });
    const body = { agent: 'support', task: 'Where is order A-1?' };
    for (const model of [
      'bogus',
      'nope:x',
      'anthropic:',
      'openai-compatible:notaurl#m',
      'anthropic:claude-sonnet-4-6',
      'openai:gpt-4.1-mini?timeoutMs=0',
    ]) {
      const reason = (() => {
        try {
          resolve(model, { model: simulator({ script: TURNS }) });
          return undefined;
        } catch (error) {
          return KeelError.isInstance(error) ? error.message : undefined;
        }
      })();
      expect(reason).toContain(model);
      const response = await start(app, { ...body, model }, tokens.admin);
      expect([model, response.status]).toEqual([model, 400]);
      expect(await response.json()).toEqual({ error: { code: 'invalid_input', message: reason } });
    }
    expect(await runtime.store.listRuns()).toEqual([]);

    const unresolved = await setup();
    const response = await start(
      unresolved.app,
      { ...body, model: 'openai:gpt-4.1-mini' },
      unresolved.tokens.admin,
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: {
        code: 'invalid_input',
        message: expect.stringContaining('no model resolver') as string,
      },
    });
  });

  it('refuses a query parameter, naming it: a run is described by its body', async () => {
    const { runtime, app, tokens } = await setup();
    const response = await app.request('/runs?model=bogus', {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'support', task: 'Where is order A-1?' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: { code: 'invalid_input', message: expect.stringContaining('"model"') as string },
    });
    expect(await runtime.store.listRuns()).toEqual([]);
  });

  it('keeps the request body limit', async () => {
    const { app, tokens } = await setup();
    const response = await start(
      app,
      { agent: 'support', task: 'x'.repeat(200_000) },
      tokens.admin,
    );
    expect(response.status).toBe(413);
  });
});

describe("the dashboard's live run view", () => {
  it('follows an unfinished run from its page for a signed-in viewer in scope', async () => {
    const { runtime, app, tokens } = await setup();
    const queued = await runtime.submit('support', 'Where is order A-1?');
    const viewer = await signInAs(app, tokens.supportViewer);
    const page = await (await viewer.get(`/runs/${queued.id}`)).text();
    expect(page).toContain(`id="run-live" data-run-id="${queued.id}"`);
    expect(page).toMatch(/<script src="\/assets\/live.js" defer(="")?><\/script>/);

    const worker = runtime.startWorker({ pollMs: 10 });
    cleanups.push(() => worker.stop());
    const live = await viewer.get(`/live/runs/${queued.id}/events`);
    expect(live.status).toBe(200);
    const seen: RunStreamEvent[] = [];
    for await (const message of readSse(live.body ?? new ReadableStream()))
      seen.push(JSON.parse(message.data) as RunStreamEvent);
    expect(seen.at(-1)).toMatchObject({
      type: 'run_finished',
      result: { status: 'succeeded', output: 'It shipped Tuesday.' },
    });
    const finished = await (await viewer.get(`/runs/${queued.id}`)).text();
    expect(finished).not.toContain('id="run-live"');
  });

  it('is 401 without a session and 404 for a viewer outside the run agent scope', async () => {
    const { runtime, app, tokens } = await setup();
    const result = await finishedRun(runtime);
    expect((await app.request(`/live/runs/${result.id}/events`)).status).toBe(401);
    const outside = await signInAs(app, tokens.financeViewer);
    expect((await outside.get(`/live/runs/${result.id}/events`)).status).toBe(404);
  });
});

describe("a run's secrets over HTTP", () => {
  it('are redacted for viewers in the stream API, the live view and the run page, and shown to admins', async () => {
    const { runtime, app, tokens } = await setup();
    const CARD = '4111 1111 1111 1111';
    const result = await runtime.run('support', `Where is order A-1? Card ${CARD}`);
    const streamed = async (response: Response) => {
      expect(response.status).toBe(200);
      const messages: string[] = [];
      for await (const message of readSse(response.body ?? new ReadableStream()))
        messages.push(message.data);
      return messages.join('\n');
    };
    const viewer = await signInAs(app, tokens.supportViewer);
    const admin = await signInAs(app, tokens.admin);
    const hidden = [
      await streamed(await events(app, result.id, tokens.supportViewer)),
      await streamed(await viewer.get(`/live/runs/${result.id}/events`)),
      await (await viewer.get(`/runs/${result.id}`)).text(),
    ];
    for (const view of hidden) {
      expect(view).not.toContain(CARD);
      expect(view).toContain('[redacted:card_number]');
    }
    const shown = [
      await streamed(await events(app, result.id, tokens.admin)),
      await streamed(await admin.get(`/live/runs/${result.id}/events`)),
      await (await admin.get(`/runs/${result.id}`)).text(),
    ];
    for (const view of shown) expect(view).toContain(CARD);
  });
});
