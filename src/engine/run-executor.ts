import { actionBeforeStep, type Agent } from '../agent/index.js';
import { KeelError, timerDelay } from '../core/index.js';
import {
  elapsedMs,
  queueTimeReached,
  remainingTimeMs,
  startedWithoutOutcome,
  type InDoubtCall,
  type RunState,
  type StoredEvent,
} from '../journal/index.js';
import type { JournaledDecisionEntry } from '../tools/index.js';
import { awaitApproval } from './await-approval.js';
import { executeCalls } from './execute-calls.js';
import { enterExecution } from './executing-runs.js';
import { endLostRun } from './watchdog.js';
import type { ExecuteRunContext, Execution, RunAbort } from './execution.js';
import { runModelStep } from './model-step.js';
import { RunJournal } from './run-journal.js';

export { idempotencyKey, type ExecuteRunContext, type RunAbort } from './execution.js';

/**
 * Execute a run this worker holds until it finishes, its lease is lost, or it is released.
 * State comes from the journal: recorded model and tool results are never repeated, a started
 * but unfinished tool call is issued again with the same idempotency key, and every event is
 * committed before its effect is acted on. Returns the final state, or `undefined` when the run
 * is no longer this worker's to finish.
 *
 * The loop is DESIGN's one path: each turn is a model step (`MODEL_STEP`), the calls it let
 * run (`executeCalls`), or a wait for a human (`awaitApproval`), until the run ends.
 */
export async function executeRun(context: ExecuteRunContext): Promise<RunState | undefined> {
  const { clock, workerId, controller } = context;
  const stored = context.journal ?? (await context.store.readEvents(context.runId));
  const journal = await RunJournal.open({
    store: context.store,
    clock,
    runId: context.runId,
    // A run created in this process is on its first claim.
    guard: { leaseOwner: workerId, claim: context.claim?.number ?? 1 },
    journal: stored,
    ahead: context.created,
    onEvent: context.onEvent,
  });
  const state = journal.state;
  const agent = await agentOrEnd(context, journal);
  if (!agent) return state;
  const execution: Execution = {
    run: context,
    agent,
    limits: state.limits ?? agent.limits,
    unjournaledSpending: { tokens: 0, costUsd: 0 },
    journal,
    signal: controller.signal,
    issuedHere: new Set(),
    decisionsByCall: decisionsByCall(stored),
    indexed: new Set(),
    prepared: {},
  };
  const leave = enterExecution();
  // Referenced on purpose: a run in progress keeps the process alive until it ends.
  const timer = setTimeout(
    () => {
      controller.abort({ kind: 'timeout' } satisfies RunAbort);
    },
    timerDelay(remainingTimeMs(state, execution.limits, clock.now())),
  );
  try {
    // The claim's `run_claimed` event was committed with the claim itself.
    if (context.claim) {
      if (context.claim.cancelRequested) {
        await journal.finish('cancelled', { type: 'cancelled', by: 'user' }, [
          { type: 'cancel_requested', by: 'user' },
        ]);
        return state;
      }
      const queued = state.claims === 1 ? queueTimeReached(state, execution.limits) : undefined;
      if (queued) {
        await journal.stop(queued);
        return state;
      }
    }
    while (!state.finished) {
      if (controller.signal.aborted) return await onAbort(execution);
      if (state.heldAnswer?.decision !== undefined) {
        await deliverHeldAnswer(execution);
        continue;
      }
      const action = actionBeforeStep(agent, state, clock.now());
      switch (action?.type) {
        case undefined:
          await runModelStep(execution);
          break;
        case 'execute_tools':
          await executeCalls(execution, action.calls);
          break;
        case 'await_approval':
          // Parked: no lease, no worker; a decision queues it for any worker.
          if ((await awaitApproval(execution, action.calls)) === 'suspended') return undefined;
          break;
        case 'stop':
          await journal.stop(action);
          break;
        case 'done':
          break;
        default:
          action satisfies never;
      }
    }
    return state;
  } catch (error) {
    if (KeelError.isInstance(error) && error.code === 'lease_lost') return undefined;
    if (controller.signal.aborted) return await onAbort(execution);
    // What the run did before the failure stays in its journal, as if nothing was deferred.
    await journal.flush().catch(() => undefined);
    throw error;
  } finally {
    leave();
    clearTimeout(timer);
    if (!controller.signal.aborted) controller.abort({ kind: 'ended' } satisfies RunAbort);
  }
}

