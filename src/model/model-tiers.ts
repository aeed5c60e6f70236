import { KeelError } from '../core/index.js';
import type { ModelAdapterV1 } from './model-adapter.js';
import { resolveModel, type ResolveModelOptions } from './resolve-model.js';

/**
 * The tiers every deployment is expected to name: `fast` (cheap, for routing, summaries and
 * quarantined reads) and `frontier` (the strongest model). Custom tiers are allowed too.
 */
export const MODEL_TIERS = ['fast', 'frontier'] as const;
export type WellKnownTier = (typeof MODEL_TIERS)[number];

/** Per tier, its models in fallback order: model strings or adapters. */
export type ModelTierConfig = Readonly<Record<string, readonly (string | ModelAdapterV1)[]>>;

/** Tiers resolved to models. */
export interface ModelTiers {
  readonly names: readonly string[];
  /**
   * The tier's first model, carrying the rest as its fallback chain (`fallbacks`) and the
   * tier's name (`tier`). Throws `invalid_config` for a tier that is not configured.
   */
  model(tier: string): ModelAdapterV1;
}

const TIER_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/**
 * Map tier names to models with a fallback chain each. Model strings are resolved now (keys
 * from the environment, prices attached), so a bad entry fails at definition time naming it.
 * On `overloaded`, `unavailable` or `server_error` the engine moves to the tier's next model
 * and journals the move (`model_failed` with `fallbackTo`).
 *
 * ```ts
 * const tiers = defineModelTiers({
 *   fast: ['anthropic:claude-haiku-4-5', 'openai:gpt-4.1-mini'],
 *   frontier: ['anthropic:claude-sonnet-4-6', 'openai:gpt-4.1'],
 * });
 * const triage = defineAgent({ name: 'triage', model: tiers.model('fast'), instructions: '...' });
 * ```
 */
export function defineModelTiers(
  config: ModelTierConfig,
  options: ResolveModelOptions = {},
): ModelTiers {
  if (typeof config !== 'object' || config === null) {
    throw new KeelError('invalid_config', 'defineModelTiers: expected an object of tiers');
  }
  const tiers = new Map<string, readonly ModelAdapterV1[]>();
  for (const [name, entries] of Object.entries(config)) {
    const where = `defineModelTiers: "${name}"`;
    if (!TIER_NAME.test(name)) {
      throw new KeelError('invalid_config', `${where} is not a valid tier name`);
    }
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new KeelError('invalid_config', `${where} must list at least one model`);
    }
    const models = entries.map((entry: string | ModelAdapterV1, index): ModelAdapterV1 => {
      if (typeof entry === 'string') {
        try {
          return resolveModel(entry, undefined, options);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          throw new KeelError('invalid_config', `${where}[${index}]: ${reason}`, { cause: error });
        }
      }
      if (typeof entry !== 'object' || entry.specificationVersion !== 'v1') {
        throw new KeelError(
          'invalid_config',
          `${where}[${index}] must be a model string or a ModelAdapterV1`,
        );
      }
      return entry;
    });
    tiers.set(name, Object.freeze(models));
  }
  const sibling = (tier: string): ModelAdapterV1 | undefined =>
    tiers.has(tier) ? set.model(tier) : undefined;
  const set: ModelTiers = Object.freeze({
    names: Object.freeze([...tiers.keys()]),
    model(tier: string): ModelAdapterV1 {
      const models = tiers.get(tier);
      const [first, ...rest] = models ?? [];
      if (!first) {
        throw new KeelError(
          'invalid_config',
          `model tier "${tier}" is not configured; configured tiers: ${[...tiers.keys()].join(', ') || 'none'}`,
        );
      }
      return Object.freeze({ ...first, tier, fallbacks: Object.freeze(rest), sibling });
    },
  });
  return set;
}
