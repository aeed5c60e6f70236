import { modelOutputProvenance } from '../agent/index.js';
import { budgetReached, type RunEvent } from '../journal/index.js';
import { costOf, type FinishReason, type ModelResponse } from '../model/index.js';
import { deliverAnswer, holdAnswer } from './answer-step.js';
import { modelName } from './call-model.js';
import type { StepStage } from './model-step.js';
import { usageAfter } from './run-journal.js';

/**
 * Stage 4: the reply as `model_called`, with its reported usage and cost. A reply without tool
 * calls is the final answer (unless empty, cut off or filtered: then fed back), delivered through
 * the answer guard (`deliverAnswer`). Otherwise the
 * budget is settled with the reported usage: the call that crosses a limit completes, nothing
 * it asked for runs.
 */
export const settleUsage: StepStage = async (execution, step) => {
  const { agent, journal, limits } = execution;
  const reply = step.reply;
  if (!reply) return 'end';
  // Results are matched to calls by id: ids must be unique within a step.
  const response = withUniqueCallIds(reply.response, step.number);
  const called: Extract<RunEvent, { type: 'model_called' }> = {
    type: 'model_called',
    step: step.number,
    content: response.content,
    finishReason: response.finishReason,
    usage: response.usage,
    costUsd: costOf(response.usage, reply.model.price),
    estimatedInputTokens: step.estimatedInputTokens,
    latencyMs: Math.round(reply.latencyMs * 1000) / 1000,
    attempts: reply.attempts,
    provenance: modelOutputProvenance(journal.state),
    responseId: response.responseId,
    responseModel: response.responseModel,
    ...(reply.model === agent.model ? {} : { model: modelName(reply.model) }),
    requestHash: reply.requestHash,
  };
  step.reply = { ...reply, response };
  if (!response.content.some((part) => part.type === 'tool_call')) {
    const output = response.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
    const rejection = rejectFinalAnswer(step.number, response.finishReason, output);
    if (rejection) await journal.append([called, rejection]);
    else {
      const delivered = deliverAnswer(agent, journal.state, step.number, output);
      if (delivered.hold) {
        await journal.append([
          called,
          ...delivered.events,
          ...holdAnswer(execution, step.number, delivered.output),
        ]);
        return 'end';
      }
      await journal.finish(
        'succeeded',
        { type: 'final_answer' },
        [called, ...delivered.events],
        delivered.output,
      );
    }
    return 'end';
  }
  const usage = usageAfter(journal.state.usage, [called]);
  const reached = budgetReached(
    { tokens: usage.inputTokens + usage.outputTokens, costUsd: usage.costUsd },
    limits,
  );
  if (reached) {
    await journal.stop(reached, [called]);
    return 'end';
  }
  step.called = called;
  return 'next';
};

/** Empty or repeated call ids (some compatible servers send them) become `call_<step>_<i>`. */
function withUniqueCallIds(response: ModelResponse, step: number): ModelResponse {
  const seen = new Set<string>();
  let index = 0;
  let changed = false;
  const content = response.content.map((part) => {
    if (part.type !== 'tool_call') return part;
    let callId = part.callId;
    if (callId === '' || seen.has(callId)) {
      callId = `call_${step}_${index}`;
      while (seen.has(callId)) callId += '_';
      changed = true;
    }
    seen.add(callId);
    index += 1;
    return callId === part.callId ? part : { ...part, callId };
  });
  return changed ? { ...response, content } : response;
}

/** A reply without tool calls is a final answer unless it is empty, cut off or filtered. */
function rejectFinalAnswer(
  step: number,
  finishReason: FinishReason,
  output: string,
): RunEvent | undefined {
  const reject = (
    reason: 'empty' | 'truncated' | 'content_filter',
    feedback: string,
  ): RunEvent => ({
    type: 'model_output_rejected',
    step,
    reason,
    feedback,
  });
  if (finishReason === 'length') {
    return reject(
      'truncated',
      'Your reply was cut off by the output-token limit, so it cannot be the final answer. Reply again, more briefly.',
    );
  }
  if (finishReason === 'content_filter') {
    return reject(
      'content_filter',
      'Your reply was withheld by a content filter. Reply again within policy.',
    );
  }
  if (output.trim() === '') {
    return reject('empty', 'Your reply was empty. Give your final answer, or call a tool.');
  }
  return undefined;
}
