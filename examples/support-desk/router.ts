import {
  defineRouter,
  memoryDecisionCache,
  type Agent,
  type DecisionCache,
  type ModelTiers,
  type Router,
} from '../../src/index.js';

/**
 * The desk's front door: a router on the `fast` tier that reads each ticket, chooses one of
 * the four executors (on `frontier`, each holding only the tools of its job) and starts its
 * run. Unsure (confidence below 0.7), it takes `general`. Identical tickets are served from
 * the decision cache.
 *
 * ```ts
 * const router = createSupportDeskRouter(agents, tiers);
 * const { runId, route } = await router.route(ticket, { runtime });
 * ```
 */
export function createSupportDeskRouter(
  agents: readonly Agent[],
  tiers: ModelTiers,
  cache: DecisionCache = memoryDecisionCache(),
): Router {
  const byName = new Map(agents.map((agent) => [agent.name, agent]));
  const route = (name: string): Agent => {
    const agent = byName.get(name);
    if (!agent) throw new Error(`the support desk has no ${name} agent`);
    return agent;
  };
  return defineRouter({
    tiers,
    tier: 'fast',
    routes: {
      refunds: route('refunds'),
      payments: route('payments'),
      account: route('account'),
      general: route('general'),
    },
    minConfidence: 0.7,
    onLowConfidence: 'fallback',
    fallback: 'general',
    cache,
  });
}
