import type { APIError } from '@anthropic-ai/sdk';
import { deadlineMessage, type CallDeadline } from './call-deadline.js';
import { ModelCallError } from './model-adapter.js';
import { parseRetryAfter } from './retry-after.js';

type AnthropicSdk = typeof import('@anthropic-ai/sdk');

/** Classifies any failure of an Anthropic SDK call as a typed model error. */
export function toModelCallError(
  error: unknown,
  context: {
    signal: AbortSignal | undefined;
    deadline: CallDeadline;
    timeoutMs: number;
    sdk: AnthropicSdk;
  },
): ModelCallError {
  const {
    APIConnectionError,
    APIConnectionTimeoutError,
    APIUserAbortError,
    APIError: StatusError,
    AnthropicError,
  } = context.sdk;
  // A cut-off call may surface as anything (a stream that just ends): the cause decides.
  if (context.signal?.aborted) {
    return new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
  if (context.deadline.expired) {
    return new ModelCallError('timeout', deadlineMessage(context.deadline, context.timeoutMs), {
      cause: error,
    });
  }
  if (ModelCallError.isInstance(error)) return error;
  if (error instanceof APIConnectionTimeoutError) {
    return new ModelCallError('timeout', deadlineMessage(context.deadline, context.timeoutMs), {
      cause: error,
    });
  }
  if (error instanceof APIUserAbortError) {
    return new ModelCallError('aborted', 'the model call was aborted', { cause: error });
  }
  if (error instanceof APIConnectionError) {
    return new ModelCallError('network', `connection failed: ${error.message}`, { cause: error });
  }
  // Status errors, and `error` events inside a stream (no status, but a typed body).
  if (isApiError(error, StatusError)) return fromApiError(error);
  if (error instanceof SyntaxError) {
    return new ModelCallError('malformed_response', 'the response body is not valid JSON', {
      statusCode: 200,
      cause: error,
    });
  }
  if (error instanceof AnthropicError) {
    // The SDK's stream parser reports a broken event stream this way.
    return new ModelCallError('malformed_response', `anthropic client error: ${error.message}`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ModelCallError('network', `reading the response failed: ${message}`, { cause: error });
}

function isApiError(error: unknown, StatusError: AnthropicSdk['APIError']): error is APIError {
  return error instanceof StatusError;
}

// Anthropic sends no code for these two; its messages are the only signal on the wire.
const CONTEXT_TOO_LONG = /prompt is too long|context window|too many tokens/i;
const CONTENT_FILTERED = /content filtering policy/i;

function fromApiError(error: APIError): ModelCallError {
  const statusCode = typeof error.status === 'number' ? error.status : undefined;
  const options = { statusCode, retryAfterMs: parseRetryAfter(error.headers), cause: error };
  const text = error.apiMessage ?? error.message;
  const message = `anthropic responded ${statusCode ?? 'in-stream'} ${error.type ?? ''}: ${text}`;
  switch (error.type) {
    case 'overloaded_error':
      return new ModelCallError('overloaded', message, options);
    case 'rate_limit_error':
      return new ModelCallError('rate_limited', message, options);
    case 'timeout_error':
      return new ModelCallError('timeout', message, options);
    case 'api_error':
      return new ModelCallError('server_error', message, options);
    case 'authentication_error':
    case 'permission_error':
      return new ModelCallError('authentication', message, options);
    case 'not_found_error':
      return new ModelCallError('unavailable', message, options);
    // The rest are told apart by status and message below.
    case 'invalid_request_error':
    case 'billing_error':
    case 'conflict_error':
    case 'memory_path_conflict_error':
    case 'memory_precondition_failed_error':
    case null:
      break;
    default:
      error.type satisfies never;
  }
  if (statusCode === 413 || CONTEXT_TOO_LONG.test(text)) {
    return new ModelCallError('context_too_long', message, options);
  }
  if (CONTENT_FILTERED.test(text)) return new ModelCallError('content_filtered', message, options);
  if (statusCode === undefined) return new ModelCallError('server_error', message, options);
  if (statusCode === 529) return new ModelCallError('overloaded', message, options);
  if (statusCode === 429) return new ModelCallError('rate_limited', message, options);
  if (statusCode === 408) return new ModelCallError('timeout', message, options);
  if (statusCode >= 500) return new ModelCallError('server_error', message, options);
  if (statusCode === 401 || statusCode === 403) {
    return new ModelCallError('authentication', message, options);
  }
  return new ModelCallError('bad_request', message, options);
}
