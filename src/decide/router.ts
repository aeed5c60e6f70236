import { z } from 'zod';
import { KeelError, systemClock, type Clock } from '../core/index.js';
import type { ModelAdapterV1, ModelTiers } from '../model/index.js';
import type { DecisionRecord, Store } from '../store/index.js';
import type { DecisionCache } from './decision-cache.js';
import { decide, type Decision, type LowConfidenceAction } from './decide.js';

/** The limits a routed run inherits (what is left of its parent's). */
export interface RouteLimits {
  readonly maxIterations: number;
  readonly maxTokens: number;
  readonly maxCostUsd: number;
  readonly timeoutMs: number;
}

/** An executor a router can choose: an agent. */
export interface RouteTarget {
  readonly name: string;
  readonly description: string;
  readonly limits: RouteLimits;
}

/** What a router needs of the engine: a runtime. */
export interface RunStarter {
  readonly store: Store;
  agent(name: string): RouteTarget | undefined;
  submit(
    agentName: string,
    task: string,
    options?: { readonly limits?: Partial<RouteLimits> | undefined },
  ): Promise<{ readonly id: string }>;
  inspect(runId: string): Promise<{
    readonly state: {
      readonly limits: RouteLimits | undefined;
      readonly usage: {
        readonly inputTokens: number;
        readonly outputTokens: number;
        readonly costUsd: number;
      };
      readonly startedAt: number;
      readonly steps: number;
    };
  }>;
}

/** A router: its model or tier, its routes to executor agents, the confidence floor and the fallback route. */
export interface RouterDefinition {
  /** The router's model; without one, `tiers.model(tier)`. */
  readonly model?: ModelAdapterV1 | undefined;
  readonly tiers?: ModelTiers | undefined;
  /** Default `fast`. */
  readonly tier?: string | undefined;
  /** Route name → the executor agent it starts. */
  readonly routes: Readonly<Record<string, RouteTarget>>;
  /** What the choice is about; default: pick the route that fits the task. */
  readonly instructions?: string | undefined;
  readonly minConfidence?: number | undefined;
  /** Default `review`: a human picks the route when the router is unsure. */
  readonly onLowConfidence?: LowConfidenceAction | undefined;
  /** The route taken when no valid, confident choice is made. */
  readonly fallback: string;
  readonly retries?: number | undefined;
  readonly votes?: number | undefined;
  readonly cache?: DecisionCache | undefined;
}

/** Every way a routing can end. */
export const ROUTE_STATUSES = ['started', 'review', 'no_budget'] as const;
/** How a routing ended: a run started, a human asked to choose, or no budget left. */
export type RouteStatus = (typeof ROUTE_STATUSES)[number];

/** Where a routing went: the route chosen, its run, and the decision behind it. */
export interface RouteResult {
  readonly status: RouteStatus;
  readonly route: string;
  /** The executor's run, when one was started. */
  readonly runId: string | undefined;
  readonly decision: Decision<string>;
}

/** A task to route, and the budget or parent run its executor inherits limits from. */
export interface RouteOptions {
  readonly runtime: RunStarter;
  /** The run this routing is part of: the executor's limits are what is left of its budget. */
  readonly parentRunId?: string | undefined;
  /** A budget for the routing and the executor's run together, when there is no parent. */
  readonly budget?: Partial<RouteLimits> | undefined;
  readonly clock?: Clock | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Plain data kept with a routing decision under review: what to start once chosen. */
interface PendingRoute {
  readonly task: string;
  readonly routes: Readonly<Record<string, string>>;
  readonly budget: Partial<RouteLimits>;
}

/** A router: one structured choice, no tools, then the chosen executor's run. */
export interface Router {
  readonly routes: readonly string[];
  route(task: string, options: RouteOptions): Promise<RouteResult>;
}

/**
 * Define a router. It makes no tool calls: it asks its model (the `fast` tier by default) for
 * one of the route names, validated, and starts that executor's run with what is left of the
 * budget. Unsure (below `minConfidence`), it leaves a review item a human resolves with
 * `keel review <id> --choose <route>`, or takes the fallback route. Invalid definitions throw
 * `invalid_definition` naming the field.
 *
 * ```ts
 * const desk = defineRouter({
 *   tiers,
 *   routes: { refunds, shipping },
 *   minConfidence: 0.7,
 *   fallback: 'shipping',
 * });
 * const { runId } = await desk.route('Where is my parcel?', { runtime });
 * ```
 */
export function defineRouter(definition: RouterDefinition): Router {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `defineRouter: "${field}" ${problem}`);
  };
  if (typeof definition !== 'object' || (definition as unknown) === null)
    throw new KeelError('invalid_definition', 'defineRouter: the definition must be an object');
  const names = Object.keys(definition.routes ?? {});
  if (names.length === 0) fail('routes', 'must name at least one agent');
  for (const name of names) {
    const target = definition.routes[name];
    if (typeof target?.name !== 'string' || typeof target.limits !== 'object') {
      fail(`routes.${name}`, 'must be an agent from defineAgent');
    }
  }
  if (!names.includes(definition.fallback)) {
    fail('fallback', `must be one of the routes: ${names.join(', ')}`);
  }
  const minConfidence = definition.minConfidence ?? 0;
  if (!(minConfidence >= 0 && minConfidence <= 1)) fail('minConfidence', 'must be from 0 to 1');
  if (!definition.model && !definition.tiers) fail('model', 'or "tiers" is required');
  const model = definition.model ?? definition.tiers?.model(definition.tier ?? 'fast');
  const schema = z.enum(names as [string, ...string[]]);
  const instructions =
    definition.instructions ??
    [
      'Choose the one route that should handle the task. Routes:',
      ...names.map(
        (name) => `- ${name}: ${definition.routes[name]?.description || 'no description'}`,
      ),
    ].join('\n');
  const routes = Object.fromEntries(
    names.map((name) => [name, definition.routes[name]?.name ?? name]),
  );

  return Object.freeze({
    routes: Object.freeze(names),
    async route(task: string, options: RouteOptions): Promise<RouteResult> {
      const { runtime, clock = systemClock } = options;
      const budget = await budgetOf(options, clock);
      const decision = await decide({
        schema,
        instructions,
        input: task,
        model,
        retries: definition.retries,
        minConfidence,
        onLowConfidence: definition.onLowConfidence ?? 'review',
        fallback: definition.fallback,
        votes: definition.votes,
        cache: definition.cache,
        store: runtime.store,
        runId: options.parentRunId,
        kind: 'route',
        onResolve: { task, routes, budget } satisfies PendingRoute,
        clock,
        signal: options.signal,
      });
      const left = spend(budget, decision);
      if (decision.status === 'review') {
        return { status: 'review', route: decision.value, runId: undefined, decision };
      }
      const started = await startRoute(runtime, decision.id, routes, decision.value, task, left);
      return { ...started, decision };
    },
  });
}

