import {
  addUsage,
  applyEvent,
  assembleRequest,
  foldRun,
  modelOutputProvenance,
  nextAction,
  stepsDueForSummary,
  validateToolCalls,
  waitedMs,
  type Agent,
  type LimitName,
  type NextAction,
  type PendingCall,
  type PreparedContext,
  type RunEvent,
  type RunReason,
  type RunState,
  type RunStatus,
  type UsageTotals,
} from '../agent/index.js';
import {
  KeelError,
  digest,
  sleep,
  untilAborted,
  type Clock,
  type Provenance,
} from '../core/index.js';
import {
  FALLBACK_ERROR_TYPES,
  ModelCallError,
  costOf,
  type FinishReason,
  type ModelAdapterV1,
  type ModelResponse,
} from '../model/index.js';
import type { Approvals } from '../approval/index.js';
import {
  RECALL_TOOL_NAME,
  largeResults,
  recallProvenance,
  recallTerms,
  recallTool,
  runSummariser,
  tokenCounter,
  type ContextAssembly,
  type ContextConfig,
} from '../context/index.js';
import type { NewAuditEntry, NewEvent, RunFinish, Store, StoredEvent } from '../store/index.js';
import {
  executeTool,
  type JournaledDecisionEntry,
  type ToolFailure,
  type ToolPolicies,
} from '../tools/index.js';
import type { DecisionEvent } from '../decide/index.js';
import type { RunObserver } from '../observe/index.js';
import { modelRetryDelay, type ModelRetryOptions } from './model-retry.js';
import { awaitApproval, gateCalls } from './approval-step.js';
import {
  presentRequest,
  quarantinedFailure,
  requestDigest,
  untrustedResultEvents,
} from './untrusted-step.js';

/** Why a run's signal was aborted. */
export type RunAbort =
  | { readonly kind: 'cancel'; readonly by: 'user' | 'shutdown' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'lease_lost' }
  | { readonly kind: 'release' }
  /** The executor stopped (finished or failed): stop anything it started that still runs. */
  | { readonly kind: 'ended' };

export interface ExecuteRunContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly workerId: string;
  readonly runId: string;
  /** The agent to execute the run with; may throw (e.g. a model this worker cannot build). */
  readonly resolveAgent: (state: RunState) => Agent;
  readonly modelRetry: ModelRetryOptions;
  readonly controller: AbortController;
  /** Claims beyond this end the run `failed` (worker_lost): the watchdog. */
  readonly maxClaims: number;
  /** Set when the run was claimed from the queue (not created by this process). */
  readonly claim?: { readonly number: number; readonly cancelRequested: boolean } | undefined;
  /** The run's journal when the caller already has it (saves a read). */
  readonly journal?: readonly StoredEvent[] | undefined;
  /** Called after each event commits. Must not throw; never awaited. */
  readonly onEvent?: ((runId: string, event: RunEvent) => void) | undefined;
  /** Called with each model request (a step's, or a summariser's) as it is sent. Same rules. */
  readonly onModelRequest?: RunObserver['onModelRequest'];
  /** This process's tool breakers, bulkheads, result cache and audit log. */
  readonly toolPolicies?: ToolPolicies | undefined;
  /** Tells approvers when a gated call creates an approval. */
  readonly approvals?: Approvals | undefined;
}

const MODEL_DELAY_RANDOM = (): number => Math.random();
/** Stored results a step's recall search returns at most (the assembly takes what fits). */
const RECALL_SEARCH_LIMIT = 20;

/**
 * Execute a run this worker holds until it finishes, its lease is lost, or it is released.
 * State comes from the journal: recorded model and tool results are never repeated, a started
 * but unfinished tool call is issued again with the same idempotency key, and every event is
 * committed before its effect is acted on. Returns the final state, or `undefined` when the run
 * is no longer this worker's to finish.
 */
