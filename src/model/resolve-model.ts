import { KeelError } from '../core/index.js';
import type { ModelAdapterV1 } from './model-adapter.js';
import { openaiChat } from './openai-adapter.js';

/**
 * Turn a model string into an adapter:
 * - `simulator`: the agent's own scripted simulator;
 * - `openai:<model>`: OpenAI Chat Completions with `OPENAI_API_KEY`, or any compatible server
 *   at `OPENAI_BASE_URL` (vLLM, Ollama, LiteLLM, ...).
 *
 * ```ts
 * const model = resolveModel('openai:gpt-4.1-mini', agent.model);
 * ```
 */
export function resolveModel(
  spec: string,
  agentModel: ModelAdapterV1,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ModelAdapterV1 {
  const [provider = '', ...rest] = spec.split(':');
  const modelName = rest.join(':');
  switch (provider) {
    case 'simulator':
      if (agentModel.provider !== 'simulator') {
        throw new KeelError(
          'invalid_config',
          `model "simulator": this agent has no simulator script`,
        );
      }
      return agentModel;
    case 'openai': {
      if (modelName === '')
        throw new KeelError(
          'invalid_config',
          'model "openai:" needs a model name, e.g. openai:gpt-4.1-mini',
        );
      const apiKey = env.OPENAI_API_KEY;
      const baseURL = env.OPENAI_BASE_URL;
      if (apiKey === undefined && baseURL === undefined) {
        throw new KeelError(
          'invalid_config',
          `model "${spec}" needs OPENAI_API_KEY, or OPENAI_BASE_URL for an OpenAI-compatible server`,
        );
      }
      return openaiChat({
        model: modelName,
        ...(apiKey === undefined ? { apiKey: 'unused' } : { apiKey }),
        ...(baseURL === undefined ? {} : { baseURL }),
      });
    }
    case 'anthropic':
      throw new KeelError(
        'invalid_config',
        `model "${spec}": the Anthropic adapter is not available in this version; use openai:<model> or an OpenAI-compatible server`,
      );
    default:
      throw new KeelError(
        'invalid_config',
        `unknown model "${spec}": use simulator or openai:<model>`,
      );
  }
}
