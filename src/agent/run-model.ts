import type { Agent } from './define-agent.js';
import { resolveModel, type ModelAdapterV1 } from '../model/index.js';

/**
 * A model string a run or an evaluation swaps in for `agent`'s model. The warning that an
 * unpriced model's cost limits cannot be enforced is left out for an agent that chose
 * `maxCostUsd: 'tokens-only'`: it has none to enforce.
 */
export function resolveRunModel(spec: string, agent: Agent): ModelAdapterV1 {
  return resolveModel(
    spec,
    agent.model,
    agent.costLimit === 'tokens-only' ? { onWarning: () => undefined } : {},
  );
}
