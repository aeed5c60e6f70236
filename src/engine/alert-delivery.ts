import type { Notification, Notifier } from '../notify/index.js';
import { alertRunbook, type Alert, type AlertNotifier } from '../observe/index.js';

/**
 * Deliver alerts through any notifier (webhook, Slack, email, or several with `fanOut`). Each
 * alert becomes a notification of kind `alert` whose `subject` is the alert's id, so a
 * receiver that hears one twice can tell.
 *
 * ```ts
 * const runtime = createRuntime({
 *   store,
 *   agents,
 *   alerts: { notifier: alertsVia(webhookNotifier({ url, secret })) },
 * });
 * ```
 */
export function alertsVia(notifier: Notifier): AlertNotifier {
  return {
    notify(alert, { signal }) {
      return notifier.notify(alertNotification(alert), { signal });
    },
  };
}

/** An alert as people read it: what went past what, on which run, and how to look. */
export function alertNotification(alert: Alert): Notification {
  return {
    kind: 'alert',
    title: `Keel alert: ${alert.agent} ${alert.metric} (${alert.kind})`,
    text: alert.message,
    fields: [
      { label: 'agent', value: alert.agent },
      ...(alert.runId === '' ? [] : [{ label: 'run', value: alert.runId }]),
      { label: 'metric', value: alert.metric },
      { label: 'value', value: String(alert.value) },
      { label: 'threshold', value: String(alert.threshold) },
      { label: 'runbook', value: alertRunbook(alert) },
    ],
    commands: alert.commands ?? [`keel trace ${alert.runId}`, `keel alerts`],
    subject: alert.id,
    data: { alert: { ...alert, runbook: alertRunbook(alert) } },
  };
}
