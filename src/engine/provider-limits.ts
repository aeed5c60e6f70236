import { KeelError, sleep, type Clock } from '../core/index.js';
import type { ModelAdapterV1 } from '../model/index.js';
import type { ProviderBudgets } from '../store/index.js';

/** A provider's (or one of its models') budget: requests and tokens per minute. */
export interface ProviderLimit {
  /** Requests per minute, paced: never more than this in any minute. */
  readonly rpm?: number | undefined;
  /** Tokens per minute (a call counts its estimated input tokens), paced the same way. */
  readonly tpm?: number | undefined;
}

/**
 * Budgets by `provider` or `provider:modelId` (the more specific one applies), e.g.
 * `{ openai: { rpm: 500 }, 'anthropic:claude-sonnet-4-5': { rpm: 50, tpm: 40_000 } }`.
 */
export type ProviderLimits = Readonly<Record<string, ProviderLimit>>;

/** What a model call does with the provider's shared budget: wait its turn, report a 429. */
export interface ProviderGate {
  /** Wait until the model's budget admits one request of `tokens` (aborts with `signal`). */
  acquire(model: ModelAdapterV1, tokens: number, signal: AbortSignal): Promise<void>;
  /** The provider said `retry-after`: nobody calls it before then. */
  rateLimited(model: ModelAdapterV1, retryAfterMs: number): void;
}

/** Longest single wait before asking the budget again (another worker may have paused it). */
const MAX_WAIT_MS = 2_000;

/**
 * The gate for `limits` over the store's shared budgets, or `undefined` when no limits are
 * set. Bad limits throw `invalid_config` naming the field.
 */
export function providerGate({
  limits,
  budgets,
  clock,
}: {
  readonly limits: ProviderLimits | undefined;
  readonly budgets: ProviderBudgets;
  readonly clock: Clock;
}): ProviderGate | undefined {
  if (!limits || Object.keys(limits).length === 0) return undefined;
  for (const [key, limit] of Object.entries(limits)) {
    for (const field of ['rpm', 'tpm'] as const) {
      const value = limit[field];
      if (
        value !== undefined &&
        !(typeof value === 'number' && Number.isFinite(value) && value > 0)
      )
        throw new KeelError(
          'invalid_config',
          `createRuntime: "providerLimits.${key}.${field}" must be a positive number`,
        );
    }
    if (limit.rpm === undefined && limit.tpm === undefined)
      throw new KeelError(
        'invalid_config',
        `createRuntime: "providerLimits.${key}" needs rpm or tpm`,
      );
  }
  const budgetOf = (model: ModelAdapterV1): [string, ProviderLimit] | undefined => {
    const specific = `${model.provider}:${model.modelId}`;
    const limit = limits[specific];
    if (limit) return [specific, limit];
    const general = limits[model.provider];
    return general ? [model.provider, general] : undefined;
  };
  return {
    async acquire(model, tokens, signal) {
      const budget = budgetOf(model);
      if (!budget) return;
      const [key, { rpm, tpm }] = budget;
      for (;;) {
        const waitMs = await budgets.take({ key, rpm, tpm, tokens, now: clock.now() });
        if (waitMs === 0) return;
        // A little spread so waiting workers do not all ask at the same instant.
        await sleep(Math.min(waitMs, MAX_WAIT_MS) + Math.random() * 5, { signal });
      }
    },
    rateLimited(model, retryAfterMs) {
      const budget = budgetOf(model);
      if (!budget) return;
      budgets.pause(budget[0], clock.now() + retryAfterMs).catch(() => undefined);
    },
  };
}
