import { randomUUID } from 'node:crypto';
import { type Agent } from '../agent/index.js';
import { type RunEvent, type RunLimits } from '../journal/index.js';
import { KeelError, sleep } from '../core/index.js';
import {
  ModelCallError,
  type ModelAdapterV1,
  type ModelRequest,
  type ModelResponse,
} from '../model/index.js';
import { openStore, type Store, type StoredEvent } from '../store/index.js';
import { ToolError, defineTool, type JournaledDecisionEntry, type Tool } from '../tools/index.js';
import { createRuntime, type Runtime } from './runtime.js';
import { digestWholeRequests, isWholeRequestDigest } from './request-digest.js';
import { newRunId } from './run-start.js';
import { contextReplay, interceptionsFromJournal } from './replay-served.js';

import { compareJournals, type ReplayReport } from './replay-compare.js';

export { compareJournals, type ReplayDivergence, type ReplayReport } from './replay-compare.js';

/**
 * Re-execute a recorded run with the current code of its agent (instructions, tools' schemas,
 * limits, the engine itself), serving every model response and every tool result from the
 * journal: no model is called and no tool runs, so nothing touches the world. The replay runs
 * on a throwaway in-memory store; its journal is compared with the recorded one, event by
 * event, and the first difference is reported. A model request that differs from the recorded
 * one (a changed instruction, tool or message) shows as a differing `requestHash`, where the
 * recorded journal has one.
 *
 * ```ts
 * const report = await replayRun({ agent: refunds, runId, journal: await store.readEvents(runId) });
 * report.identical // true when the current code does exactly what the run did
 * ```
 */
export async function replayRun({
  agent,
  runId,
  journal,
}: {
  readonly agent: Agent;
  readonly runId: string;
  readonly journal: readonly StoredEvent[];
}): Promise<ReplayReport> {
  const recorded = journal.map((entry) => entry.event);
  const started = recorded.find((event) => event.type === 'run_started');
  if (!started) throw new KeelError('invalid_input', `run ${runId} has no run_started event`);
  const replayAgent = servedFromJournal(agent, recorded, started.model);
  const store = await openStore('sqlite::memory:');
  // A shadow run replays as one (gates ask nobody), its intercepted calls routed as recorded.
  const shadow =
    started.shadowOf === undefined
      ? undefined
      : { of: started.shadowOf, id: started.shadowId ?? '' };
  const runtime = createRuntime({
    store,
    agents: [replayAgent],
    candidates: shadow ? [replayAgent] : [],
    interceptToolCall: interceptionsFromJournal(recorded),
    modelRetry: { initialDelayMs: 0, maxDelayMs: 0 },
  });
  let replayed: RunEvent[];
  const replayRunId = newRunId();
  const answering = new AbortController();
  try {
    const limits: Partial<RunLimits> = started.limits;
    const [result] = await Promise.all([
      runtime
        .run(replayAgent.name, started.task, { limits, runId: replayRunId, shadow })
        .finally(() => {
          answering.abort();
        }),
      answerApprovals(runtime, store, recorded, replayRunId, answering.signal),
    ]);
    replayed = (await store.readEvents(result.id)).map((entry) => entry.event);
  } finally {
    await runtime.close();
    await store.close();
  }
  return compareJournals(runId, recorded, replayed, replayRunId);
}

/**
 * Decide the replayed run's approvals as the recorded ones were decided (same decision, reason
 * and edited arguments; an expiry expires). An approval the recording never had, or a decision
 * the current code refuses, cancels the replay: the comparison then shows where it departed.
 */
async function answerApprovals(
  runtime: Runtime,
  store: Store,
  recorded: readonly RunEvent[],
  runId: string,
  signal: AbortSignal,
): Promise<void> {
  const decisions = new Map<string, Extract<RunEvent, { type: 'approval_decided' }>[]>();
  for (const event of recorded) {
    if (event.type !== 'approval_decided') continue;
    const key = `${event.step}:${event.callId}`;
    decisions.set(key, [...(decisions.get(key) ?? []), event]);
  }
  const answered = new Set<string>();
  const tokens = new Map<string, string>();
  while (!signal.aborted) {
    for (const approval of await store.approvals.list({ states: ['pending'], runId })) {
      if (answered.has(approval.id)) continue;
      answered.add(approval.id);
      const decision = decisions.get(`${approval.step}:${approval.callId}`)?.shift();
      try {
        if (!decision) throw new Error('no recorded decision');
        if (decision.decision === 'expired') {
          await store.approvals.expireDue(approval.expiresAt, { id: approval.id });
          continue;
        }
        let token = tokens.get(approval.approverGroup);
        if (token === undefined) {
          const added = await runtime.approvals.addApprover({
            // Names are unique in a store: each replay's own.
            name: `replay-${tokens.size + 1}-${randomUUID().slice(0, 8)}`,
            groups: [approval.approverGroup],
          });
          token = added.token;
          tokens.set(approval.approverGroup, token);
        }
        await runtime.approvals.decide({
          token,
          id: approval.id,
          decision: decision.decision === 'approved' ? 'approve' : 'deny',
          argsHash: approval.argsHash,
          reason: decision.reason,
          editedArgs: decision.editedInput,
        });
      } catch {
        await runtime.cancel(runId);
        return;
      }
    }
    await sleep(5, { signal }).catch(() => undefined);
  }
}

