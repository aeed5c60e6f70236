/**
 * `keel/decide`: schema-validated decisions (retry with feedback, confidence floor, voting,
 * fallback, human review) and the router that picks an agent for a task.
 *
 * @packageDocumentation
 */
export {
  DECISION_OUTCOMES,
  DECISION_SOURCES,
  LOW_CONFIDENCE_ACTIONS,
  ROUTE_STATUSES,
  decide,
  defineRouter,
  memoryDecisionCache,
  resolveReview,
  reviewItem,
  startChosenRoute,
  storeDecisionCache,
  waitForReview,
  type CachedDecision,
  type Decision,
  type DecisionCache,
  type DecisionEvent,
  type DecisionOptions,
  type DecisionOutcome,
  type DecisionProposal,
  type DecisionSource,
  type LowConfidenceAction,
  type ReviewItem,
  type RouteLimits,
  type RouteOptions,
  type RouteResult,
  type RouteStatus,
  type RouteTarget,
  type Router,
  type RouterDefinition,
  type RunStarter,
} from '../decide/index.js';
