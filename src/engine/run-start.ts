import { randomUUID } from 'node:crypto';
import type { Agent } from '../agent/index.js';
import { KeelError, TRUSTED_TASK } from '../core/index.js';
import { resolveLimits, type RunEvent, type RunLimits } from '../journal/index.js';

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
}: {
  readonly agent: Agent;
  readonly task: string;
  /** The model string the run was started with, when it overrides the agent's model. */
  readonly modelSpec: string | undefined;
  readonly limits: Partial<RunLimits> | undefined;
  readonly now: number;
  /** Set for a shadow run: the production run it repeats and its shadow's id. */
  readonly shadow?: { readonly of: string; readonly id: string } | undefined;
}): Extract<RunEvent, { type: 'run_started' }> {
  if (typeof task !== 'string' || task.trim() === '') {
    throw new KeelError('invalid_input', 'a run needs a non-empty task');
  }
  return {
    type: 'run_started',
    agent: agent.name,
    task,
    taskProvenance: TRUSTED_TASK,
    model: { provider: agent.model.provider, modelId: agent.model.modelId },
    modelSpec,
    limits: resolveLimits(`run of "${agent.name}"`, { ...agent.limits, ...limits }),
    startedAt: now,
    version: agent.version,
    ...(shadow ? { shadowOf: shadow.of, shadowId: shadow.id } : {}),
  };
}

/** Sortable, unique run ids: time prefix + randomness. */
export function newRunId(): string {
  return `run_${Date.now().toString(36)}${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}
