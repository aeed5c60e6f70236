import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../agent/index.js';
import { createRuntime } from '../engine/index.js';
import { simulator } from '../model/index.js';
import {
  emailNotifier,
  slackNotifier,
  verifyWebhook,
  webhookNotifier,
  type Notification,
} from '../notify/index.js';
import { openStore, type ApprovalRecord } from '../store/index.js';
import { defineTool } from '../tools/index.js';
import { approvalNotice, createApprovals } from './index.js';

const SECRET = 'a-webhook-secret-of-some-length';
const BASE_URL = 'https://keel.example/api';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A local HTTP receiver that answers each request with the next status in `statuses`. */
async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.statusCode = statuses.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received };
}

const approval: ApprovalRecord = {
  id: 'apr_0123456789abcdef0123',
  runId: 'run_abc',
  agent: 'refunds',
  step: 0,
  callIndex: 0,
  callId: 'call_1',
  toolName: 'issue_refund',
  args: { orderId: 'A-1', amountCents: 500 },
  argsHash: '5f0c2a4b9e8d7c6b5a4f3e2d1c0b9a88',
  gateReason: { type: 'effect', effect: 'irreversible' },
  approverGroup: 'finance',
  createdAt: Date.UTC(2026, 0, 1),
  expiresAt: Date.UTC(2026, 0, 2),
  onExpiry: { type: 'deny' },
  state: 'pending',
  decidedBy: null,
  decidedById: null,
  decidedAt: null,
  decisionReason: null,
  editedArgs: undefined,
  editedInput: undefined,
  escalatedFrom: null,
  notifiedAt: null,
  schemaVersion: 1,
};
const DECIDE_LINK = `${BASE_URL}/approvals/${approval.id}`;

