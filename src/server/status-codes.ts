import type { Context } from 'hono';
import { KeelError, type KeelErrorCode } from '../core/index.js';

/** Every fault code as an HTTP status: the one table the API answers errors from. */
export const STATUS_BY_CODE = {
  invalid_definition: 500,
  invalid_config: 500,
  invalid_input: 400,
  not_found: 404,
  store_unavailable: 503,
  store_corrupt: 500,
  lease_lost: 409,
  conflict: 409,
  internal: 500,
  unauthenticated: 401,
  forbidden: 403,
} as const satisfies Record<KeelErrorCode, number>;

/**
 * An API's error answer: a `KeelError` as `{ error: { code, message } }` with its status (an
 * internal fault's message withheld, on one line), anything else as a bare 500.
 */
export function errorResponse(error: Error, c: Context): Response {
  if (KeelError.isInstance(error)) {
    const status = STATUS_BY_CODE[error.code];
    const message =
      status >= 500 && error.code !== 'store_unavailable' ? 'internal error' : error.message;
    return c.json(
      { error: { code: error.code, message: message.replace(/\s*\n\s*/g, ' ') } },
      status,
    );
  }
  return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
}
