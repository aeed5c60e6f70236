/**
 * `keel/notify`: notifiers (signed webhook, Slack, email) and, for a webhook's receiver, the
 * signature check.
 *
 * @packageDocumentation
 */
export {
  emailNotifier,
  fanOut,
  signWebhook,
  slackNotifier,
  verifyWebhook,
  webhookDeliveries,
  webhookDeliveryId,
  webhookNotifier,
  type EmailNotifierOptions,
  type Notification,
  type Notifier,
  type SlackNotifierOptions,
  type WebhookNotifierOptions,
  type WebhookRetryOptions,
} from '../notify/index.js';
