import { KeelError } from '../core/index.js';
import { fanOut, slackNotifier, webhookNotifier, type Notifier } from '../notify/index.js';

/** The variables that give the CLI's runtimes a channel for approvals and alerts. */
export const NOTIFY_ENV = {
  webhookUrl: 'KEEL_WEBHOOK_URL',
  webhookSecret: 'KEEL_WEBHOOK_SECRET',
  slackUrl: 'KEEL_SLACK_WEBHOOK_URL',
  approvalBaseUrl: 'KEEL_APPROVAL_BASE_URL',
} as const;

/**
 * The notifier the environment names: an HMAC-signed webhook (`KEEL_WEBHOOK_URL` with
 * `KEEL_WEBHOOK_SECRET`), a Slack-compatible incoming webhook (`KEEL_SLACK_WEBHOOK_URL`), both
 * (each notification goes to each), or `undefined` when none is set. A URL without its secret
 * is a configuration error, not a silent no-op.
 */
export function notifierFromEnv(env: NodeJS.ProcessEnv = process.env): Notifier | undefined {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const notifiers: Notifier[] = [];
  const webhookUrl = value(NOTIFY_ENV.webhookUrl);
  const secret = value(NOTIFY_ENV.webhookSecret);
  if (webhookUrl !== undefined) {
    if (secret === undefined) {
      throw new KeelError(
        'invalid_config',
        `${NOTIFY_ENV.webhookUrl} is set but ${NOTIFY_ENV.webhookSecret} is not: webhooks are signed`,
      );
    }
    notifiers.push(webhookNotifier({ url: webhookUrl, secret }));
  }
  const slackUrl = value(NOTIFY_ENV.slackUrl);
  if (slackUrl !== undefined) notifiers.push(slackNotifier({ webhookUrl: slackUrl }));
  if (notifiers.length <= 1) return notifiers[0];
  return fanOut(notifiers);
}
