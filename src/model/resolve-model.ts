import { KeelError, MAX_TIMER_MS } from '../core/index.js';
import { isModelTimeout } from './call-deadline.js';
import { anthropicMessages } from './anthropic-adapter.js';
import type { ModelAdapterV1 } from './model-adapter.js';
import { openaiChat } from './openai-adapter.js';
import { projectPriceTable, type PriceTable } from './price-table.js';

/** What resolving a model string may use: the environment, a price table, the simulator's script. */
export interface ResolveModelOptions {
  /** Where keys and base URLs come from. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Prices to attach; defaults to {@link projectPriceTable} (`keel.prices.json`, then defaults). */
  readonly prices?: PriceTable;
  /** Told when a model has no known price (its cost will be `null`). Defaults to `console.warn`. */
  readonly onWarning?: (message: string) => void;
}

const MODEL_STRING_HELP =
  'simulator, anthropic:<model>, openai:<model> or openai-compatible:<baseURL>#<model>';

/**
 * Turn a model string into an adapter with its price attached:
 * - `simulator`: the agent's own scripted simulator;
 * - `anthropic:<model>`: Anthropic Messages with `ANTHROPIC_API_KEY` (and `ANTHROPIC_BASE_URL`
 *   when set);
 * - `openai:<model>`: OpenAI Chat Completions with `OPENAI_API_KEY` (and `OPENAI_BASE_URL`
 *   when set);
 * - `openai-compatible:<baseURL>#<model>`: any server speaking Chat Completions (Ollama, vLLM,
 *   llama.cpp server, OpenRouter, Together, Groq), with `OPENAI_COMPATIBLE_API_KEY` or
 *   `OPENAI_API_KEY` when the server needs a key.
 *
 * After the model name, `?timeoutMs=<ms>` sets the adapter's request timeout (default 60 s;
 * a streamed reply may go on while it keeps arriving, and ends after that long of silence):
 * `openai-compatible:http://127.0.0.1:11434/v1#llama3.1?timeoutMs=30000`.
 *
 * A comma-separated list (`anthropic:claude-haiku-4-5,openai:gpt-4.1-mini`) is a fallback
 * chain: the first model, with the others as its `fallbacks`.
 *
 * A model the price table does not know gets no price (cost `null`) and a warning.
 *
 * ```ts
 * const model = resolveModel('anthropic:claude-sonnet-4-6', agent.model);
 * const local = resolveModel('openai-compatible:http://127.0.0.1:11434/v1#llama3.1', agent.model);
 * ```
 */
export function resolveModel(
  spec: string,
  agentModel: ModelAdapterV1 | undefined,
  options: ResolveModelOptions = {},
): ModelAdapterV1 {
  // `a,b,c`: a fallback chain, walked by the engine on overloaded, unavailable or server_error.
  if (spec.includes(',')) {
    const [first, ...rest] = modelChain(spec).map((part) => resolveOne(part, agentModel, options));
    if (!first) throw new KeelError('invalid_config', `model "${spec}" names no model`);
    return { ...first, fallbacks: rest };
  }
  return resolveOne(spec, agentModel, options);
}

/**
 * The models a model string names, in the order its adapter's chain holds them: the model,
 * then its fallbacks.
 *
 * ```ts
 * modelChain('anthropic:claude-haiku-4-5, openai:gpt-4.1-mini') // ['anthropic:claude-haiku-4-5', 'openai:gpt-4.1-mini']
 * ```
 */