describe('approval notifications', () => {
  it('builds a notice with the decide link and the commands, bound to the hash', () => {
    const notice = approvalNotice(approval, { baseUrl: BASE_URL });
    expect(notice.links).toEqual([{ label: 'Decide', url: DECIDE_LINK }]);
    expect(notice.commands).toEqual([
      `keel approve ${approval.id} --hash ${approval.argsHash}`,
      `keel deny ${approval.id} --reason "..."`,
    ]);
    expect(notice.fields).toContainEqual({
      label: 'arguments',
      value: '{"amountCents":500,"orderId":"A-1"}',
    });
  });

  it('delivers a signed webhook, retrying transient failures with backoff', async () => {
    const { url, received } = await receiver([503, 500, 200]);
    const notifier = webhookNotifier({ url, secret: SECRET, retry: { initialDelayMs: 5 } });
    await notifier.notify(approvalNotice(approval, { baseUrl: BASE_URL }));
    expect(received).toHaveLength(3);
    expect(received.map((entry) => entry.headers['x-keel-attempt'])).toEqual(['1', '2', '3']);
    for (const entry of received) {
      const timestamp = String(entry.headers['x-keel-timestamp']);
      const signature = String(entry.headers['x-keel-signature']);
      expect(verifyWebhook(SECRET, timestamp, entry.body, signature)).toBe(true);
      expect(verifyWebhook('another-secret-of-length!', timestamp, entry.body, signature)).toBe(
        false,
      );
      expect(verifyWebhook(SECRET, timestamp, `${entry.body} `, signature)).toBe(false);
      // A delivery replayed later than the tolerance is refused.
      expect(
        verifyWebhook(SECRET, timestamp, entry.body, signature, {
          now: Number(timestamp) + 10 * 60_000,
        }),
      ).toBe(false);
    }
    const body = JSON.parse(received[2]!.body) as { type: string; notification: Notification };
    expect(body.type).toBe('keel.notification');
    expect(body.notification.links?.[0]?.url).toBe(DECIDE_LINK);
    expect(body.notification.data).toMatchObject({
      approvalId: approval.id,
      argsHash: approval.argsHash,
    });
  });

  it('gives up at once on a client error and after its attempts on server errors', async () => {
    const rejected = await receiver([400]);
    const notice = approvalNotice(approval);
    await expect(
      webhookNotifier({ url: rejected.url, secret: SECRET, retry: { initialDelayMs: 1 } }).notify(
        notice,
      ),
    ).rejects.toThrow(/HTTP 400/);
    expect(rejected.received).toHaveLength(1);
    const down = await receiver([503, 503]);
    await expect(
      webhookNotifier({
        url: down.url,
        secret: SECRET,
        retry: { maxAttempts: 2, initialDelayMs: 1 },
      }).notify(notice),
    ).rejects.toThrow(/HTTP 503/);
    expect(down.received).toHaveLength(2);
    expect(() => webhookNotifier({ url: down.url, secret: 'short' })).toThrow(/secret/);
  });

  it('posts a Slack incoming-webhook payload with the decide button', async () => {
    const { url, received } = await receiver();
    await slackNotifier({ webhookUrl: url }).notify(
      approvalNotice(approval, { baseUrl: BASE_URL }),
    );
    const payload = JSON.parse(received[0]!.body) as {
      text: string;
      blocks: Record<string, unknown>[];
    };
    expect(payload.text).toBe(`Approval needed: issue_refund (refunds) — ${DECIDE_LINK}`);
    expect(payload.blocks.map((block) => block.type)).toEqual([
      'header',
      'section',
      'section',
      'actions',
      'context',
    ]);
    expect(payload.blocks[3]).toEqual({
      type: 'actions',
      elements: [
        { type: 'button', text: { type: 'plain_text', text: 'Decide' }, url: DECIDE_LINK },
      ],
    });
    expect(JSON.stringify(payload.blocks[4])).toContain(`keel approve ${approval.id}`);
  });

  it('sends an email over SMTP with the decide link and the command', async () => {
    const messages: { from: string; to: string[]; raw: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        let raw = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (raw += chunk));
        stream.on('end', () => {
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
            raw,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise((resolve) => {
          smtp.close(() => {
            resolve();
          });
        }),
    );
    const port = (smtp.server.address() as AddressInfo).port;
    await emailNotifier({
      host: '127.0.0.1',
      port,
      from: 'keel@example.test',
      to: ['finance@example.test'],
    }).notify(approvalNotice(approval, { baseUrl: BASE_URL }));
    expect(messages).toHaveLength(1);
    const message = messages[0]!;
    expect(message.from).toBe('keel@example.test');
    expect(message.to).toEqual(['finance@example.test']);
    const decoded = message.raw.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    expect(decoded).toContain('Subject: Approval needed: issue_refund (refunds)');
    expect(decoded).toContain(`Decide: ${DECIDE_LINK}`);
    expect(decoded).toContain(`keel approve ${approval.id} --hash ${approval.argsHash}`);
  });

  it('tells the group again when the first notification failed, and not once it went out', async () => {
    const { url, received } = await receiver([503]);
    const store = await openStore('sqlite::memory:');
    cleanups.push(() => store.close());
    const failures: string[] = [];
    const approvals = createApprovals({
      store,
      notifier: webhookNotifier({ url, secret: SECRET, retry: { maxAttempts: 1 } }),
      baseUrl: BASE_URL,
      onNotifyError: (id) => failures.push(id),
    });
    const { record } = await store.approvals.create({ ...approval, createdAt: Date.now() });
    await approvals.notify(record);
    expect(failures).toEqual([approval.id]);
    expect((await store.approvals.get(approval.id))?.notifiedAt).toBeNull();
    expect(await approvals.renotify({ olderThanMs: 60_000 })).toBe(0);
    expect(await approvals.renotify({ olderThanMs: 0 })).toBe(1);
    expect(received).toHaveLength(2);
    expect((await store.approvals.get(approval.id))?.notifiedAt).not.toBeNull();
    expect(await approvals.renotify({ olderThanMs: 0 })).toBe(0);
    expect(received).toHaveLength(2);
  });

  it('notifies the approver group when a gated call parks its run', async () => {
    const { url, received } = await receiver();
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'refunds',
      instructions: 'Refund.',
      model: simulator({
        script: ({ step }) =>
          step === 0
            ? { toolCalls: [{ name: 'issue_refund', args: { orderId: 'A-9', amountCents: 100 } }] }
            : { text: 'done' },
      }),
      tools: [
        defineTool({
          name: 'issue_refund',
          description: 'Refund',
          input: z.object({ orderId: z.string(), amountCents: z.number() }),
          effect: 'irreversible',
          run: () => Promise.resolve('ok'),
        }),
      ],
      gates: { approverGroup: 'finance' },
    });
    const runtime = createRuntime({
      store,
      agents: [agent],
      approvals: { notifier: webhookNotifier({ url, secret: SECRET }), baseUrl: BASE_URL },
    });
    const worker = runtime.startWorker({ pollMs: 10 });
    cleanups.push(async () => {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await store.close();
    });
    const record = await runtime.submit('refunds', 'Refund A-9');
    for (let tries = 0; received.length === 0 && tries < 500; tries++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const [pending] = await store.approvals.list({ runId: record.id });
    const body = JSON.parse(received[0]!.body) as { notification: Notification };
    expect(body.notification.links?.[0]?.url).toBe(`${BASE_URL}/approvals/${pending!.id}`);
    expect(body.notification.fields).toContainEqual({ label: 'group', value: 'finance' });
    for (
      let tries = 0;
      (await store.approvals.get(pending!.id))?.notifiedAt === null && tries < 100;
      tries++
    )
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await store.approvals.get(pending!.id))?.notifiedAt).not.toBeNull();
    expect(received).toHaveLength(1);
  });
});
