import { DelegateBackoff, handleWhen, retry, type IRetryBackoffContext } from 'cockatiel';
import type { Tool, ToolContext } from './define-tool.js';
import { TRANSIENT_TOOL_ERRORS, ToolError, toToolFailure, type ToolFailure } from './tool-error.js';

/** The outcome of one tool call after all attempts. Never throws. */
export type ToolOutcome =
  | { readonly ok: true; readonly value: unknown; readonly attempts: number }
  | { readonly ok: false; readonly failure: ToolFailure; readonly attempts: number };

/** Journal hooks: awaited, so each attempt is durable before it runs. */
export interface ToolAttemptHooks {
  beforeAttempt(attempt: number): Promise<void>;
  afterFailedAttempt(attempt: number, failure: ToolFailure, willRetry: boolean): Promise<void>;
}

export interface ExecuteToolOptions {
  readonly tool: Tool;
  readonly input: unknown;
  readonly context: Omit<ToolContext, 'attempt' | 'signal'>;
  readonly signal: AbortSignal;
  readonly hooks: ToolAttemptHooks;
  /** Attempts already spent before a resume (a started attempt counts). */
  readonly firstAttempt?: number;
}

/**
 * Run a tool with its timeout (an aborted signal, not a race) and retries by error type:
 * only transient failures (`rate_limited`, `unavailable`, `timeout`) of tools safe to repeat
 * are retried, with exponential backoff that honours `retryAfterMs`.
 *
 * ```ts
 * const outcome = await executeTool({ tool, input, context, signal, hooks });
 * if (!outcome.ok) console.log(outcome.failure.type);
 * ```
 */
export async function executeTool(options: ExecuteToolOptions): Promise<ToolOutcome> {
  const { tool, input, context, signal, hooks, firstAttempt = 1 } = options;
  const retryable = tool.idempotent || tool.effect === 'read';
  const remaining = retryable ? Math.max(0, tool.retry.maxAttempts - firstAttempt) : 0;
  let attempt = firstAttempt - 1;
  let lastFailure: ToolFailure | undefined;

  const policy = retry(
    handleWhen((error) => ToolError.isInstance(error) && TRANSIENT_TOOL_ERRORS.has(error.type)),
    {
      maxAttempts: remaining,
      backoff: new DelegateBackoff((backoffContext: IRetryBackoffContext<unknown>) => {
        const exponential = Math.min(
          tool.retry.maxDelayMs,
          tool.retry.initialDelayMs * 2 ** (backoffContext.attempt - 1),
        );
        const reason = backoffContext.result;
        const retryAfter =
          'error' in reason && ToolError.isInstance(reason.error)
            ? reason.error.retryAfterMs
            : undefined;
        return Math.max(exponential, retryAfter ?? 0);
      }),
    },
  );

  try {
    const value = await policy.execute(async function attemptTool() {
      attempt += 1;
      await hooks.beforeAttempt(attempt);
      try {
        return await runOnce(tool, input, { ...context, attempt, signal });
      } catch (error) {
        const failure = toToolFailure(error);
        lastFailure = failure;
        const willRetry =
          TRANSIENT_TOOL_ERRORS.has(failure.type) &&
          attempt < firstAttempt + remaining &&
          !signal.aborted;
        await hooks.afterFailedAttempt(attempt, failure, willRetry);
        throw new ToolError(failure.type, failure.message, { retryAfterMs: failure.retryAfterMs });
      }
    }, signal);
    return { ok: true, value, attempts: attempt };
  } catch (error) {
    return { ok: false, failure: lastFailure ?? toToolFailure(error), attempts: attempt };
  }
}

async function runOnce(tool: Tool, input: unknown, context: ToolContext): Promise<unknown> {
  const timeout = AbortSignal.timeout(tool.timeoutMs);
  const signal = AbortSignal.any([context.signal, timeout]);
  const work = tool.run(input, { ...context, signal });
  // The tool gets an aborted signal on timeout; a tool that ignores its signal is not awaited
  // past the deadline, so one stuck tool cannot hang the run.
  const deadline = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      reject(
        timeout.aborted
          ? new ToolError('timeout', `${tool.name} timed out after ${tool.timeoutMs} ms`)
          : new ToolError('unavailable', `${tool.name} was cancelled`),
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (error) {
    if (timeout.aborted && !ToolError.isInstance(error)) {
      throw new ToolError('timeout', `${tool.name} timed out after ${tool.timeoutMs} ms`);
    }
    throw error;
  } finally {
    deadline.catch(() => undefined);
    work.catch(() => undefined);
  }
}
