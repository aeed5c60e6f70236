import { KeelError, MAX_TIMER_MS, timerDelay } from '../core/index.js';

/** How long a model call may take (or a stream stay silent) unless its adapter says otherwise. */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;

/**
 * Whether `timeoutMs` can be a model call's deadline: a whole number of milliseconds from 1 to
 * `MAX_TIMER_MS`. A Node timer waits at most that long and fires after 1 ms when asked for more,
 * so a longer timeout would end every call at once.
 */
export function isModelTimeout(timeoutMs: unknown): timeoutMs is number {
  return (
    Number.isSafeInteger(timeoutMs) &&
    (timeoutMs as number) > 0 &&
    (timeoutMs as number) <= MAX_TIMER_MS
  );
}

/** Fails with `invalid_config` naming `where` unless `timeoutMs` can be a call's deadline. */
export function checkModelTimeout(where: string, timeoutMs: unknown): void {
  if (!isModelTimeout(timeoutMs)) {
    throw new KeelError(
      'invalid_config',
      `${where}: "timeoutMs" must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS} (about 24.8 days)`,
    );
  }
}

/**
 * The deadline of one model call: its signal aborts `timeoutMs` after it starts, or when the
 * caller's `signal` aborts. A streamed reply moves it on with every event it receives, so a
 * long reply that keeps arriving goes on while a stalled stream ends after `timeoutMs` of
 * silence. `clear()` unhooks it from the caller's signal: a call that ended leaves nothing
 * behind to be aborted with the run (unlike `AbortSignal.any`, whose signals stay tied to a
 * run's signal until they are collected).
 *
 * ```ts
 * const deadline = callDeadline(60_000, signal);
 * try { for await (const chunk of stream(deadline.signal)) deadline.extend(); } finally { deadline.clear(); }
 * ```
 */
export interface CallDeadline {
  /** The call's signal: the deadline's abort or the caller's, whichever comes first. */
  readonly signal: AbortSignal;
  /** Whether the call was given up on because the deadline passed. */
  readonly expired: boolean;
  /** Whether it passed during a stream, after something had arrived (a stalled stream). */
  readonly stalled: boolean;
  /** Something arrived: the call has another `timeoutMs` from now. */
  extend(): void;
  clear(): void;
}

export function callDeadline(timeoutMs: number, parent?: AbortSignal): CallDeadline {
  const controller = new AbortController();
  let extended = false;
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort();
  }, timerDelay(timeoutMs));
  const onParentAbort = (): void => {
    clearTimeout(timer);
    controller.abort(parent?.reason);
  };
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    get expired() {
      return expired;
    },
    get stalled() {
      return expired && extended;
    },
    extend() {
      extended = true;
      timer.refresh();
    },
    clear() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/** What a call that ran out of time says about it. */
export function deadlineMessage(deadline: CallDeadline, timeoutMs: number): string {
  return deadline.stalled
    ? `the response stream stalled: nothing arrived for ${timeoutMs} ms`
    : `no response within ${timeoutMs} ms`;
}