/**
 * Start the run a resolved routing decision chose (after `resolveReview`), once: a decision
 * that already started its run returns that run.
 *
 * ```ts
 * await resolveReview({ store, id, value: 'refunds', decidedBy: 'ana' });
 * const { runId } = await startChosenRoute({ runtime, decisionId: id });
 * ```
 */
export async function startChosenRoute({
  runtime,
  decisionId,
}: {
  readonly runtime: RunStarter;
  readonly decisionId: string;
}): Promise<{ status: RouteStatus; route: string; runId: string | undefined }> {
  const record = await runtime.store.decisions.get(decisionId);
  if (!record) throw new KeelError('not_found', `no decision ${decisionId}`);
  const pending = pendingRouteOf(record);
  if (record.status === 'review' || typeof record.value !== 'string') {
    throw new KeelError('conflict', `decision ${decisionId} has no route chosen yet`);
  }
  if (record.startedRunId) {
    return { status: 'started', route: record.value, runId: record.startedRunId };
  }
  return startRoute(
    runtime,
    decisionId,
    pending.routes,
    record.value,
    pending.task,
    pending.budget,
  );
}

async function startRoute(
  runtime: RunStarter,
  decisionId: string,
  routes: Readonly<Record<string, string>>,
  route: string,
  task: string,
  budget: Partial<RouteLimits>,
): Promise<{ status: RouteStatus; route: string; runId: string | undefined }> {
  const agentName = routes[route];
  const target = agentName === undefined ? undefined : runtime.agent(agentName);
  if (!agentName || !target) {
    throw new KeelError('not_found', `route "${route}" names no agent of this runtime`);
  }
  const limits = capped(target.limits, budget);
  if (Object.values(limits).some((value) => value <= 0)) {
    return { status: 'no_budget', route, runId: undefined };
  }
  const run = await runtime.submit(agentName, task, { limits });
  await runtime.store.decisions.linkRun(decisionId, run.id);
  return { status: 'started', route, runId: run.id };
}

const LIMIT_KEYS = ['maxIterations', 'maxTokens', 'maxCostUsd', 'timeoutMs'] as const;

/** What is left of the parent run's limits, or the explicit budget. */
async function budgetOf(options: RouteOptions, clock: Clock): Promise<Partial<RouteLimits>> {
  if (!options.parentRunId) return { ...options.budget };
  const { state } = await options.runtime.inspect(options.parentRunId);
  const limits = state.limits;
  if (!limits) return { ...options.budget };
  return {
    maxIterations: limits.maxIterations - state.steps,
    maxTokens: limits.maxTokens - state.usage.inputTokens - state.usage.outputTokens,
    maxCostUsd: limits.maxCostUsd - state.usage.costUsd,
    timeoutMs: limits.timeoutMs - (clock.now() - state.startedAt),
  };
}

/** The budget less what the routing decision itself spent. */
function spend(budget: Partial<RouteLimits>, decision: Decision<string>): Partial<RouteLimits> {
  return {
    ...budget,
    ...(budget.maxTokens === undefined
      ? {}
      : {
          maxTokens: budget.maxTokens - decision.usage.inputTokens - decision.usage.outputTokens,
        }),
    ...(budget.maxCostUsd === undefined
      ? {}
      : { maxCostUsd: budget.maxCostUsd - (decision.costUsd ?? 0) }),
  };
}

function capped(own: RouteLimits, budget: Partial<RouteLimits>): Partial<RouteLimits> {
  const limits: Partial<Record<(typeof LIMIT_KEYS)[number], number>> = {};
  for (const key of LIMIT_KEYS) {
    const left = budget[key];
    if (left !== undefined && left < own[key]) {
      limits[key] = key === 'maxIterations' || key === 'timeoutMs' ? Math.floor(left) : left;
    }
  }
  return limits;
}

function pendingRouteOf(record: DecisionRecord): PendingRoute {
  const pending = record.onResolve as Partial<PendingRoute> | null;
  if (record.kind !== 'route' || !pending || typeof pending.task !== 'string' || !pending.routes) {
    throw new KeelError('invalid_input', `decision ${record.id} is not a routing decision`);
  }
  return { task: pending.task, routes: pending.routes, budget: pending.budget ?? {} };
}
