/**
 * Requests- and tokens-per-minute budgets of a model provider, shared by every worker on the
 * store. Each budget is paced: requests are spaced at least `PACED_MINUTE_MS / rpm` ms apart
 * and tokens at `PACED_MINUTE_MS / tpm` ms each, so no 60 s window the provider counts ever
 * sees more than `rpm` requests or `tpm` tokens, even when requests reach it up to
 * `WINDOW_MARGIN_MS` later than they were paced (a lock wait, a slow connection).
 * A provider's `retry-after` pauses its budget for everyone until then.
 *
 * ```ts
 * const waitMs = await store.providerBudgets.take({ key: 'openai', rpm: 60, tokens: 0, now });
 * if (waitMs > 0) await sleep(waitMs); // then ask again
 * ```
 */
export interface ProviderBudgets {
  /**
   * Take one request (and `tokens`) from `key`'s budget at `now`: `0` when taken, else how
   * long to wait before asking again (nothing is taken then).
   */
  take(request: BudgetRequest): Promise<number>;
  /** Nobody takes from `key`'s budget before `until` (a provider's `retry-after`). */
  pause(key: string, until: number): Promise<void>;
}

/** One request against a budget: its key, its paces, its tokens and the time. */
export interface BudgetRequest {
  readonly key: string;
  readonly rpm?: number | undefined;
  readonly tpm?: number | undefined;
  readonly tokens: number;
  readonly now: number;
}

/** A budget's state: when the next request and the next token may go, and any pause. */
export interface BudgetState {
  readonly nextRequestAt: number;
  readonly nextTokenAt: number;
  readonly pausedUntil: number;
}

/**
 * How much later than paced a request may reach the provider without breaking its rolling
 * minute. Paced exactly 60 s / rpm apart, the first and the (rpm+1)th request of a stretch are
 * exactly 60 s apart when taken: if the first one travels a millisecond longer, the provider
 * sees rpm + 1 in its window and answers 429.
 */
export const WINDOW_MARGIN_MS = 2_000;

/** The minute budgets are paced over: a provider's minute plus the margin. */
export const PACED_MINUTE_MS = 60_000 + WINDOW_MARGIN_MS;

/**
 * The pacing rule both stores apply: a request goes when the pause is over, the previous
 * request's spacing has passed and the tokens before it have been paid for; it then pushes the
 * next ones back. A request larger than a whole minute's tokens goes alone.
 */
export function admit(
  state: BudgetState,
  { rpm, tpm, tokens, now }: BudgetRequest,
): { readonly waitMs: number; readonly next: BudgetState } {
  const waitMs = Math.max(
    0,
    state.pausedUntil - now,
    state.nextRequestAt - now,
    state.nextTokenAt - now,
  );
  if (waitMs > 0) return { waitMs: Math.ceil(waitMs), next: state };
  return {
    waitMs: 0,
    next: {
      pausedUntil: state.pausedUntil,
      nextRequestAt:
        rpm === undefined ? now : Math.max(state.nextRequestAt, now) + PACED_MINUTE_MS / rpm,
      nextTokenAt:
        tpm === undefined
          ? now
          : Math.max(state.nextTokenAt, now) + (Math.min(tokens, tpm) * PACED_MINUTE_MS) / tpm,
    },
  };
}

/** A budget that has seen no request. */
export const FRESH_BUDGET: BudgetState = Object.freeze({
  nextRequestAt: 0,
  nextTokenAt: 0,
  pausedUntil: 0,
});
