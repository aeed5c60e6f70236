import { randomUUID } from 'node:crypto';
import {
  NO_COST_LIMIT,
  checkCostLimitShape,
  costLimitProblem,
  sideModels,
  costLimitSource,
  type Agent,
  type AgentLimits,
} from '../agent/index.js';
import { KeelError, TRUSTED_TASK, type Redactor } from '../core/index.js';
import { resolveLimits, runSecretSpec, type RunEvent, type RunLimits } from '../journal/index.js';

/**
 * A run's first event: the agent, the task (trusted: it came from the authenticated caller),
 * the model and the limits it runs under (the agent's, tightened or widened per run).
 */
export function runStarted({
  agent,
  task,
  modelSpec,
  limits,
  now,
  shadow,
  redact = [],
}: {
  readonly agent: Agent;
  readonly task: string;
  /** The model string the run was started with, when it overrides the agent's model. */
  readonly modelSpec: string | undefined;
  readonly limits: AgentLimits | undefined;
  readonly now: number;
  /** Set for a shadow run: the production run it repeats and its shadow's id. */
  readonly shadow?: { readonly of: string; readonly id: string } | undefined;
  /** The runtime's redactors, recorded with the tools' secret fields (see `RunSecretSpec`). */
  readonly redact?: readonly Redactor[] | undefined;
}): Extract<RunEvent, { type: 'run_started' }> {
  if (typeof task !== 'string' || task.trim() === '') {
    throw new KeelError('invalid_input', 'a run needs a non-empty task');
  }
  const { maxCostUsd: written, ...others } = limits ?? {};
  // Limits passed back as resolved (a replay's, a shadow's, a routed run's) hold 'tokens-only'
  // as the cost no run reaches.
  const maxCostUsd = written === NO_COST_LIMIT ? 'tokens-only' : written;
  checkCostLimitShape(`run of "${agent.name}"`, maxCostUsd, 'invalid_input');
  const overrides: Partial<RunLimits> =
    maxCostUsd === undefined
      ? others
      : { ...others, maxCostUsd: maxCostUsd === 'tokens-only' ? NO_COST_LIMIT : maxCostUsd };
  checkCostLimit(agent, maxCostUsd, modelSpec);
  const secrets = runSecretSpec(agent.tools, redact);
  return {
    type: 'run_started',
    agent: agent.name,
    task,
    taskProvenance: TRUSTED_TASK,
    model: { provider: agent.model.provider, modelId: agent.model.modelId },
    modelSpec,
    limits: resolveLimits(`run of "${agent.name}"`, { ...agent.limits, ...overrides }),
    startedAt: now,
    version: agent.version,
    ...(shadow ? { shadowOf: shadow.of, shadowId: shadow.id } : {}),
    ...(secrets ? { secrets } : {}),
  };
}

/**
 * A run's cost limit must hold as the agent's does: one set for the run, or the agent's own
 * on a model the run swapped in, needs every model it can run on priced. Fails before the run
 * is created, naming the fixes.
 */
export function checkCostLimit(
  agent: Agent,
  maxCostUsd: number | 'tokens-only' | undefined,
  modelSpec: string | undefined,
): void {
  if (costLimitSource(maxCostUsd, agent.costLimit) !== 'set') return;
  const problem = costLimitProblem(
    agent.model,
    maxCostUsd === undefined ? 'agent' : 'run',
    modelSpec,
    sideModels(agent.untrusted),
  );
  if (!problem) return;
  const whose = maxCostUsd === undefined ? "the agent's " : '';
  const on = modelSpec === undefined ? '' : ` on model "${modelSpec}"`;
  throw new KeelError('invalid_input', `run of "${agent.name}"${on}: ${whose}${problem}`);
}

/** Sortable, unique run ids: time prefix + randomness. */
export function newRunId(): string {
  return `run_${Date.now().toString(36)}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
