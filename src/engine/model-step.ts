import type { ContextAssembly } from '../context/index.js';
import type { CallReview, ContextText } from '../guard/index.js';
import type { RunEvent } from '../journal/index.js';
import type { ModelAdapterV1, ModelRequest, ModelResponse } from '../model/index.js';
import { assembleContext } from './assemble-step.js';
import { callModel } from './call-model.js';
import { commitStep } from './commit-step.js';
import { planIntent } from './intent-step.js';
import type { Execution } from './execution.js';
import { gateCalls } from './gate-calls.js';
import { reviewCalls } from './guard-review.js';
import { preflightBudget } from './preflight-budget.js';
import { settleUsage } from './settle-usage.js';
import { validateCalls } from './validate-calls.js';

/** One model step as its stages fill it in. */
export interface ModelStep {
  /** The step's number: model calls completed before it. */
  readonly number: number;
  request: ModelRequest;
  /** What a managed context put in the request. */
  assembly: ContextAssembly | undefined;
  estimatedInputTokens: number;
  /** The model's reply, once a call succeeded. */
  reply?: ModelReply;
  /** The step's `model_called`, once usage is settled. */
  called?: Extract<RunEvent, { type: 'model_called' }>;
  /** The calls' events as they will be journaled: requested or rejected, reviewed, gated. */
  calls: RunEvent[];
  /**
   * What the run saw before this step, with provenance (what the guard and policies ground
   * arguments in); built only when something reads it.
   */
  context: readonly ContextText[] | undefined;
  /** Values of the run's private tool results, once the run is tainted (guarded agents only). */
  privateValues: readonly string[];
  /** The output monitor's `action_flagged` for a call, by call id. */
  readonly flags: Map<string, RunEvent[]>;
  /** The guard's review of each requested call, by call id. */
  readonly reviews: Map<string, CallReview>;
  /** Calls held for a human: they do not start with the step. */
  readonly held: Set<string>;
}

export interface ModelReply {
  readonly response: ModelResponse;
  /** The model that served (the agent's, or a fallback down its tier). */
  readonly model: ModelAdapterV1;
  readonly attempts: number;
  readonly latencyMs: number;
  readonly requestHash: string;
}

/** `next`: the step goes on to the next stage; `end`: this stage ended it (or the run). */
export type StageOutcome = 'next' | 'end';

/** A stage of a model step; the pure ones (review, gate) answer at once. */
export type StepStage = (
  execution: Execution,
  step: ModelStep,
) => StageOutcome | Promise<StageOutcome>;

/**
 * A model step, stage by stage, in the order of DESIGN's one path. Each stage has one job and
 * journals what it decided; the first to end the step (a limit, a final answer, a failure, an
 * abort) ends it. The calls it commits run next (`executeCalls`), or wait on a human
 * (`awaitApproval`).
 */
export const MODEL_STEP: readonly StepStage[] = [
  planIntent, // before the first step, the trusted task's consequential tools (`untrusted.plan`)
  assembleContext, // what the model sees: pinned · summaries · recent · recalled
  preflightBudget, // the estimate against the remaining tokens and cost
  callModel, // retry by error type · fallback down the tier · compress when too long
  settleUsage, // reported usage against the budget; a reply without calls is the answer
  validateCalls, // arguments parsed and checked; identical-call limit; out-of-scope calls
  reviewCalls, // the guard: provenance of each argument, the injection signal, the monitor
  gateCalls, // approval: confirm holds a call for a human, deny refuses it
  commitStep, // the step's events committed; allowed calls journaled as started
];

/** Run one model step through every stage. */
export async function runModelStep(execution: Execution): Promise<void> {
  const step: ModelStep = {
    number: execution.journal.state.steps,
    request: { system: '', messages: [], tools: [] },
    assembly: undefined,
    estimatedInputTokens: 0,
    calls: [],
    context: undefined,
    privateValues: [],
    flags: new Map(),
    reviews: new Map(),
    held: new Set(),
  };
  for (const stage of MODEL_STEP) {
    if (execution.signal.aborted) return;
    if ((await stage(execution, step)) === 'end') return;
  }
}
