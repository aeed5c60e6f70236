import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import { KeelError, once } from '../core/index.js';
import type { ModelPrice, PriceTier } from './model-adapter.js';

/**
 * One entry of a project's price override file: a model pattern and USD per million tokens
 * of each type, optionally tiered by input size.
 */
export interface PriceOverride extends ModelPrice {
  /**
   * The model id it prices: exact (`gpt-4.1-mini`), a glob with `*` (`claude-sonnet-4-*`),
   * or a regular expression between slashes (`/^ft:gpt-4o/`). Case-insensitive.
   */
  readonly match: string;
  /** Restrict to one provider (`openai`, `anthropic`, ...); any provider when unset. */
  readonly provider?: string | undefined;
}

/** Where a price came from. */
export type PriceSource = 'override' | 'genai-prices';

export interface PriceLookup {
  readonly price: ModelPrice;
  readonly source: PriceSource;
}

/** Finds the price of a model: project overrides first, then the bundled default table. */
export interface PriceTable {
  /** `baseURL` identifies the provider of an `openai-compatible` model (OpenRouter, Groq, ...). */
  lookup(provider: string, modelId: string, baseURL?: string): PriceLookup | undefined;
}

/** The parts of a price: per million tokens, and the tiers above an input size. */
const priceShapes = once(() => {
  const perMillion = z.number().nonnegative();
  const prices = {
    inputPerMillion: perMillion,
    outputPerMillion: perMillion,
    cacheReadPerMillion: perMillion.optional(),
    cacheWritePerMillion: perMillion.optional(),
  };
  const tiers = z
    .array(z.strictObject({ aboveInputTokens: z.number().int().nonnegative(), ...prices }))
    .optional();
  return { prices, tiers };
});

/** The schema of a price file, made when a file is first read (not when Keel is imported). */
const overrideFileSchema = once(() => {
  const { prices, tiers } = priceShapes();
  const overrideSchema = z.strictObject({
    match: z.string().min(1),
    provider: z.string().min(1).optional(),
    ...prices,
    tiers,
  });
  return z.strictObject({ models: z.array(overrideSchema) });
});

/** The schema of an adapter's `price` option. */
const modelPriceSchema = once(() => {
  const { prices, tiers } = priceShapes();
  return z.strictObject({ ...prices, tiers });
});

/**
 * Fails with `invalid_config` naming the field unless `price` is unset or a price a cost can be
 * computed from (see {@link modelPriceProblem}).
 *
 * ```ts
 * checkModelPrice('openaiChat', { inputPerMillion: 0.4, outputPerMillion: 1.6 }); // ok
 * checkModelPrice('openaiChat', { input: 0.4 }); // throws: openaiChat: "price.inputPerMillion" ...
 * ```
 */
export function checkModelPrice(where: string, price: unknown): void {
  const problem = modelPriceProblem(price);
  if (problem !== undefined) throw new KeelError('invalid_config', `${where}: ${problem}`);
}

/**
 * What is wrong with a model's `price`, naming the field, or `undefined` when it is unset or
 * a price a cost can be computed from: finite, non-negative USD per million tokens, no unknown
 * fields. A negative or missing price would make every cost negative or NaN, and a cost limit
 * would never fire.
 */
export function modelPriceProblem(price: unknown): string | undefined {
  if (price === undefined) return undefined;
  const parsed = modelPriceSchema().safeParse(price);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  const path = ['price', ...(issue?.path ?? [])].join('.');
  return `"${path}" ${issue?.message ?? 'is invalid'}`;
}

/** The file `keel prices` and the CLI read overrides from when none is named. */
export const DEFAULT_PRICE_FILE = 'keel.prices.json';

/**
 * Validate price overrides (e.g. the parsed JSON of `keel.prices.json`): `{ "models": [ ... ] }`.
 * Throws `KeelError` (`invalid_config`) naming the bad field.
 *
 * ```ts
 * parsePriceOverrides({ models: [{ match: 'my-finetune-*', inputPerMillion: 1, outputPerMillion: 4 }] });
 * ```
 */
