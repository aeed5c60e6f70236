import { TOOL_ERROR_TYPES, type ToolErrorType, type ToolFailure } from '../journal/index.js';

export { TOOL_ERROR_TYPES, type ToolErrorType, type ToolFailure };

/** Failures worth another attempt when the tool is safe to repeat. */
export const TRANSIENT_TOOL_ERRORS: ReadonlySet<ToolErrorType> = new Set([
  'rate_limited',
  'unavailable',
  'timeout',
]);

const marker = Symbol.for('keel.tool_error');

/**
 * Thrown by a tool's `run` to fail with a type. Any other throw becomes `internal`.
 *
 * ```ts
 * if (!order) throw new ToolError('not_found', `no order ${input.orderId}`);
 * ```
 */
export class ToolError extends Error {
  readonly [marker] = true;
  readonly type: ToolErrorType;
  readonly retryAfterMs: number | undefined;

  constructor(
    type: ToolErrorType,
    message: string,
    options: { retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ToolError';
    this.type = type;
    this.retryAfterMs = options.retryAfterMs;
  }

  static isInstance(error: unknown): error is ToolError {
    return typeof error === 'object' && error !== null && marker in error;
  }
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Turn anything a tool threw into a typed failure. A `ToolError` keeps its type; a network
 * error (also as the `cause` of fetch's `TypeError`) is `unavailable`; an `AbortSignal.timeout`
 * is `timeout`; anything else is `internal` with its message kept.
 */
export function toToolFailure(error: unknown): ToolFailure {
  if (ToolError.isInstance(error)) {
    return error.retryAfterMs === undefined
      ? { type: error.type, message: error.message }
      : { type: error.type, message: error.message, retryAfterMs: error.retryAfterMs };
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && error.name === 'TimeoutError') return { type: 'timeout', message };
  const code = errorCode(error) ?? errorCode(error instanceof Error ? error.cause : undefined);
  if (code !== undefined && NETWORK_ERROR_CODES.has(code)) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
    return { type: 'unavailable', message: cause ? `${message}: ${cause.message}` : message };
  }
  return { type: 'internal', message };
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error
    ? String(error.code)
    : undefined;
}