export function modelChain(spec: string): string[] {
  return spec
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

const warned = new Set<string>();

/** The default warning: each distinct message once per process, however often a model resolves. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

function resolveOne(
  spec: string,
  agentModel: ModelAdapterV1 | undefined,
  options: ResolveModelOptions,
): ModelAdapterV1 {
  const { env = process.env, onWarning = warnOnce } = options;
  const separator = spec.indexOf(':');
  const provider = separator === -1 ? spec : spec.slice(0, separator);
  const { rest, timeoutMs } = modelOptions(spec, separator === -1 ? '' : spec.slice(separator + 1));
  const timeout = timeoutMs === undefined ? {} : { timeoutMs };
  const priced = (model: ModelAdapterV1, baseURL?: string): ModelAdapterV1 =>
    withPrice({ model, spec, provider, baseURL, options, onWarning });
  switch (provider) {
    case 'simulator':
      if (agentModel?.provider !== 'simulator') {
        throw new KeelError(
          'invalid_config',
          `model "simulator": this agent has no simulator script`,
        );
      }
      return agentModel;
    case 'anthropic': {
      requireName(spec, rest, 'anthropic:claude-sonnet-4-6');
      const apiKey = env.ANTHROPIC_API_KEY;
      if (apiKey === undefined || apiKey === '') {
        throw new KeelError('invalid_config', `model "${spec}" needs ANTHROPIC_API_KEY`);
      }
      const baseURL = env.ANTHROPIC_BASE_URL;
      return priced(
        anthropicMessages({ model: rest, apiKey, ...(baseURL ? { baseURL } : {}), ...timeout }),
      );
    }
    case 'openai': {
      requireName(spec, rest, 'openai:gpt-4.1-mini');
      const apiKey = env.OPENAI_API_KEY;
      const baseURL = env.OPENAI_BASE_URL;
      if ((apiKey === undefined || apiKey === '') && !baseURL) {
        throw new KeelError(
          'invalid_config',
          `model "${spec}" needs OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server`,
        );
      }
      return priced(
        openaiChat({
          model: rest,
          apiKey: apiKey || 'unused',
          ...(baseURL ? { baseURL } : {}),
          ...timeout,
        }),
      );
    }
    case 'openai-compatible': {
      const hash = rest.lastIndexOf('#');
      const baseURL = hash === -1 ? '' : rest.slice(0, hash);
      const model = hash === -1 ? '' : rest.slice(hash + 1);
      if (!/^https?:\/\/[^#\s]+$/.test(baseURL) || model === '') {
        throw new KeelError(
          'invalid_config',
          `model "${spec}": expected openai-compatible:<baseURL>#<model>, e.g. openai-compatible:http://127.0.0.1:11434/v1#llama3.1`,
        );
      }
      // The SDK puts each endpoint's path after the base URL, so a query there breaks every
      // request; and an option there would be lost.
      if (baseURL.includes('?')) {
        throw new KeelError(
          'invalid_config',
          `model "${spec}": the base URL cannot carry a query; options go after the model, e.g. openai-compatible:http://127.0.0.1:11434/v1#llama3.1?timeoutMs=30000`,
        );
      }
      requireName(spec, model, 'openai-compatible:http://127.0.0.1:11434/v1#llama3.1');
      const apiKey = env.OPENAI_COMPATIBLE_API_KEY || env.OPENAI_API_KEY || 'unused';
      return priced(openaiChat({ model, baseURL, apiKey, ...timeout }), baseURL);
    }
    default:
      throw new KeelError('invalid_config', `unknown model "${spec}": use ${MODEL_STRING_HELP}`);
  }
}

const MODEL_OPTIONS = ['timeoutMs'] as const;

/**
 * The options after a model name (`openai:gpt-4.1-mini?timeoutMs=30000`,
 * `openai-compatible:<baseURL>#<model>?timeoutMs=30000`) and the spec without them.
 */
function modelOptions(spec: string, rest: string): { rest: string; timeoutMs?: number } {
  // Options follow the model name, which follows a compatible server's base URL.
  const at = rest.indexOf('?', Math.max(0, rest.lastIndexOf('#')));
  if (at === -1) return { rest };
  const options: { rest: string; timeoutMs?: number } = { rest: rest.slice(0, at) };
  for (const [key, value] of new URLSearchParams(rest.slice(at + 1))) {
    if (key !== 'timeoutMs') {
      throw new KeelError(
        'invalid_config',
        `model "${spec}": unknown option "${key}"; model strings take ${MODEL_OPTIONS.join(', ')}`,
      );
    }
    const timeoutMs = Number(value);
    if (!/^\d+$/.test(value) || !isModelTimeout(timeoutMs)) {
      throw new KeelError(
        'invalid_config',
        `model "${spec}": "timeoutMs" must be a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`,
      );
    }
    if (options.timeoutMs !== undefined) {
      throw new KeelError('invalid_config', `model "${spec}": "timeoutMs" is given twice`);
    }
    options.timeoutMs = timeoutMs;
  }
  return options;
}

function requireName(spec: string, name: string, example: string): void {
  if (name === '') {
    throw new KeelError('invalid_config', `model "${spec}" needs a model name, e.g. ${example}`);
  }
  // Options anywhere but last would be sent as part of the name, and their setting lost.
  if (/[?#\s]/.test(name)) {
    throw new KeelError(
      'invalid_config',
      `model "${spec}": a model name cannot hold "?", "#" or spaces; options go last, e.g. ${example}?timeoutMs=30000`,
    );
  }
}

function withPrice({
  model,
  spec,
  provider,
  baseURL,
  options,
  onWarning,
}: {
  model: ModelAdapterV1;
  spec: string;
  provider: string;
  baseURL: string | undefined;
  options: ResolveModelOptions;
  onWarning: (message: string) => void;
}): ModelAdapterV1 {
  const table = options.prices ?? projectPriceTable();
  const found = table.lookup(provider, model.modelId, baseURL);
  if (!found) {
    onWarning(
      `keel: no price known for model "${spec}"; its cost is recorded as unknown (null) and cost limits cannot be enforced. Add it to keel.prices.json.`,
    );
    return model;
  }
  return { ...model, price: found.price };
}