export async function executeRun(context: ExecuteRunContext): Promise<RunState | undefined> {
  const { store, clock, workerId, runId, controller } = context;
  const stored = context.journal ?? (await store.readEvents(runId));
  const state = foldRun(stored.map((entry) => entry.event as RunEvent));
  let seq = stored.at(-1)?.seq ?? 0;
  // A run created in this process is on its first claim.
  const claimNumber = context.claim?.number ?? 1;
  const issuedHere = new Set<string>();
  // Decisions tools made inside their calls, by `<step>:<callId>`: served again on a re-run.
  const decisionsByCall = new Map<string, JournaledDecisionEntry[]>();
  for (const { event } of stored) {
    const recorded = event as RunEvent;
    if (recorded.type !== 'decision_recorded') continue;
    const key = `${recorded.step}:${recorded.callId}`;
    decisionsByCall.set(key, [
      ...(decisionsByCall.get(key) ?? []),
      { decisionId: recorded.decisionId, entry: recorded.entry },
    ]);
  }
  /** Large results already in the store's recall index (refs). */
  const indexed = new Set<string>();
  /** The store's recall search for the step being assembled (reused by a compressed retry). */
  let prepared: PreparedContext = {};

  async function append(
    events: RunEvent[],
    finish?: Omit<RunFinish, 'at'>,
    audit?: readonly NewAuditEntry[],
  ): Promise<void> {
    const at = clock.now();
    const entries = events.map((event) => ({
      seq: ++seq,
      at,
      event,
    }));
    await store.append({
      runId,
      guard: { leaseOwner: workerId, claim: claimNumber },
      events: entries,
      finish: finish ? { ...finish, at } : undefined,
      audit,
    });
    for (const event of events) {
      applyEvent(state, event);
      context.onEvent?.(runId, event);
    }
  }

  /** Commit `events` through `write` (e.g. together with parking the run); apply if it did. */
  async function commitWith(
    events: RunEvent[],
    write: (entries: NewEvent[]) => Promise<boolean>,
  ): Promise<boolean> {
    const at = clock.now();
    const entries = events.map((event, offset) => ({ seq: seq + 1 + offset, at, event }));
    if (!(await write(entries))) return false;
    seq += entries.length;
    for (const event of events) {
      applyEvent(state, event);
      context.onEvent?.(runId, event);
    }
    return true;
  }

  async function finish(
    status: RunStatus,
    reason: RunReason,
    events: RunEvent[],
    output: string | null = null,
    audit?: readonly NewAuditEntry[],
  ): Promise<void> {
    const usage = usageAfter(state.usage, events);
    const steps = state.steps + events.filter((event) => event.type === 'model_called').length;
    const finished: RunEvent = { type: 'run_finished', status, reason, output, usage, steps };
    await append(
      [...events, finished],
      {
        status,
        reason,
        output,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        costUsd: usage.costUsd,
        steps,
      },
      audit,
    );
  }

  // The watchdog comes before anything that can throw, so a run that keeps failing to start
  // still ends. Claims that ended in a clean release do not count as lost workers.
  if (context.claim) {
    const lost = context.claim.number - 1 - state.releases;
    if (lost >= context.maxClaims) {
      await finish('failed', { type: 'worker_lost', attempts: lost }, []);
      return state;
    }
  }
  if (!state.started) {
    await finish(
      'failed',
      { type: 'internal', message: 'the journal has no run_started event' },
      [],
    );
    return state;
  }
  let agent: Agent;
  try {
    agent = context.resolveAgent(state);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await finish('failed', { type: 'internal', message: `cannot start the agent: ${message}` }, []);
    return state;
  }

  const limits = state.limits ?? agent.limits;
  // Time parked on approvals does not count against the wall clock.
  const remainingMs =
    state.startedAt + limits.timeoutMs + waitedMs(state, clock.now()) - clock.now();
  // Referenced on purpose: a run in progress keeps the process alive until it ends.
  const timer = setTimeout(
    () => {
      controller.abort({ kind: 'timeout' } satisfies RunAbort);
    },
    Math.max(0, remainingMs),
  );
  try {
    if (context.claim) {
      await append([{ type: 'run_claimed', workerId, claim: context.claim.number }]);
      if (context.claim.cancelRequested) {
        await finish('cancelled', { type: 'cancelled', by: 'user' }, [
          { type: 'cancel_requested', by: 'user' },
        ]);
        return state;
      }
    }

    while (!state.finished) {
      if (controller.signal.aborted) return await onAbort();
      let action = nextAction(agent, state, clock.now());
      if (action.type === 'call_model' && agent.context) {
        // The lookups a managed context needs (summaries, the store's recall) happen here,
        // outside the step function and outside any transaction; then the step is decided
        // again with them, its limits now counting any summariser calls.
        prepared = await prepareContext(agent.context, action.context);
        if (controller.signal.aborted) return await onAbort();
        action = nextAction(agent, state, clock.now(), prepared);
      }
      if (action.type === 'await_approval') {
        const outcome = await awaitApproval(
          {
            store,
            clock,
            runId,
            workerId,
            claim: claimNumber,
            state,
            approvals: context.approvals,
            append,
            finish,
            commitWith,
          },
          action.calls,
        );
        // Parked: no lease, no worker; a decision queues it for any worker.
        if (outcome === 'suspended') return undefined;
        continue;
      }
      await act(action);
    }
    return state;
  } catch (error) {
    if (KeelError.isInstance(error) && error.code === 'lease_lost') return undefined;
    if (controller.signal.aborted) return await onAbort();
    throw error;
  } finally {
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort({ kind: 'ended' } satisfies RunAbort);
  }

  /**
   * Before a managed step: index new large results in the store, summarise steps leaving the
   * window (journaled, one `step_summarised` each), and search the store for the current goal.
   * `assembly` is the step's assembly without these lookups: it says which steps leave.
   */
  async function prepareContext(
    config: ContextConfig,
    assembly: ContextAssembly | undefined,
  ): Promise<PreparedContext> {
    const counter = tokenCounter(agent.model);
    const fresh = largeResults(state.messages, config, counter).filter(
      ({ ref, part }) =>
        !indexed.has(ref) && !(config.recallTool && part.toolName === RECALL_TOOL_NAME),
    );
    if (fresh.length > 0) {
      const createdAt = clock.now();
      await store.results.put(
        fresh.map(({ ref, step, part }) => ({
          runId,
          ref,
          step,
          callId: part.callId,
          toolName: part.toolName,
          content: part.content,
          trust: part.provenance.trust,
          source: part.provenance.source,
          createdAt,
        })),
      );
      for (const { ref } of fresh) indexed.add(ref);
    }
    if (config.summariser.kind !== 'deterministic') {
      for (const { step, messages } of stepsDueForSummary(agent, state, assembly)) {
        const outcome =
          config.replay?.summary(step) ??
          (await runSummariser(
            config.summariser,
            { step, messages, previewChars: config.previewChars },
            {
              signal: controller.signal,
              onRequest: (request) =>
                context.onModelRequest?.(
                  runId,
                  { step: state.steps, summarisedStep: step },
                  request,
                ),
            },
          ));
        if (controller.signal.aborted) return {};
        await append([
          { type: 'step_summarised', step: state.steps, summarisedStep: step, ...outcome },
        ]);
      }
    }
    if (config.replay) return { recalledRefs: config.replay.recalled(state.steps, 'step') };
    if (indexed.size === 0) return { recalledRefs: [] };
    const matches = await store.results.search({
      runId,
      terms: recallTerms(state.messages),
      limit: RECALL_SEARCH_LIMIT,
    });
    return { recalledRefs: matches.map((match) => match.ref) };
  }

  async function onAbort(): Promise<RunState | undefined> {
    const reason = controller.signal.reason as RunAbort;
    switch (reason.kind) {
      case 'lease_lost':
      case 'ended':
        return undefined;
      case 'release':
        // Recorded so the watchdog does not count a clean hand-over as a lost worker.
        await append([{ type: 'run_released', workerId }]);
        return undefined;
      case 'cancel':
        await finish('cancelled', { type: 'cancelled', by: reason.by }, [
          { type: 'cancel_requested', by: reason.by },
        ]);
        return state;
      case 'timeout': {
        const used = clock.now() - state.startedAt;
        await stop('timeout', used, limits.timeoutMs);
        return state;
      }
      default:
        reason satisfies never;
        return undefined;
    }
  }

  async function stop(
    limit: LimitName,
    used: number,
    max: number,
    events: RunEvent[] = [],
  ): Promise<void> {
    await finish('stopped', { type: 'limit', limit, used, max }, [
      ...events,
      { type: 'limit_hit', limit, used, max },
    ]);
  }

  async function act(action: NextAction): Promise<void> {
    switch (action.type) {
      case 'done':
        return;
      case 'stop':
        await stop(action.limit, action.used, action.max);
        return;
      case 'call_model':
        await callModel(action.request, action.estimatedInputTokens, action.context);
        return;
      case 'await_approval':
        return;
      case 'execute_tools': {
        // Every call settles before the step moves on or fails: none is left running unowned.
        const settled = await Promise.allSettled(action.calls.map((call) => runCall(call)));
        const failed = settled.find((result) => result.status === 'rejected');
        // A call that ended the run (a handoff) leaves the others nothing to write.
        if (failed && !state.finished) throw failed.reason;
        return;
      }
      default:
        action satisfies never;
    }
  }

  async function callModel(
    request: Parameters<Agent['model']['doGenerate']>[0],
    estimatedInputTokens: number,
    assembly?: Extract<NextAction, { type: 'call_model' }>['context'],
  ) {
    const step = state.steps;
    // What the model is about to see is journaled before it sees it.
    if (assembly) await append([{ type: 'context_assembled', step, trigger: 'step', ...assembly }]);
    let compressedRetry = false;
    // The agent's model, then its tier's fallbacks, moved along on fallback-type failures.
    const chain: readonly ModelAdapterV1[] = [agent.model, ...(agent.model.fallbacks ?? [])];
    // A resumed step goes on from the model it had fallen back to.
    let link = state.modelFallbacksThisStep;
    let requestHash = requestDigest(agent, request);
    let attempt = state.modelFailuresThisStep;
    for (;;) {
      const model = chain[link] ?? agent.model;
      attempt += 1;
      const startedAt = performance.now();
      let response: ModelResponse;
      try {
        // Raced with the run's signal: an adapter that ignores it cannot hold the run.
        const presented = presentRequest(agent, request, runId);
        context.onModelRequest?.(runId, { step }, presented);
        response = await untilAborted(
          model.doGenerate(presented, { signal: controller.signal }),
          controller.signal,
        );
      } catch (error) {
        if (controller.signal.aborted) return;
        const failure = ModelCallError.isInstance(error)
          ? error
          : new ModelCallError(
              'server_error',
              error instanceof Error ? error.message : String(error),
              { cause: error },
            );
        // Too long for the provider: compress to half of what was sent and try once more.
        if (failure.type === 'context_too_long' && !compressedRetry) {
          compressedRetry = true;
          const sentTokens = tokenCounter(model).request(request);
          const retry = assembleRequest(agent, state, {
            budgetTokens: Math.floor(sentTokens / 2),
            recalledRefs: agent.context?.replay
              ? agent.context.replay.recalled(step, 'context_too_long')
              : prepared.recalledRefs,
          });
          await append([
            {
              type: 'model_failed',
              step,
              attempt,
              errorType: failure.type,
              message: failure.message,
              statusCode: failure.statusCode,
              willRetry: true,
            },
            ...(retry.assembly
              ? [
                  {
                    type: 'context_assembled',
                    step,
                    trigger: 'context_too_long',
                    ...retry.assembly,
                  } satisfies RunEvent,
                ]
              : []),
          ]);
          request = retry.request;
          estimatedInputTokens = agent.model.estimateInputTokens?.(request) ?? 0;
          requestHash = requestDigest(agent, request);
          continue;
        }
        const fallback = FALLBACK_ERROR_TYPES.has(failure.type) ? chain[link + 1] : undefined;
        const willRetry =
          fallback !== undefined || (failure.retryable && attempt < context.modelRetry.maxAttempts);
        const failedEvent: RunEvent = {
          type: 'model_failed',
          step,
          attempt,
          errorType: failure.type,
          message: failure.message,
          statusCode: failure.statusCode,
          retryAfterMs: failure.retryAfterMs,
          willRetry,
          ...(fallback ? { fallbackTo: modelName(fallback) } : {}),
        };
        if (!willRetry) {
          await finish(
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
          return;
        }
        await append([failedEvent]);
        if (fallback) {
          // Another model can serve now: no reason to wait.
          link += 1;
          continue;
        }
        try {
          await sleep(
            modelRetryDelay(context.modelRetry, attempt, failure.retryAfterMs, MODEL_DELAY_RANDOM),
            {
              signal: controller.signal,
            },
          );
        } catch {
          return;
        }
        continue;
      }
      if (controller.signal.aborted) return;
      await recordResponse(
        step,
        attempt,
        response,
        estimatedInputTokens,
        performance.now() - startedAt,
        model,
        requestHash,
      );
      return;
    }
  }

  async function recordResponse(
    step: number,
    attempts: number,
    modelResponse: ModelResponse,
    estimatedInputTokens: number,
    latencyMs: number,
    model: ModelAdapterV1,
    requestHash: string,
  ): Promise<void> {
    // Results are matched to calls by id: ids must be unique within a step.
    const response = withUniqueCallIds(modelResponse, step);
    const modelEvent: RunEvent = {
      type: 'model_called',
      step,
      content: response.content,
      finishReason: response.finishReason,
      usage: response.usage,
      costUsd: costOf(response.usage, model.price),
      estimatedInputTokens,
      latencyMs: Math.round(latencyMs * 1000) / 1000,
      attempts,
      provenance: modelOutputProvenance(state),
      responseId: response.responseId,
      responseModel: response.responseModel,
      ...(model === agent.model ? {} : { model: modelName(model) }),
      requestHash,
    };
    const hasToolCalls = response.content.some((part) => part.type === 'tool_call');
    if (!hasToolCalls) {
      const output = response.content
        .map((part) => (part.type === 'text' ? part.text : ''))
        .join('');
      const rejection = rejectFinalAnswer(step, response.finishReason, output);
      if (rejection) await append([modelEvent, rejection]);
      else await finish('succeeded', { type: 'final_answer' }, [modelEvent], output);
      return;
    }
    // Settle the budget with reported usage: the call that crosses a limit completes, nothing
    // it asked for runs.
    const usage = usageAfter(state.usage, [modelEvent]);
    const usedTokens = usage.inputTokens + usage.outputTokens;
    if (usedTokens > limits.maxTokens)
      return stop('tokens', usedTokens, limits.maxTokens, [modelEvent]);
    if (usage.costKnown && usage.costUsd > limits.maxCostUsd) {
      return stop('cost', usage.costUsd, limits.maxCostUsd, [modelEvent]);
    }
    const validation = validateToolCalls(agent, state, step, response);
    if (validation.limitHit) {
      const { limit, used, max } = validation.limitHit;
      return stop(limit, used, max, [modelEvent, ...validation.events]);
    }
    const outOfScope = validation.events.find(
      (event) => event.type === 'tool_rejected' && event.outOfScope === true,
    );
    if (outOfScope?.type === 'tool_rejected' && agent.onOutOfScope === 'stop') {
      const reason: RunReason = { type: 'out_of_scope', toolName: outOfScope.toolName, step };
      return finish('stopped', reason, [modelEvent, ...validation.events]);
    }
    const gated = gateCalls({
      agent,
      state,
      runId,
      step,
      events: validation.events,
      now: clock.now(),
    });
    const started: RunEvent[] = [];
    for (const event of gated.events) {
      if (event.type !== 'tool_requested' || gated.held.has(event.callId)) continue;
      issuedHere.add(event.callId);
      started.push({
        type: 'tool_started',
        step,
        callId: event.callId,
        toolName: event.toolName,
        idempotencyKey: idempotencyKey(runId, step, event.index),
        attempt: 1,
      });
    }
    await append([modelEvent, ...gated.events, ...started]);
  }

  async function runCall(call: PendingCall): Promise<void> {
    const base = { step: call.step, callId: call.callId, toolName: call.toolName };
    const runtimeLabel: Provenance = { trust: 'trusted', source: 'runtime' };
    /** The call's final failure: fed back to the model as its result. */
    const fail = (
      error: ToolFailure,
      provenance: Provenance,
      attempt: number,
      audit?: readonly NewAuditEntry[],
    ) =>
      append(
        [
          { type: 'tool_failed', ...base, error, provenance, attempt, final: true },
          ...quarantinedFailure(agent, base, error, provenance),
        ],
        undefined,
        audit,
      );

    let tool = agent.tool(call.toolName);
    // `recall` searches this run's store (a replay's copy serves it from the journal instead).
    const recalling = agent.context?.recallTool === true && call.toolName === RECALL_TOOL_NAME;
    if (tool && recalling && !agent.context?.replay) tool = recallTool(store.results);
    if (!tool) {
      const message = `tool "${call.toolName}" is no longer defined on this agent`;
      await fail({ type: 'not_found', message }, runtimeLabel, call.attemptsStarted);
      return;
    }
    // The journal keeps the model's arguments as sent; the tool gets them parsed (zod
    // transforms included) the same way on the first run and after a resume.
    const parsed = tool.input.safeParse(call.input);
    if (!parsed.success) {
      const message = 'arguments no longer match the input schema';
      await fail({ type: 'invalid_input', message }, runtimeLabel, call.attemptsStarted);
      return;
    }
    const provenance: Provenance = {
      trust: tool.untrustedOutput ? 'untrusted' : 'trusted',
      source: `tool:${tool.name}`,
    };
    // After a crash: re-issue a started attempt that has no outcome; after a recorded
    // retryable failure, go on with the next attempt.
    const firstAttempt =
      call.attemptsStarted === 0
        ? 1
        : call.attemptsFailed >= call.attemptsStarted
          ? call.attemptsStarted + 1
          : call.attemptsStarted;
    const key = idempotencyKey(runId, call.step, call.index);
    const startedAt = performance.now();
    const outcome = await executeTool({
      tool,
      input: parsed.data,
      context: {
        idempotencyKey: key,
        runId,
        callId: call.callId,
        journal: {
          earlier: () => decisionsByCall.get(`${call.step}:${call.callId}`) ?? [],
          async append(entries) {
            if (entries.length === 0) return;
            await append(
              entries.map((entry) => ({
                type: 'decision_recorded',
                ...base,
                decisionId: entry.decisionId,
                entry: entry.entry as DecisionEvent,
              })),
            );
            const callKey = `${call.step}:${call.callId}`;
            decisionsByCall.set(callKey, [...(decisionsByCall.get(callKey) ?? []), ...entries]);
          },
        },
      },
      signal: controller.signal,
      firstAttempt,
      policies: context.toolPolicies,
      // No action policy decides yet: the agent's tool scope is what allows the call. Audit
      // entries commit with the journal events of the attempts they record.
      audit: {
        step: call.step,
        decision: { allowedBy: 'agent_tool_scope', policy: null },
        deferred: true,
      },
      hooks: {
        async beforeAttempt(attempt) {
          if (attempt === firstAttempt && issuedHere.has(call.callId)) return;
          issuedHere.add(call.callId);
          const reissued = attempt <= call.attemptsStarted;
          await append([
            {
              type: 'tool_started',
              ...base,
              idempotencyKey: key,
              attempt,
              ...(reissued ? { reissued } : {}),
            },
          ]);
        },
        async afterFailedAttempt(attempt, error: ToolFailure, willRetry, retryInMs, audit) {
          if (!willRetry || controller.signal.aborted) return;
          await append(
            [{ type: 'tool_failed', ...base, error, provenance, attempt, final: false, retryInMs }],
            undefined,
            audit,
          );
        },
      },
    });
    if (controller.signal.aborted || state.finished) return;
    if (!outcome.ok) {
      if (outcome.handoff === undefined) {
        await fail(outcome.failure, provenance, outcome.attempts, outcome.audit);
        return;
      }
      // The tool's handoff: the run ends escalated, its journal holding all gathered so far.
      const failed: RunEvent = {
        type: 'tool_failed',
        ...base,
        error: outcome.failure,
        provenance,
        attempt: outcome.attempts,
        final: true,
      };
      const reason: RunReason = {
        type: 'escalation',
        message: outcome.handoff,
        toolName: tool.name,
        error: outcome.failure,
      };
      await finish('escalated', reason, [failed], gatheredSoFar(state), outcome.audit);
      controller.abort({ kind: 'ended' } satisfies RunAbort);
      return;
    }
    // A fallback is marked to the model as well as in the journal.
    const content = resultText(
      outcome.degraded
        ? { degraded: true, error: outcome.degraded, result: outcome.value }
        : outcome.value,
    );
    if (content === undefined) {
      const message = `${tool.name} returned a result that is not JSON`;
      await fail({ type: 'internal', message }, provenance, outcome.attempts, outcome.audit);
      return;
    }
    // Detector signal and quarantine: committed with the result, before the model sees it.
    const untrusted =
      provenance.trust === 'untrusted'
        ? await untrustedResultEvents({
            agent,
            step: call.step,
            callId: call.callId,
            toolName: tool.name,
            content,
            signal: controller.signal,
          })
        : [];
    if (controller.signal.aborted || state.finished) return;
    await append(
      [
        {
          type: 'tool_finished',
          ...base,
          content,
          contentHash: digest(content),
          // Recalled text keeps the weakest label of what was recalled.
          provenance: recalling ? recallProvenance(content) : provenance,
          attempts: outcome.attempts,
          latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
          ...(outcome.degraded ? { degraded: outcome.degraded } : {}),
          ...(outcome.cache ? { cache: outcome.cache } : {}),
        },
        ...untrusted,
      ],
      undefined,
      outcome.audit,
    );
  }
}

/** What a run escalated by a handoff hands over: its task and every tool result so far. */
function gatheredSoFar(state: RunState): string {
  const results = state.messages.flatMap((message) =>
    message.parts.flatMap((part) =>
      part.type === 'tool_result'
        ? [{ toolName: part.toolName, isError: part.isError, content: part.content }]
        : [],
    ),
  );
  return JSON.stringify({ task: state.task, toolResults: results });
}

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

/** A tool's result as the model sees it; `undefined` when it cannot be JSON. */
function resultText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? 'null';
  } catch {
    return undefined;
  }
}

/** Stable across retries and resumes: derived from (run, step, call index). */
export function idempotencyKey(runId: string, step: number, index: number): string {
  return `${runId}:${step}:${index}`;
}

function usageAfter(usage: UsageTotals, events: readonly RunEvent[]): UsageTotals {
  return events.reduce(
    (total, event) => (event.type === 'model_called' ? addUsage(total, event) : total),
    usage,
  );
}

function modelName(model: ModelAdapterV1): string {
  return `${model.provider}:${model.modelId}`;
}
