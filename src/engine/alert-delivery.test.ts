import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../agent/index.js';
import { simulator } from '../model/index.js';
import { verifyWebhook, webhookNotifier, type Notification } from '../notify/index.js';
import { DEFAULT_ALERT_RULES, type Alert } from '../observe/index.js';
import { openStore } from '../store/index.js';
import { alertsVia, createRuntime } from './index.js';

const SECRET = 'alert-webhook-secret-0123456789';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Delivery {
  readonly verified: boolean;
  readonly notification: Notification;
}

/** A webhook endpoint that checks each delivery's HMAC signature, as a receiver should. */
async function signedReceiver() {
  const deliveries: Delivery[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verified = verifyWebhook(
        SECRET,
        String(request.headers['x-keel-timestamp']),
        body,
        String(request.headers['x-keel-signature']),
      );
      const parsed = JSON.parse(body) as { notification: Notification };
      deliveries.push({ verified, notification: parsed.notification });
      response.writeHead(verified ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return {
    deliveries,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/keel`,
  };
}

describe('alertsVia', () => {
  it('delivers a run with 5x the baseline tokens to a signed webhook as an alert notification', async () => {
    const { deliveries, url } = await signedReceiver();
    const store = await openStore('sqlite::memory:');
    const agent = defineAgent({
      name: 'summarizer',
      model: simulator({
        script: ({ task }) => ({
          text: 'summary',
          usage: task.includes('verbose')
            ? { inputTokens: 1000, outputTokens: 100 }
            : { inputTokens: 200, outputTokens: 20 },
        }),
      }),
      instructions: 'Summarize the task.',
    });
    const runtime = createRuntime({
      store,
      agents: [agent],
      alerts: { notifier: alertsVia(webhookNotifier({ url, secret: SECRET })) },
    });
    cleanups.push(() => store.close());
    for (let index = 0; index < DEFAULT_ALERT_RULES.minSamples; index++) {
      await runtime.run('summarizer', `summarize report ${index}`);
    }
    expect(deliveries).toEqual([]);
    const spike = await runtime.run('summarizer', 'summarize this, verbose');
    // close() waits for observers (the alert monitor) to finish their deliveries.
    await runtime.close();

    const tokens = deliveries.find(
      (delivery) => (delivery.notification.data?.alert as Alert | undefined)?.metric === 'tokens',
    );
    expect(tokens?.verified).toBe(true);
    expect(tokens?.notification).toMatchObject({
      kind: 'alert',
      commands: [`keel trace ${spike.id}`, 'keel alerts'],
      data: {
        alert: { kind: 'baseline_exceeded', runId: spike.id, agent: 'summarizer', value: 1100 },
      },
    });
    expect(tokens?.notification.subject).toBe(
      (tokens?.notification.data?.alert as Alert | undefined)?.id,
    );
    expect(deliveries.every((delivery) => delivery.verified)).toBe(true);
  });
});
