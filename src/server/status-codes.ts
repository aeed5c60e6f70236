import type { KeelErrorCode } from '../core/index.js';

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