/**
 * A final answer a person decided on (`untrusted.answer: 'confirm'`): approved, it is the run's
 * output; denied or expired, the run ends `escalated` without one.
 */
async function deliverHeldAnswer(execution: Execution): Promise<void> {
  const held = execution.journal.state.heldAnswer;
  if (!held?.decision) return;
  if (held.decision === 'approved') {
    await execution.journal.finish('succeeded', { type: 'final_answer' }, [], held.output);
    return;
  }
  await execution.journal.finish(
    'escalated',
    {
      type: 'escalation',
      message: `the final answer was ${held.decision === 'denied' ? 'denied' : 'not approved in time'} (the answer guard held it)`,
    },
    [],
  );
}

/**
 * The agent to execute with, or `undefined` once the run was ended before it started: by the
 * watchdog (claims lost to dead workers beyond `maxClaims`), a journal with no start, or an
 * agent this worker cannot build. The watchdog comes before anything that can throw, so a run
 * that keeps failing to start still ends.
 */
async function agentOrEnd(
  context: ExecuteRunContext,
  journal: RunJournal,
): Promise<Agent | undefined> {
  const state = journal.state;
  if (context.claim) {
    // Claims that ended in a clean release do not count as lost workers.
    const lost = context.claim.number - 1 - state.releases;
    if (lost >= context.maxClaims) {
      await endLostRun(context, journal, lost);
      return undefined;
    }
  }
  if (!state.started) {
    await journal.finish(
      'failed',
      { type: 'internal', message: 'the journal has no run_started event' },
      [],
    );
    return undefined;
  }
  try {
    return context.resolveAgent(state);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await journal.finish(
      'failed',
      { type: 'internal', message: `cannot start the agent: ${message}` },
      [],
    );
    return undefined;
  }
}

/** What an aborted signal means for the run: released, cancelled, timed out, or not ours. */
async function onAbort(execution: Execution): Promise<RunState | undefined> {
  const { journal, run } = execution;
  const reason = execution.signal.reason as RunAbort;
  switch (reason.kind) {
    case 'lease_lost':
    case 'ended':
      return undefined;
    case 'not_created':
      throw reason.error;
    case 'release':
      // Recorded so the watchdog does not count a clean hand-over as a lost worker.
      await journal.append([{ type: 'run_released', workerId: run.workerId }]);
      return undefined;
    case 'cancel': {
      const inDoubt = cutOff(execution);
      await journal.finish(
        'cancelled',
        { type: 'cancelled', by: reason.by, ...(inDoubt.length > 0 ? { inDoubt } : {}) },
        [{ type: 'cancel_requested', by: reason.by }],
      );
      return journal.state;
    }
    case 'timeout': {
      const limit = execution.limits.timeoutMs;
      await journal.stop(
        { limit: 'timeout', used: elapsedMs(journal.state, run.clock.now()), max: limit },
        [],
        cutOff(execution),
      );
      return journal.state;
    }
    default:
      reason satisfies never;
      return undefined;
  }
}

/**
 * Calls a cancel or timeout cut off that may have taken effect (all but reads): the run's
 * reason names them, as in doubt, for a human to check by key.
 */
function cutOff({ journal, agent }: Execution): InDoubtCall[] {
  return startedWithoutOutcome(journal.state).filter(
    (call) => agent.tool(call.toolName)?.effect !== 'read',
  );
}

/** Decisions tools made inside their calls, by `<step>:<callId>`: served again on a re-run. */
function decisionsByCall(stored: readonly StoredEvent[]): Map<string, JournaledDecisionEntry[]> {
  const byCall = new Map<string, JournaledDecisionEntry[]>();
  for (const { event } of stored) {
    if (event.type !== 'decision_recorded') continue;
    const key = `${event.step}:${event.callId}`;
    byCall.set(key, [
      ...(byCall.get(key) ?? []),
      { decisionId: event.decisionId, entry: event.entry },
    ]);
  }
  return byCall;
}
