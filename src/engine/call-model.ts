import { assembleRequest, preflight } from '../agent/index.js';
import { sleep, untilAborted } from '../core/index.js';
import { tokenCounter } from '../context/index.js';
import type { RunEvent } from '../journal/index.js';
import {
  checkUsage,
  FALLBACK_ERROR_TYPES,
  ModelCallError,
  type ModelAdapterV1,
  type ModelResponse,
} from '../model/index.js';
import type { Execution } from './execution.js';
import { modelRetryDelay } from './model-retry.js';
import type { ModelStep, StepStage } from './model-step.js';
import { requestDigest } from './request-digest.js';
import { presentRequest } from './untrusted-step.js';

const MODEL_DELAY_RANDOM = (): number => Math.random();

/**
 * Stage 3: the model call. What the model is about to see is journaled first. A failure is
 * journaled (`model_failed`) and decides the next move by its type: a request too long for the
 * provider is compressed to half and tried once more, a model that cannot serve hands over to
 * the next one down its tier at once, a retryable failure waits out its backoff (or the
 * provider's retry-after); anything else ends the run `failed`.
 */
export const callModel: StepStage = async (execution, step) => {
  const { agent, journal, signal, run } = execution;
  if (step.assembly)
    await journal.append([
      { type: 'context_assembled', step: step.number, trigger: 'step', ...step.assembly },
    ]);
  let compressedRetry = false;
  // The agent's model, then its tier's fallbacks, moved along on fallback-type failures.
  const chain: readonly ModelAdapterV1[] = [agent.model, ...(agent.model.fallbacks ?? [])];
  // A resumed step goes on from the model it had fallen back to.
  let link = journal.state.modelFallbacksThisStep;
  let requestHash = requestDigest(agent, step.request);
  let attempt = journal.state.modelFailuresThisStep;
  // The pre-flight checked the agent's own model; a fallback is checked at its own price.
  let checked: ModelAdapterV1 = agent.model;
  for (;;) {
    const model = chain[link] ?? agent.model;
    if (model !== checked) {
      const fits = preflight(
        agent,
        journal.state,
        { request: step.request, assembly: step.assembly },
        { model },
      );
      if (fits.type === 'stop') {
        await journal.stop({ limit: fits.limit, used: fits.used, max: fits.max });
        return 'end';
      }
      step.estimatedInputTokens = fits.estimatedInputTokens;
      checked = model;
    }
    attempt += 1;
    const startedAt = performance.now();
    let response: ModelResponse;
    try {
      // The provider's budget, shared by every worker, before anything is sent.
      await run.providerGate?.acquire(model, step.estimatedInputTokens, signal);
      // Raced with the run's signal: an adapter that ignores it cannot hold the run.
      const presented = presentRequest(agent, step.request, run.runId);
      run.onModelRequest?.(run.runId, { step: step.number }, presented);
      const afterSeq = journal.seq;
      const stepAttempt = attempt;
      const onTextDelta = run.onTextDelta;
      response = await untilAborted(
        model.doGenerate(presented, {
          signal,
          ...(onTextDelta
            ? {
                onTextDelta: heldUntil(journal.ahead, (text: string) => {
                  if (!signal.aborted)
                    onTextDelta(run.runId, {
                      step: step.number,
                      attempt: stepAttempt,
                      afterSeq,
                      text,
                    });
                }),
              }
            : {}),
        }),
        signal,
      );
      checkUsage(response.usage);
    } catch (error) {
      if (signal.aborted) return 'end';
      const failure = ModelCallError.isInstance(error)
        ? error
        : new ModelCallError(
            'server_error',
            error instanceof Error ? error.message : String(error),
            {
              cause: error,
            },
          );
      if (failure.type === 'rate_limited' && failure.retryAfterMs !== undefined)
        run.providerGate?.rateLimited(model, failure.retryAfterMs);
      const failed = {
        type: 'model_failed',
        step: step.number,
        attempt,
        errorType: failure.type,
        message: failure.message,
        statusCode: failure.statusCode,
      } as const;
      // Too long for the provider: compress to half of what was sent and try once more.
      if (failure.type === 'context_too_long' && !compressedRetry) {
        compressedRetry = true;
        await compress(execution, step, model, { ...failed, willRetry: true });
        requestHash = requestDigest(agent, step.request);
        continue;
      }
      const fallback = FALLBACK_ERROR_TYPES.has(failure.type) ? chain[link + 1] : undefined;
      const willRetry =
        fallback !== undefined || (failure.retryable && attempt < run.modelRetry.maxAttempts);
      const failedEvent: RunEvent = {
        ...failed,
        retryAfterMs: failure.retryAfterMs,
        willRetry,
        ...(fallback ? { fallbackTo: modelName(fallback) } : {}),
      };
      if (!willRetry) {
        await journal.finish(
          'failed',
          {
            type: 'model_error',
            errorType: failure.type,
            message: failure.message,
            attempts: attempt,
            statusCode: failure.statusCode,
          },
          [failedEvent],
        );
        return 'end';
      }
      await journal.append([failedEvent]);
      if (fallback) {
        // Another model can serve now: no reason to wait.
        link += 1;
        continue;
      }
      try {
        await sleep(
          modelRetryDelay(run.modelRetry, attempt, failure.retryAfterMs, MODEL_DELAY_RANDOM),
          { signal },
        );
      } catch {
        return 'end';
      }
      continue;
    }
    if (signal.aborted) return 'end';
    step.reply = {
      response,
      model,
      attempts: attempt,
      latencyMs: performance.now() - startedAt,
      requestHash,
    };
    return 'next';
  }
};

/** Re-assemble the step's request at half the tokens that were sent, journaled with the failure. */
async function compress(
  execution: Execution,
  step: ModelStep,
  model: ModelAdapterV1,
  failed: RunEvent,
): Promise<void> {
  const { agent, journal } = execution;
  const sentTokens = tokenCounter(model).request(step.request);
  const retry = assembleRequest(agent, journal.state, {
    budgetTokens: Math.floor(sentTokens / 2),
    recalledRefs: agent.context?.replay
      ? agent.context.replay.recalled(step.number, 'context_too_long')
      : execution.prepared.recalledRefs,
  });
  await journal.append([
    failed,
    ...(retry.assembly
      ? [
          {
            type: 'context_assembled',
            step: step.number,
            trigger: 'context_too_long',
            ...retry.assembly,
          } satisfies RunEvent,
        ]
      : []),
  ]);
  step.request = retry.request;
  step.estimatedInputTokens = agent.model.estimateInputTokens?.(step.request) ?? 0;
}

/**
 * Text deltas held until the commit started ahead of this call is durable, so followers hear of
 * a reply only after the results it answers; dropped if that commit fails (the run ends).
 */
function heldUntil(
  ahead: Promise<void> | undefined,
  deliver: (text: string) => void,
): (text: string) => void {
  if (!ahead) return deliver;
  let held: string[] | undefined = [];
  let dropped = false;
  ahead.then(
    () => {
      const texts = held ?? [];
      held = undefined;
      for (const text of texts) deliver(text);
    },
    () => {
      dropped = true;
      held = undefined;
    },
  );
  return (text) => {
    if (dropped) return;
    if (held) held.push(text);
    else deliver(text);
  };
}

/** `provider:modelId`, as the journal names a model. */
export function modelName(model: ModelAdapterV1): string {
  return `${model.provider}:${model.modelId}`;
}
