/** How long a model call may take (or a stream stay silent) unless its adapter says otherwise. */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;

/**
 * The deadline of one model call: its signal aborts `timeoutMs` after it starts. A streamed
 * reply moves it on with every event it receives, so a long reply that keeps arriving goes
 * on while a stalled stream ends after `timeoutMs` of silence.
 *
 * ```ts
 * const deadline = callDeadline(60_000);
 * try { for await (const chunk of stream(deadline.signal)) deadline.extend(); } finally { deadline.clear(); }
 * ```
 */
export interface CallDeadline {
  readonly signal: AbortSignal;
  /** Whether the call was given up on because the deadline passed. */
  readonly expired: boolean;
  /** Whether it passed during a stream, after something had arrived (a stalled stream). */
  readonly stalled: boolean;
  /** Something arrived: the call has another `timeoutMs` from now. */
  extend(): void;
  clear(): void;
}

export function callDeadline(timeoutMs: number): CallDeadline {
  const controller = new AbortController();
  let extended = false;
  const timer = setTimeout(() => {
    controller.abort();
  }, timeoutMs);
  return {
    signal: controller.signal,
    get expired() {
      return controller.signal.aborted;
    },
    get stalled() {
      return controller.signal.aborted && extended;
    },
    extend() {
      extended = true;
      timer.refresh();
    },
    clear() {
      clearTimeout(timer);
    },
  };
}

/** What a call that ran out of time says about it. */
export function deadlineMessage(deadline: CallDeadline, timeoutMs: number): string {
  return deadline.stalled
    ? `the response stream stalled: nothing arrived for ${timeoutMs} ms`
    : `no response within ${timeoutMs} ms`;
}
