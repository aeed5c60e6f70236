import { allFieldsOf, KeelError, refuseUnknownFields } from '../core/index.js';
import type { Message, ModelAdapterV1, TextPart } from '../model/index.js';
import type { SummaryOutcome } from './run-summariser.js';

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
  /**
   * How completed steps that leave the working window are summarised: `'model'` (a call to
   * `summariserModel`, normally `tiers.model('fast')`), `'deterministic'` (one line built from
   * the step, no call) or your own function. Default: `'model'` when `summariserModel` is set,
   * else `'deterministic'`. Model and custom summaries are journaled (`step_summarised`), count
   * against the run's limits, and fall back to the deterministic line if they fail.
   */
  readonly summariser?: 'model' | 'deterministic' | StepSummariser;
  /**
   * The model `'model'` summaries come from. Default: the agent's own model when it is a
   * `fast`-tier model (from `defineModelTiers`); otherwise it must be given.
   */
  readonly summariserModel?: ModelAdapterV1;
  /** New summaries made before one step, at most (newest steps first). Default 4. */
  readonly maxSummariesPerStep?: number;
  /**
   * Give the model a `recall({ query })` tool (read effect) that searches the run's stored
   * results and returns the best matches in full with their provenance labels. Default false.
   */
  readonly recallTool?: boolean;
}

/** What a custom summariser is given: one completed step, and the deterministic line for it. */
export interface SummariserInput {
  /** The step (0-based model call) being summarised. */
  readonly step: number;
  readonly messages: readonly Message[];
  /** The deterministic summary of the same step. */
  readonly deterministic: string;
}

/**
 * Your own summariser: the summary text of one step. A throw (or an empty text) falls back to
 * the deterministic summary; the summary keeps the trust label of the step it summarises.
 */
export type StepSummariser = (
  input: SummariserInput,
  options: { readonly signal: AbortSignal },
) => Promise<string> | string;

/** The summariser in effect: plain data except for the model or function it calls. */
export type SummariserConfig =
  | { readonly kind: 'deterministic' }
  | { readonly kind: 'model'; readonly model: ModelAdapterV1 }
  | { readonly kind: 'custom'; readonly summarise: StepSummariser };

/**
 * Answers served from a recorded journal instead of the store and the summariser (set by
 * `replayRun`), so a replay sees exactly what the recorded run saw.
 */
export interface ContextReplay {
  /**
   * The stored results recalled for a step's assembly (by trigger), as recorded; `undefined`
   * for an assembly that ranked in memory.
   */
  recalled(step: number, trigger: 'step' | 'context_too_long'): readonly string[] | undefined;
  /** The summary recorded for a completed step. */
  summary(step: number): SummaryOutcome | undefined;
}

/** A summary of one step as journaled, keyed by the step it summarises. */
export type JournaledSummaries = ReadonlyMap<number, TextPart>;

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
  readonly summariser: SummariserConfig;
  readonly maxSummariesPerStep: number;
  readonly recallTool: boolean;
  /** Set only on a replay's copy of the agent. */
  readonly replay?: ContextReplay | undefined;
}

/** The context window assumed for a model whose window is not known. */
export const DEFAULT_CONTEXT_WINDOW_TOKENS = 128_000;

/** The fields of `ContextOptions`: any other is refused, as a misspelt option. */
const CONTEXT_FIELDS = allFieldsOf<ContextOptions>()([
  'windowTokens',
  'outputReserveTokens',
  'safetyMarginTokens',
  'compressAt',
  'pinned',
  'largeResultTokens',
  'previewChars',
  'maxRecalled',
  'windowSteps',
  'summariser',
  'summariserModel',
  'maxSummariesPerStep',
  'recallTool',
]);

/**
 * Validate context options at definition time; a bad field throws `invalid_definition` naming it.
 *
 * ```ts
 * resolveContextOptions('defineAgent("reader")', { windowTokens: 32_000, pinned: ['Never pay.'] });
 * ```
 */
export function resolveContextOptions(
  where: string,
  options: ContextOptions,
  agentModel?: ModelAdapterV1,
): ContextConfig {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "context.${field}" ${problem}`);
  };
  if (typeof options !== 'object' || options === null) {
    throw new KeelError('invalid_definition', `${where}: "context" must be an object`);
  }
  refuseUnknownFields(options, CONTEXT_FIELDS, fail);
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
  positive('maxSummariesPerStep', options.maxSummariesPerStep);
  if (options.recallTool !== undefined && typeof options.recallTool !== 'boolean') {
    fail('recallTool', 'must be a boolean');
  }
  const summariser = resolveSummariser(options, agentModel, fail);
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
    summariser,
    maxSummariesPerStep: options.maxSummariesPerStep ?? 4,
    recallTool: options.recallTool ?? false,
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

function resolveSummariser(
  options: ContextOptions,
  agentModel: ModelAdapterV1 | undefined,
  fail: (field: string, problem: string) => never,
): SummariserConfig {
  const { summariser, summariserModel } = options;
  if (
    summariserModel !== undefined &&
    (typeof summariserModel !== 'object' ||
      summariserModel === null ||
      (summariserModel as Partial<ModelAdapterV1>).specificationVersion !== 'v1' ||
      typeof summariserModel.doGenerate !== 'function')
  ) {
    fail('summariserModel', 'must be a ModelAdapterV1, for example tiers.model("fast")');
  }
  if (typeof summariser === 'function') return { kind: 'custom', summarise: summariser };
  const kind = summariser ?? (summariserModel ? 'model' : 'deterministic');
  if (kind === 'deterministic') return { kind };
  if (kind !== 'model') {
    fail('summariser', "must be 'model', 'deterministic' or a function");
  }
  const model = summariserModel ?? (agentModel?.tier === 'fast' ? agentModel : undefined);
  if (!model) {
    return fail(
      'summariserModel',
      "is required with summariser 'model' unless the agent's model is a fast-tier model (tiers.model('fast'))",
    );
  }
  return { kind: 'model', model };
}
