export {
  DECISION_OUTCOMES,
  DECISION_SOURCES,
  LOW_CONFIDENCE_ACTIONS,
  decide,
  type DecisionOptions,
  type Decision,
  type DecisionOutcome,
  type DecisionProposal,
  type DecisionSource,
  type LowConfidenceAction,
} from './decide.js';
export type { DecisionEvent } from '../journal/index.js';
export {
  memoryDecisionCache,
  storeDecisionCache,
  type CachedDecision,
  type DecisionCache,
} from './decision-cache.js';
export { resolveReview, reviewItem, waitForReview, type ReviewItem } from './review.js';
export {
  ROUTE_STATUSES,
  defineRouter,
  startChosenRoute,
  type RouteLimits,
  type RouteOptions,
  type RouteResult,
  type RouteStatus,
  type RouteTarget,
  type Router,
  type RouterDefinition,
  type RunStarter,
} from './router.js';