export function parsePriceOverrides(value: unknown, where = 'price overrides'): PriceOverride[] {
  const parsed = overrideFileSchema().safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw new KeelError('invalid_config', `${where}: "${path}" ${issue?.message ?? 'is invalid'}`, {
      cause: parsed.error,
    });
  }
  for (const [index, entry] of parsed.data.models.entries()) {
    try {
      patternOf(entry.match);
    } catch (error) {
      throw new KeelError(
        'invalid_config',
        `${where}: "models.${index}.match" is not a valid pattern`,
        {
          cause: error,
        },
      );
    }
  }
  return parsed.data.models;
}

/** Reads and validates a price override file. */
export function loadPriceOverrides(path: string): PriceOverride[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new KeelError('invalid_config', `cannot read price file ${path}`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new KeelError('invalid_config', `price file ${path} is not valid JSON`, { cause: error });
  }
  return parsePriceOverrides(value, path);
}

/**
 * The `match` of a price-file entry for exactly this model id: the id itself, or, when the id
 * would be read as a glob (`*`) or a regular expression (`/…/`), an anchored expression of it.
 *
 * ```ts
 * priceFileMatch('llama3.1') // 'llama3.1'
 * priceFileMatch('/models/c++/') // '/^\\/models\\/c\\+\\+\\/$/'
 * ```
 */
export function priceFileMatch(modelId: string): string {
  if (!modelId.includes('*') && !/^\/.+\/$/.test(modelId)) return modelId;
  const escaped = modelId
    .replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
    // A line break written as itself would end the match early: `patternOf` reads `/(.+)/`.
    .replace(
      /[\n\r\u2028\u2029]/g,
      (end) => `\\u${end.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  return `/^${escaped}$/`;
}

function patternOf(match: string): RegExp {
  const regex = /^\/(.+)\/$/.exec(match);
  if (regex?.[1] !== undefined) return new RegExp(regex[1], 'i');
  const glob = match
    .split('*')
    .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${glob}$`, 'i');
}

export interface PriceTableOptions {
  readonly overrides?: readonly PriceOverride[];
  /** Fall back to `@pydantic/genai-prices` for models no override matches. Defaults to true. */
  readonly useDefaults?: boolean;
}

/**
 * A price table: the first override whose pattern (and provider, when set) matches wins, else
 * the default table. A model neither knows has no price, and its cost is `null`, never 0.
 *
 * ```ts
 * const prices = createPriceTable({ overrides: loadPriceOverrides('keel.prices.json') });
 * prices.lookup('anthropic', 'claude-sonnet-4-6')?.price; // { inputPerMillion: 3, ... }
 * ```
 */
export function createPriceTable({
  overrides = [],
  useDefaults = true,
}: PriceTableOptions = {}): PriceTable {
  const compiled = overrides.map((entry) => ({ entry, pattern: patternOf(entry.match) }));
  return {
    lookup(provider, modelId, baseURL) {
      for (const { entry, pattern } of compiled) {
        if (entry.provider !== undefined && entry.provider !== provider) continue;
        if (!pattern.test(modelId)) continue;
        const { match: _match, provider: _provider, ...price } = entry;
        return { price, source: 'override' };
      }
      if (!useDefaults) return undefined;
      const price = defaultPrice(provider, modelId, baseURL);
      return price ? { price, source: 'genai-prices' } : undefined;
    },
  };
}

let projectTable: { readonly cwd: string; readonly table: PriceTable } | undefined;

/**
 * The price table of the project in the working directory: `keel.prices.json` there when it
 * exists, over the defaults. Read once per working directory; a broken file throws
 * `invalid_config`.
 *
 * ```ts
 * projectPriceTable().lookup('openai', 'gpt-4.1-mini');
 * ```
 */
export function projectPriceTable(cwd = process.cwd()): PriceTable {
  if (projectTable?.cwd !== cwd) {
    const path = join(cwd, DEFAULT_PRICE_FILE);
    const overrides = existsSync(path) ? loadPriceOverrides(path) : [];
    projectTable = { cwd, table: createPriceTable({ overrides }) };
  }
  return projectTable.table;
}

