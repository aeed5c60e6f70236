import { sleep } from '../core/index.js';
import type { Tool, ToolContext } from './define-tool.js';
import { TRANSIENT_TOOL_ERRORS, ToolError, toToolFailure, type ToolFailure } from './tool-error.js';

/** The outcome of one tool call after all attempts. */
export type ToolOutcome =
  | { readonly ok: true; readonly value: unknown; readonly attempts: number }
  | { readonly ok: false; readonly failure: ToolFailure; readonly attempts: number };

/** Journal hooks: awaited, so each attempt is durable before it runs. Their errors propagate. */
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
  /** The attempt to run first (after a resume: a re-issue or the next attempt). */
  readonly firstAttempt?: number;
}

/**
 * Run a tool with its timeout (an aborted signal) and retries by error type: only transient
 * failures (`rate_limited`, `unavailable`, `timeout`) of tools safe to repeat are retried, with
 * exponential backoff that honours `retryAfterMs`, capped at the tool's `maxDelayMs`. Waiting
 * between attempts ends at once when `signal` aborts. A tool's own failure becomes a typed
 * outcome; a failing journal hook rejects (the caller handles store faults).
 *
 * ```ts
 * const outcome = await executeTool({ tool, input, context, signal, hooks });
 * if (!outcome.ok) console.log(outcome.failure.type);
 * ```
 */
export async function executeTool(options: ExecuteToolOptions): Promise<ToolOutcome> {
  const { tool, input, context, signal, hooks, firstAttempt = 1 } = options;
  const retryable = tool.idempotent || tool.effect === 'read';
  const lastAttempt = retryable ? Math.max(firstAttempt, tool.retry.maxAttempts) : firstAttempt;
  for (let attempt = firstAttempt; ; attempt++) {
    await hooks.beforeAttempt(attempt);
    let failure: ToolFailure;
    try {
      const value = await runOnce(tool, input, { ...context, attempt, signal });
      return { ok: true, value, attempts: attempt };
    } catch (error) {
      failure = toToolFailure(error);
    }
    const willRetry =
      TRANSIENT_TOOL_ERRORS.has(failure.type) && attempt < lastAttempt && !signal.aborted;
    await hooks.afterFailedAttempt(attempt, failure, willRetry);
    if (!willRetry) return { ok: false, failure, attempts: attempt };
    try {
      await sleep(retryDelay(tool, attempt, failure.retryAfterMs), { signal });
    } catch {
      return { ok: false, failure, attempts: attempt };
    }
  }
}

/** Exponential from `initialDelayMs`, at least the tool's `retryAfterMs`, at most `maxDelayMs`. */
function retryDelay(tool: Tool, attempt: number, retryAfterMs: number | undefined): number {
  const exponential = tool.retry.initialDelayMs * 2 ** (attempt - 1);
  return Math.min(tool.retry.maxDelayMs, Math.max(exponential, retryAfterMs ?? 0));
}

async function runOnce(tool: Tool, input: unknown, context: ToolContext): Promise<unknown> {
  context.signal.throwIfAborted();
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort(new ToolError('timeout', `${tool.name} timed out after ${tool.timeoutMs} ms`));
  }, tool.timeoutMs);
  const signal = AbortSignal.any([context.signal, deadline.signal]);
  // The tool gets an aborted signal at its deadline; a tool that ignores its signal is not
  // awaited past it, so one stuck tool cannot hang the run.
  const stopped = new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      reject(
        deadline.signal.aborted
          ? (deadline.signal.reason as ToolError)
          : new ToolError('unavailable', `${tool.name} was cancelled`),
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  const work = Promise.resolve().then(() => tool.run(input, { ...context, signal }));
  try {
    return await Promise.race([work, stopped]);
  } catch (error) {
    if (deadline.signal.aborted && !ToolError.isInstance(error)) throw deadline.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    stopped.catch(() => undefined);
    work.catch(() => undefined);
  }
}