/** The agent with its model and tools replaced by the journal's recorded answers. */
function servedFromJournal(
  agent: Agent,
  recorded: readonly RunEvent[],
  model: { readonly provider: string; readonly modelId: string },
): Agent {
  const responses = new Map<number, Extract<RunEvent, { type: 'model_called' }>>();
  const failures = new Map<number, Extract<RunEvent, { type: 'model_failed' }>[]>();
  const outcomes = new Map<string, RunEvent[]>();
  // Decisions a call made, attached to the outcome of the attempt that made them.
  const decisions = new Map<RunEvent, JournaledDecisionEntry[]>();
  const pendingDecisions = new Map<string, JournaledDecisionEntry[]>();
  for (const event of recorded) {
    if (event.type === 'model_called') responses.set(event.step, event);
    else if (event.type === 'model_failed') {
      failures.set(event.step, [...(failures.get(event.step) ?? []), event]);
    } else if (event.type === 'decision_recorded') {
      const key = `${event.step}:${event.callId}`;
      const entry = { decisionId: event.decisionId, entry: event.entry };
      pendingDecisions.set(key, [...(pendingDecisions.get(key) ?? []), entry]);
    } else if (event.type === 'tool_finished' || event.type === 'tool_failed') {
      const key = `${event.step}:${event.callId}`;
      outcomes.set(key, [...(outcomes.get(key) ?? []), event]);
      decisions.set(event, pendingDecisions.get(key) ?? []);
      pendingDecisions.delete(key);
    }
  }
  let step = 0;
  let failedAttempts = 0;
  const replayModel: ModelAdapterV1 = {
    specificationVersion: 'v1',
    provider: model.provider,
    modelId: model.modelId,
    price: agent.model.price,
    ...(agent.model.estimateInputTokens
      ? { estimateInputTokens: agent.model.estimateInputTokens.bind(agent.model) }
      : {}),
    doGenerate(): Promise<ModelResponse> {
      const failure = failures.get(step)?.[failedAttempts];
      if (failure) {
        failedAttempts += 1;
        throw new ModelCallError(failure.errorType, failure.message, {
          statusCode: failure.statusCode,
          retryAfterMs: failure.retryAfterMs,
        });
      }
      const response = responses.get(step);
      if (!response) {
        throw new ModelCallError(
          'bad_request',
          `replay: the journal has no model response for step ${step}`,
        );
      }
      step += 1;
      failedAttempts = 0;
      return Promise.resolve({
        content: response.content,
        usage: response.usage,
        finishReason: response.finishReason,
        responseId: response.responseId,
        responseModel: response.responseModel,
      });
    },
  };
  // A journal from before chained request digests is compared with digests taken its way.
  if (
    [...responses.values()].some(
      ({ requestHash }) => requestHash && isWholeRequestDigest(requestHash),
    )
  )
    digestWholeRequests(replayModel);
  const tools = agent.tools.map((tool): Tool =>
    defineTool({
      ...tool,
      // The model is shown exactly what it was shown when the run was recorded.
      inputJsonSchema: tool.spec.inputSchema,
      retry: { ...tool.retry, initialDelayMs: 0, maxDelayMs: 0 },
      async run(_input, context) {
        // The step is the idempotency key's second-to-last part: `<run>:<step>:<index>`.
        const callStep = context.idempotencyKey.split(':').at(-2) ?? '';
        const outcome = outcomes.get(`${callStep}:${context.callId}`)?.shift();
        if (!outcome) {
          throw new ToolError(
            'internal',
            `replay: the journal has no result for ${tool.name} call ${context.callId}`,
          );
        }
        // The decisions the call made are served from the journal too: no model is asked.
        await context.journal?.append(decisions.get(outcome) ?? []);
        if (outcome.type === 'tool_finished') return outcome.content;
        if (outcome.type === 'tool_failed') {
          throw new ToolError(outcome.error.type, outcome.error.message, {
            retryAfterMs: outcome.error.retryAfterMs,
          });
        }
        throw new ToolError('internal', `replay: unexpected ${outcome.type}`);
      },
    }),
  );
  // Gates, limits and instructions stay the agent's own: they are the code under test.
  const served = agent.withModel(replayModel).withTools(tools);
  const withReader =
    agent.untrusted.handling === 'quarantine'
      ? served.withReaderModel(readerFromJournal(recorded, model, agent.untrusted.reader.model))
      : served;
  const withPlanner =
    agent.untrusted.plan === false
      ? withReader
      : withReader.withPlannerModel(
          plannerFromJournal(recorded, model, agent.untrusted.plan.model),
        );
  return agent.context
    ? withPlanner.withContext({ ...agent.context, replay: contextReplay(recorded) })
    : withPlanner;
}

