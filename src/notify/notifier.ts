/**
 * A message for people, independent of the channel: an approval waiting, an alert. Plain JSON,
 * so it can be queued and retried.
 */
export interface Notification {
  /** What kind of message (`approval_requested`, `alert`, ...): receivers route on it. */
  readonly kind: string;
  readonly title: string;
  /** The body, plain text. */
  readonly text: string;
  /** Labelled facts shown as a list (run, tool, arguments...). */
  readonly fields?: readonly { readonly label: string; readonly value: string }[];
  /** Where to act: a URL (the decide link), shown as a button or a link. */
  readonly links?: readonly { readonly label: string; readonly url: string }[];
  /** Commands that act from a terminal (`keel approve <id>`). */
  readonly commands?: readonly string[];
  /** The thing it is about (an approval id, an alert id), for deduplication by receivers. */
  readonly subject?: string;
  /** Machine-readable details for the receiver. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * A channel that delivers notifications: webhook, Slack, email. Delivery failures throw (after
 * the notifier's own retries); callers that must not block log and move on.
 *
 * ```ts
 * const notifier = webhookNotifier({ url: 'https://ops.example/hooks/keel', secret });
 * await notifier.notify({ kind: 'alert', title: 'Cost spike', text: '...' });
 * ```
 */
export interface Notifier {
  readonly name: string;
  notify(notification: Notification, options?: { signal?: AbortSignal }): Promise<void>;
}

/**
 * Deliver through several notifiers at once. Resolves when all have tried; throws an
 * `AggregateError` naming the channels that failed.
 */
export function fanOut(notifiers: readonly Notifier[]): Notifier {
  return {
    name: `fan_out(${notifiers.map((notifier) => notifier.name).join(',')})`,
    async notify(notification, options) {
      const results = await Promise.allSettled(
        notifiers.map((notifier) => notifier.notify(notification, options)),
      );
      const failures = results.flatMap((result, index) =>
        result.status === 'rejected'
          ? [{ notifier: notifiers[index]?.name, error: result.reason as unknown }]
          : [],
      );
      if (failures.length > 0) {
        throw new AggregateError(
          failures.map((failure) => failure.error),
          `notification failed on ${failures.map((failure) => failure.notifier).join(', ')}`,
        );
      }
    },
  };
}

/** The notification as plain text: email bodies, logs, the console notifier. */
export function notificationText(notification: Notification): string {
  const lines = [notification.title, '', notification.text];
  if (notification.fields?.length) {
    lines.push('');
    for (const field of notification.fields) lines.push(`${field.label}: ${field.value}`);
  }
  if (notification.links?.length) {
    lines.push('');
    for (const link of notification.links) lines.push(`${link.label}: ${link.url}`);
  }
  if (notification.commands?.length) {
    lines.push('');
    for (const command of notification.commands) lines.push(`  ${command}`);
  }
  return lines.join('\n');
}
