import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { systemClock, type Clock } from '../core/index.js';

/** How much one client may send: body size, requests and failed sign-ins per minute. */
export interface RequestLimits {
  /** Largest request body accepted, in bytes; larger is a 413 before it is read. Default 128 KiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Requests per client per minute; more is a 429. Default 600. */
  readonly requestsPerMinute?: number | undefined;
  /** Requests answered 401 per client per minute before every request is a 429. Default 20. */
  readonly failedAuthPerMinute?: number | undefined;
  /** Who a request comes from. Default: the connection's remote address. */
  readonly clientKey?: ((c: Context) => string) | undefined;
  readonly clock?: Clock | undefined;
}

/** The largest request body a Keel server reads unless told otherwise, in bytes (128 KiB). */
export const DEFAULT_MAX_BODY_BYTES = 128 * 1024;
/** The longest task a run started over HTTP (`POST /runs`, an MCP call) may have, in characters. */
export const MAX_TASK_CHARS = 100_000;

const WINDOW_MS = 60_000;
/** Clients tracked at once; the oldest window is forgotten first. */
const MAX_CLIENTS = 10_000;

interface Window {
  start: number;
  requests: number;
  failures: number;
}

/** Contexts already limited, whichever app (or instance) of the middleware did it. */
const applied = new WeakSet<Context>();

/**
 * Body size, request rate and failed sign-ins, per client, for every route: answered
 * `413 payload_too_large` or `429 rate_limited` (with `Retry-After`) before any handler runs.
 * Counted in this process, in fixed one-minute windows.
 *
 * ```ts
 * app.use('*', requestLimits({ maxBodyBytes: 64 * 1024 }));
 * ```
 */
export function requestLimits(limits: RequestLimits = {}): MiddlewareHandler {
  const maxBodyBytes = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const perMinute = limits.requestsPerMinute ?? 600;
  const failuresPerMinute = limits.failedAuthPerMinute ?? 20;
  const clock = limits.clock ?? systemClock;
  const clientKey = limits.clientKey ?? remoteAddress;
  const windows = new Map<string, Window>();
  const limitBody = bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) =>
      c.json(
        {
          error: {
            code: 'payload_too_large',
            message: `the request body is larger than ${maxBodyBytes} bytes`,
          },
        },
        413,
      ),
  });

  function windowOf(key: string, now: number): Window {
    let window = windows.get(key);
    if (window && now - window.start >= WINDOW_MS) {
      windows.delete(key);
      window = undefined;
    }
    if (!window) {
      if (windows.size >= MAX_CLIENTS) {
        const oldest = windows.keys().next().value;
        if (oldest !== undefined) windows.delete(oldest);
      }
      window = { start: now, requests: 0, failures: 0 };
      windows.set(key, window);
    }
    return window;
  }

  return async function keelRequestLimits(c, next) {
    if (applied.has(c)) {
      await next();
      return undefined;
    }
    applied.add(c);
    const now = clock.now();
    const window = windowOf(clientKey(c).slice(0, 200), now);
    if (window.requests >= perMinute || window.failures >= failuresPerMinute) {
      c.header(
        'Retry-After',
        String(Math.max(1, Math.ceil((window.start + WINDOW_MS - now) / 1000))),
      );
      return c.json(
        {
          error: {
            code: 'rate_limited',
            message:
              window.failures >= failuresPerMinute
                ? 'too many failed sign-ins from this client: try again later'
                : 'too many requests from this client: try again later',
          },
        },
        429,
      );
    }
    window.requests += 1;
    const response = await limitBody(c, next);
    if (c.res.status === 401) window.failures += 1;
    return response;
  };
}

function remoteAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