/**
 * Whether a compatible server's base URL could be a provider the default table prices. A
 * server on this machine or a private network, or one spoken to over plain HTTP, is not one
 * (the table knows public HTTPS APIs only; Azure's pattern also takes `http`): its price is
 * unknown without loading the table, which costs a cold start hundreds of milliseconds.
 */
function maybePublicProvider(baseURL: string): boolean {
  let url: URL;
  try {
    url = new URL(baseURL);
  } catch {
    return true;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (/azure|cognitiveservices/.test(host)) return true;
  if (url.protocol !== 'https:') return false;
  return !(
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\./.test(host) ||
    /^10\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
    /^f[cd][0-9a-f]{2}:/.test(host)
  );
}

type GenaiPrices = typeof import('@pydantic/genai-prices');
type RawPrice = number | { base: number; tiers: readonly { start: number; price: number }[] };

// Loaded synchronously on first use: the table is ~1 MB of data most runs never need.
const require = createRequire(import.meta.url);
let genaiPrices: GenaiPrices | undefined;

/**
 * The default price of a model from `@pydantic/genai-prices` (offline data bundled with the
 * package), converted to Keel's shape; `undefined` when the table does not know the model.
 * An `openai-compatible` model is priced only when its base URL names a known provider (a
 * local server is not, and its cost stays unknown unless an override prices it).
 */
export function defaultPrice(
  provider: string,
  modelId: string,
  baseURL?: string,
): ModelPrice | undefined {
  let where: { providerId: string } | { providerApiUrl: string };
  if (provider === 'openai-compatible') {
    if (baseURL === undefined || !maybePublicProvider(baseURL)) return undefined;
    where = { providerApiUrl: baseURL };
  } else {
    where = { providerId: provider };
  }
  genaiPrices ??= require('@pydantic/genai-prices') as GenaiPrices;
  let result: ReturnType<GenaiPrices['calcPrice']>;
  try {
    result = genaiPrices.calcPrice({ input_tokens: 0, output_tokens: 0 }, modelId, where);
  } catch {
    // The table throws for providers it has never heard of: unknown price.
    return undefined;
  }
  if (!result) return undefined;
  const prices = result.model_price as Record<string, RawPrice | undefined>;
  const input = prices.input_mtok;
  const output = prices.output_mtok;
  if (input === undefined || output === undefined) return undefined;
  const keys = {
    inputPerMillion: input,
    outputPerMillion: output,
    cacheReadPerMillion: prices.cache_read_mtok,
    cacheWritePerMillion: prices.cache_write_mtok,
  };
  const starts = new Set<number>();
  for (const value of Object.values(keys)) {
    if (typeof value === 'object') for (const tier of value.tiers) starts.add(tier.start);
  }
  const at = (value: RawPrice | undefined, inputTokens: number): number | undefined => {
    if (value === undefined || typeof value === 'number') return value;
    let chosen = value.base;
    for (const tier of value.tiers) if (inputTokens > tier.start) chosen = tier.price;
    return chosen;
  };
  const pricesAt = (inputTokens: number) => {
    const cacheRead = at(keys.cacheReadPerMillion, inputTokens);
    const cacheWrite = at(keys.cacheWritePerMillion, inputTokens);
    return {
      inputPerMillion: at(keys.inputPerMillion, inputTokens) ?? 0,
      outputPerMillion: at(keys.outputPerMillion, inputTokens) ?? 0,
      ...(cacheRead === undefined ? {} : { cacheReadPerMillion: cacheRead }),
      ...(cacheWrite === undefined ? {} : { cacheWritePerMillion: cacheWrite }),
    };
  };
  const tiers: PriceTier[] = [...starts]
    .sort((left, right) => left - right)
    .map((start) => ({ aboveInputTokens: start, ...pricesAt(start + 1) }));
  return { ...pricesAt(0), ...(tiers.length > 0 ? { tiers } : {}) };
}
