import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../core/index.js';
import { verifyWebhook } from '../notify/index.js';
import { NOTIFY_ENV, notifierFromEnv } from './notifier-from-env.js';

const SECRET = 'cli-webhook-secret-0123456789';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** A local HTTP endpoint recording each POST's headers and body. */
async function endpoint() {
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

describe('notifierFromEnv', () => {
  it('configures no channel when no variable is set', () => {
    expect(notifierFromEnv({})).toBeUndefined();
    expect(notifierFromEnv({ [NOTIFY_ENV.webhookUrl]: '  ' })).toBeUndefined();
  });

  it('refuses a webhook URL without its signing secret, naming both variables', () => {
    let error: unknown;
    try {
      notifierFromEnv({ [NOTIFY_ENV.webhookUrl]: 'http://127.0.0.1:1/hook' });
    } catch (caught) {
      error = caught;
    }
    expect(KeelError.isInstance(error) ? error.code : error).toBe('invalid_config');
    expect((error as Error).message).toContain(NOTIFY_ENV.webhookSecret);
  });

  it('sends each notification to a signed webhook and to a Slack-compatible endpoint', async () => {
    const webhook = await endpoint();
    const slack = await endpoint();
    const notifier = notifierFromEnv({
      [NOTIFY_ENV.webhookUrl]: webhook.url,
      [NOTIFY_ENV.webhookSecret]: SECRET,
      [NOTIFY_ENV.slackUrl]: slack.url,
    });
    await notifier?.notify({ kind: 'alert', title: 'Cost spike', text: 'run r1 cost 5x' });

    const [signed] = webhook.received;
    expect(
      signed &&
        verifyWebhook(
          SECRET,
          String(signed.headers['x-keel-timestamp']),
          signed.body,
          String(signed.headers['x-keel-signature']),
        ),
    ).toBe(true);
    expect(JSON.parse(signed?.body ?? '{}')).toMatchObject({
      notification: { kind: 'alert', title: 'Cost spike' },
    });
    expect(slack.received).toHaveLength(1);
    expect(slack.received[0]?.body).toContain('Cost spike');
  });
});
