import { KeelError } from '../core/index.js';

/**
 * How an agent's context is assembled each step. Every field has a default; `{}` opts in to a
 * managed context with a 128k-token window.
 */
export interface ContextOptions {
  /** The model's context window in tokens. Default 128,000. */
  readonly windowTokens?: number;
  /** Tokens kept free for the reply. Default: the agent's `maxOutputTokens`, else 4,096. */
  readonly outputReserveTokens?: number;
  /** Tokens kept free for counting error and provider framing. Default 5% of the window. */
  readonly safetyMarginTokens?: number;
  /** Fraction of the budget at which compression starts (before the budget is reached). */
  readonly compressAt?: number;
  /** Trusted text from the definition that every call carries verbatim (hard constraints). */
  readonly pinned?: readonly string[];
  /** A tool result above this many tokens is stored and shown as a reference plus preview. */
  readonly largeResultTokens?: number;
  /** Characters of a stored result shown in its reference. Default 200. */
  readonly previewChars?: number;
  /** Stored results recalled per step at most. Default 3. */
  readonly maxRecalled?: number;
  /** Most recent steps kept as they were (the working window), at most. Default 20. */
  readonly windowSteps?: number;
}

/** Options with every default applied; plain data. */
export interface ContextConfig {
  readonly windowTokens: number;
  readonly outputReserveTokens: number | undefined;
  readonly safetyMarginTokens: number;
  readonly compressAt: number;
  readonly pinned: readonly string[];
  readonly largeResultTokens: number;
  readonly previewChars: number;
  readonly maxRecalled: number;
  readonly windowSteps: number;
}

export const DEFAULT_CONTEXT_WINDOW_TOKENS = 128_000;

/**
 * Validate context options at definition time; a bad field throws `invalid_definition` naming it.
 *
 * ```ts
 * resolveContextOptions('defineAgent("reader")', { windowTokens: 32_000, pinned: ['Never pay.'] });
 * ```
 */
export function resolveContextOptions(where: string, options: ContextOptions): ContextConfig {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "context.${field}" ${problem}`);
  };
  if (typeof options !== 'object' || options === null) {
    throw new KeelError('invalid_definition', `${where}: "context" must be an object`);
  }
  const positive = (field: keyof ContextOptions, value: unknown): void => {
    if (value !== undefined && (!Number.isInteger(value) || (value as number) <= 0)) {
      fail(field, 'must be a positive integer');
    }
  };
  positive('windowTokens', options.windowTokens);
  positive('outputReserveTokens', options.outputReserveTokens);
  positive('largeResultTokens', options.largeResultTokens);
  positive('previewChars', options.previewChars);
  positive('maxRecalled', options.maxRecalled);
  positive('windowSteps', options.windowSteps);
  if (
    options.safetyMarginTokens !== undefined &&
    (!Number.isInteger(options.safetyMarginTokens) || options.safetyMarginTokens < 0)
  ) {
    fail('safetyMarginTokens', 'must be a non-negative integer');
  }
  if (
    options.compressAt !== undefined &&
    (typeof options.compressAt !== 'number' || !(options.compressAt > 0 && options.compressAt <= 1))
  ) {
    fail('compressAt', 'must be a number in (0, 1]');
  }
  const pinned: readonly unknown[] = options.pinned ?? [];
  if (!Array.isArray(pinned) || pinned.some((text) => typeof text !== 'string' || text === '')) {
    fail('pinned', 'must be an array of non-empty strings');
  }
  const windowTokens = options.windowTokens ?? DEFAULT_CONTEXT_WINDOW_TOKENS;
  const config: ContextConfig = {
    windowTokens,
    outputReserveTokens: options.outputReserveTokens,
    safetyMarginTokens: options.safetyMarginTokens ?? Math.ceil(windowTokens * 0.05),
    compressAt: options.compressAt ?? 0.8,
    pinned: Object.freeze(pinned.map(String)),
    largeResultTokens: options.largeResultTokens ?? Math.max(64, Math.floor(windowTokens / 32)),
    previewChars: options.previewChars ?? 200,
    maxRecalled: options.maxRecalled ?? 3,
    windowSteps: options.windowSteps ?? 20,
  };
  if (budgetTokens(config, undefined) < windowTokens / 4) {
    fail('windowTokens', 'leaves less than a quarter of the window after reserve and margin');
  }
  return Object.freeze(config);
}

/**
 * The input budget: the window minus the output reserve minus the safety margin.
 *
 * ```ts
 * budgetTokens(config, agent.maxOutputTokens); // 128000 - 4096 - 6400
 * ```
 */
export function budgetTokens(config: ContextConfig, maxOutputTokens: number | undefined): number {
  const reserve = config.outputReserveTokens ?? maxOutputTokens ?? 4096;
  return config.windowTokens - reserve - config.safetyMarginTokens;
}
