import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { KeelError, sleep, timerDelay } from '../core/index.js';
import type { Notification, Notifier } from './notifier.js';

/** How a webhook delivery is retried. */
export interface WebhookRetryOptions {
  /** Attempts including the first. Default 4. */
  readonly maxAttempts: number;
  /** Delay before the second attempt, doubled each time. Default 200 ms. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** The webhook URL(s) per approver group, the signing secret and the retry policy. */
export interface WebhookNotifierOptions {
  readonly url: string;
  /** Signs each body: `x-keel-signature: sha256=<hex hmac of "<timestamp>.<body>">`. */
  readonly secret: string;
  readonly retry?: Partial<WebhookRetryOptions>;
  /** Per attempt. Default 10 s. */
  readonly timeoutMs?: number;
  /** The JSON body for a notification; default `{ type: 'keel.notification', notification }`. */
  readonly body?: (notification: Notification) => unknown;
  readonly name?: string;
  readonly clock?: { now(): number };
}

const DEFAULT_RETRY: WebhookRetryOptions = {
  maxAttempts: 4,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
};

/**
 * POST each notification as JSON, signed with HMAC-SHA256 over `<timestamp>.<body>`, retried
 * with exponential backoff on network errors, 408, 429 and 5xx.
 *
 * ```ts
 * const notifier = webhookNotifier({ url: 'https://ops.example/keel', secret: process.env.HOOK_SECRET! });
 * ```
 */
export function webhookNotifier(options: WebhookNotifierOptions): Notifier {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  if (typeof options.secret !== 'string' || options.secret.length < 16) {
    throw new KeelError(
      'invalid_config',
      'webhookNotifier: "secret" must be at least 16 characters',
    );
  }
  try {
    new URL(options.url);
  } catch {
    throw new KeelError('invalid_config', `webhookNotifier: "url" is not a URL: ${options.url}`);
  }
  const clock = options.clock ?? Date;
  const toBody =
    options.body ?? ((notification: Notification) => ({ type: 'keel.notification', notification }));
  return {
    name: options.name ?? 'webhook',
    async notify(notification, { signal } = {}) {
      const body = JSON.stringify(toBody(notification));
      const deliveryId = webhookDeliveryId(body);
      let lastError = '';
      for (let attempt = 1; attempt <= retry.maxAttempts; attempt++) {
        const timestamp = String(clock.now());
        const outcome = await post(
          options.url,
          body,
          {
            'content-type': 'application/json',
            'x-keel-timestamp': timestamp,
            'x-keel-signature': signWebhook(options.secret, timestamp, body),
            'x-keel-delivery': deliveryId,
            'x-keel-attempt': String(attempt),
          },
          options.timeoutMs ?? 10_000,
          signal,
        );
        if (outcome.ok) return;
        lastError = outcome.error;
        if (!outcome.retryable || attempt === retry.maxAttempts) break;
        const delay = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1));
        await sleep(delay * (0.5 + Math.random() / 2), signal ? { signal } : {});
      }
      throw new KeelError('internal', `webhook ${redact(options.url)} failed: ${lastError}`);
    },
  };
}

/** The signature a receiver recomputes: `sha256=<hex>` over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * For receivers: true when `signature` signs `<timestamp>.<body>` with `secret` and the
 * timestamp is at most `toleranceMs` old and at most `futureSkewMs` ahead of `now` (an old
 * delivery replayed, or one stamped ahead to outlive the window, is refused). A missing or
 * repeated header (`undefined`, an array) is `false`, never a throw.
 *
 * ```ts
 * const ok = verifyWebhook(secret, headers['x-keel-timestamp'], rawBody, headers['x-keel-signature']);
 * ```
 */
export function verifyWebhook(
  secret: string,
  timestamp: string | readonly string[] | null | undefined,
  body: string,
  signature: string | readonly string[] | null | undefined,
  {
    now = Date.now(),
    toleranceMs = 5 * 60_000,
    futureSkewMs = 30_000,
  }: { now?: number; toleranceMs?: number; futureSkewMs?: number } = {},
): boolean {
  if (typeof timestamp !== 'string' || typeof signature !== 'string' || typeof body !== 'string')
    return false;
  if (!/^\d{1,16}$/.test(timestamp)) return false;
  const sentAt = Number(timestamp);
  if (now - sentAt > toleranceMs || sentAt - now > futureSkewMs) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * The delivery id of a webhook body (sent as `x-keel-delivery`): the same for every retry of
 * one notification, derived from the signed body so a receiver can recompute it rather than
 * trust the header.
 *
 * ```ts
 * if (!deliveries.firstTime(webhookDeliveryId(rawBody))) return new Response(null, { status: 200 });
 * ```
 */
export function webhookDeliveryId(body: string): string {
  return `dlv_${createHash('sha256').update(body).digest('hex').slice(0, 32)}`;
}

/**
 * For receivers: remembers delivery ids for `windowMs` (at least `verifyWebhook`'s tolerance,
 * after which a replay fails verification anyway) and says whether one is new. In memory, at
 * most `maxEntries` ids (the oldest are forgotten first).
 *
 * ```ts
 * const deliveries = webhookDeliveries();
 * if (verifyWebhook(...) && deliveries.firstTime(webhookDeliveryId(rawBody))) handle(rawBody);
 * ```
 */
export function webhookDeliveries({
  windowMs = 10 * 60_000,
  maxEntries = 100_000,
  clock = Date,
}: { windowMs?: number; maxEntries?: number; clock?: { now(): number } } = {}): {
  firstTime(deliveryId: string): boolean;
} {
  const seen = new Map<string, number>();
  return {
    firstTime(deliveryId) {
      const now = clock.now();
      for (const [id, at] of seen) {
        if (now - at < windowMs && seen.size < maxEntries) break;
        seen.delete(id);
      }
      const at = seen.get(deliveryId);
      if (at !== undefined && now - at < windowMs) return false;
      seen.delete(deliveryId);
      seen.set(deliveryId, now);
      return true;
    },
  };
}

/** POST JSON; a typed outcome, never a throw for HTTP or network failures. */
export async function post(
  url: string,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ ok: true } | { ok: false; retryable: boolean; error: string }> {
  const timeout = AbortSignal.timeout(timerDelay(timeoutMs));
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers,
      body,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    await response.arrayBuffer().catch(() => undefined);
    if (response.ok) return { ok: true };
    const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
    return { ok: false, retryable, error: `HTTP ${response.status}` };
  } catch (error) {
    if (signal?.aborted) throw error;
    return {
      ok: false,
      retryable: true,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname.length > 1 ? '/…' : ''}`;
  } catch {
    return 'webhook';
  }
}