/** The planner's recorded replies, served in order (no model is called). */
function plannerFromJournal(
  recorded: readonly RunEvent[],
  model: { readonly provider: string; readonly modelId: string },
  recordedWith: ModelAdapterV1 | undefined,
): ModelAdapterV1 {
  const replies = recorded.flatMap((event) =>
    event.type === 'intent_planned' ? repliesOf(event) : [],
  );
  return servedReplies(replies, model, 'planner', recordedWith);
}

/** The quarantined reader's recorded replies, served in order (no model is called). */
function readerFromJournal(
  recorded: readonly RunEvent[],
  model: { readonly provider: string; readonly modelId: string },
  recordedWith: ModelAdapterV1 | undefined,
): ModelAdapterV1 {
  const replies = recorded.flatMap((event) =>
    event.type === 'tool_quarantined' ? repliesOf(event) : [],
  );
  return servedReplies(replies, model, 'reader', recordedWith);
}

/** One recorded reply and the usage it reports when served. */
interface ServedReply {
  readonly text: string;
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number };
}

/**
 * An event's replies, each with the usage its attempt reported, so the run's totals (and the
 * budget's decision before each attempt) come out as they did. An event that records only the
 * attempts' sum serves all of it with the first reply; one written before that spending was
 * counted (no `costUsd`) is served at none, as its run's totals had it.
 */
function repliesOf(event: {
  readonly outputs: readonly string[];
  readonly usage?: { readonly inputTokens: number; readonly outputTokens: number } | undefined;
  readonly attemptUsage?:
    readonly { readonly inputTokens: number; readonly outputTokens: number }[] | undefined;
  readonly costUsd?: number | null | undefined;
}): ServedReply[] {
  const none = { inputTokens: 0, outputTokens: 0 };
  if (event.costUsd === undefined) return event.outputs.map((text) => ({ text, usage: none }));
  const each = event.attemptUsage;
  if (each?.length === event.outputs.length)
    return event.outputs.map((text, index) => ({ text, usage: each[index] ?? none }));
  const counted = event.usage ?? none;
  return event.outputs.map((text, index) => ({ text, usage: index === 0 ? counted : none }));
}

/**
 * A model that answers with `replies`, in order, and fails once they run out. It is priced and
 * counts tokens as `recordedWith`, the model the run was recorded with, so the budget decides
 * each call as the run did.
 */
function servedReplies(
  replies: ServedReply[],
  model: { readonly provider: string; readonly modelId: string },
  role: string,
  recordedWith: ModelAdapterV1 | undefined,
): ModelAdapterV1 {
  const price = recordedWith?.price;
  const estimate = recordedWith?.estimateInputTokens
    ? (request: ModelRequest) => recordedWith.estimateInputTokens?.(request) ?? 0
    : undefined;
  return {
    specificationVersion: 'v1',
    provider: model.provider,
    modelId: `${model.modelId}:${role}`,
    ...(price ? { price } : {}),
    ...(estimate ? { estimateInputTokens: estimate } : {}),
    doGenerate(): Promise<ModelResponse> {
      const reply = replies.shift();
      if (reply === undefined)
        return Promise.reject(
          new ModelCallError('bad_request', `replay: the journal has no further ${role} reply`),
        );
      return Promise.resolve({
        content: [{ type: 'text', text: reply.text }],
        usage: reply.usage,
        finishReason: 'stop',
      });
    },
  };
}
