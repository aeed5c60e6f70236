import { KeelError, sleep } from '../core/index.js';
import type { Notification, Notifier } from './notifier.js';
import { post } from './webhook-notifier.js';

/** The Slack incoming webhook(s) the notifier posts to, per approver group. */
export interface SlackNotifierOptions {
  /** A Slack incoming-webhook URL (or any server accepting the same payload). */
  readonly webhookUrl: string;
  readonly maxAttempts?: number;
  readonly name?: string;
}

/**
 * Post notifications to a Slack-compatible incoming webhook: `text` (the fallback) plus
 * Block Kit `blocks` with the fields, the decide link as a button and the CLI commands.
 *
 * ```ts
 * const notifier = slackNotifier({ webhookUrl: process.env.SLACK_WEBHOOK_URL! });
 * ```
 */
export function slackNotifier(options: SlackNotifierOptions): Notifier {
  try {
    new URL(options.webhookUrl);
  } catch {
    throw new KeelError('invalid_config', 'slackNotifier: "webhookUrl" is not a URL');
  }
  const maxAttempts = options.maxAttempts ?? 3;
  return {
    name: options.name ?? 'slack',
    async notify(notification, { signal } = {}) {
      const body = JSON.stringify(slackPayload(notification));
      let lastError = '';
      for (let attempt = 1; attempt <= maxAttempts; attempt++) {
        const outcome = await post(
          options.webhookUrl,
          body,
          { 'content-type': 'application/json' },
          10_000,
          signal,
        );
        if (outcome.ok) return;
        lastError = outcome.error;
        if (!outcome.retryable) break;
        if (attempt < maxAttempts) await sleep(200 * 2 ** (attempt - 1), signal ? { signal } : {});
      }
      throw new KeelError('internal', `Slack webhook failed: ${lastError}`);
    },
  };
}

/** The incoming-webhook payload: `text` for notifications and clients without blocks. */
export function slackPayload(notification: Notification): {
  text: string;
  blocks: Record<string, unknown>[];
} {
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: notification.title.slice(0, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: escape(notification.text) } },
  ];
  if (notification.fields?.length) {
    blocks.push({
      type: 'section',
      fields: notification.fields.slice(0, 10).map((field) => ({
        type: 'mrkdwn',
        text: `*${escape(field.label)}*\n${escape(field.value)}`,
      })),
    });
  }
  if (notification.links?.length) {
    blocks.push({
      type: 'actions',
      elements: notification.links.slice(0, 5).map((link) => ({
        type: 'button',
        text: { type: 'plain_text', text: link.label },
        url: link.url,
      })),
    });
  }
  if (notification.commands?.length) {
    blocks.push({
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: notification.commands.map((command) => `\`${command}\``).join('  '),
        },
      ],
    });
  }
  const link = notification.links?.[0];
  return {
    text: `${notification.title}${link ? ` — ${link.url}` : ''}`,
    blocks,
  };
}

/** Slack's three control characters in mrkdwn. */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
