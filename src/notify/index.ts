export { fanOut, notificationText, type Notification, type Notifier } from './notifier.js';
export {
  signWebhook,
  verifyWebhook,
  webhookDeliveries,
  webhookDeliveryId,
  webhookNotifier,
  type WebhookNotifierOptions,
  type WebhookRetryOptions,
} from './webhook-notifier.js';
export { slackNotifier, slackPayload, type SlackNotifierOptions } from './slack-notifier.js';
export { emailNotifier, type EmailNotifierOptions } from './email-notifier.js';
