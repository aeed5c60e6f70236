import type { Clock } from '../core/index.js';
import { parseRetryAfter, type HeaderSource } from '../model/index.js';
import { ToolError, type ToolErrorType } from './tool-error.js';

/** What `toolErrorFromResponse` reads: a `fetch` `Response` fits, as do most HTTP clients'. */
export interface HttpResponseLike {
  readonly status: number;
  readonly statusText?: string | undefined;
  readonly headers?: HeaderSource | null | undefined;
}

/**
 * The typed error an HTTP status means. 2xx and 3xx have none.
 *
 * ```ts
 * toolErrorTypeOfStatus(429) // 'rate_limited'
 * toolErrorTypeOfStatus(404) // 'not_found'
 * toolErrorTypeOfStatus(200) // undefined
 * ```
 */
export function toolErrorTypeOfStatus(status: number): ToolErrorType | undefined {
  if (status < 400) return undefined;
  switch (status) {
    case 401:
    case 403:
      return 'forbidden';
    case 404:
    case 410:
      return 'not_found';
    case 408:
      return 'timeout';
    case 409:
    case 412:
      return 'conflict';
    case 429:
      return 'rate_limited';
    case 500:
      return 'internal';
    case 504:
      return 'timeout';
    default:
      // 502, 503 and other 5xx: the service is down or overloaded; other 4xx: the request.
      return status >= 500 ? 'unavailable' : 'invalid_input';
  }
}

/**
 * The `ToolError` an HTTP response means, with `retryAfterMs` from `retry-after` or
 * `retry-after-ms` when the server sent one; `undefined` for a successful response.
 *
 * ```ts
 * const response = await fetch(url, { signal, headers: { 'Idempotency-Key': idempotencyKey } });
 * const error = toolErrorFromResponse(response, { what: `order ${orderId}` });
 * if (error) throw error;
 * ```
 */
export function toolErrorFromResponse(
  response: HttpResponseLike,
  { what, clock }: { what?: string; clock?: Clock } = {},
): ToolError | undefined {
  const type = toolErrorTypeOfStatus(response.status);
  if (type === undefined) return undefined;
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const retryAfterMs = parseRetryAfter(response.headers, clock ? { clock } : {});
  return new ToolError(type, what === undefined ? status : `${what}: ${status}`, {
    retryAfterMs,
  });
}

/**
 * Throw the typed error of a failed HTTP response; return the response otherwise.
 *
 * ```ts
 * const order = await throwIfHttpError(await fetch(url, { signal })).json();
 * ```
 */
export function throwIfHttpError<R extends HttpResponseLike>(
  response: R,
  options: { what?: string; clock?: Clock } = {},
): R {
  const error = toolErrorFromResponse(response, options);
  if (error) throw error;
  return response;
}
