import type { Agent } from '../agent/index.js';
import { startedWithoutOutcome } from '../journal/index.js';
import { executeCalls } from './execute-calls.js';
import type { ExecuteRunContext, Execution } from './execution.js';
import type { RunJournal } from './run-journal.js';

/**
 * The watchdog: the run's workers died `lost` times. Nothing is left in doubt: a started call
 * without an outcome of an idempotent tool (or a read) is issued once more with its key to
 * learn its outcome; one that is not idempotent ends the run `escalated` (`in_doubt`, naming
 * the call and its key, for a human to check); otherwise the run ends `failed` (`worker_lost`).
 */
export async function endLostRun(
  context: ExecuteRunContext,
  journal: RunJournal,
  lost: number,
): Promise<void> {
  const doubtful = startedWithoutOutcome(journal.state);
  let agent: Agent | undefined;
  try {
    agent =
      doubtful.length > 0 && journal.state.started
        ? context.resolveAgent(journal.state)
        : undefined;
  } catch {
    agent = undefined;
  }
  const repeatable = (toolName: string): boolean => {
    const tool = agent?.tool(toolName);
    return tool !== undefined && (tool.idempotent || tool.effect === 'read');
  };
  const reissue = journal.state.pending.filter((call) =>
    doubtful.some((doubt) => doubt.callId === call.callId && repeatable(doubt.toolName)),
  );
  if (agent && reissue.length > 0) {
    const execution: Execution = {
      run: context,
      agent: singleAttempt(agent),
      limits: journal.state.limits ?? agent.limits,
      unjournaledSpending: { tokens: 0, costUsd: 0 },
      journal,
      signal: context.controller.signal,
      issuedHere: new Set(),
      decisionsByCall: new Map(),
      indexed: new Set(),
      prepared: {},
    };
    // One attempt each, with the key it was started with; if this worker dies too, the store
    // ends the run in doubt at the next claim.
    await executeCalls(execution, reissue);
    if (journal.state.finished) return;
  }
  const remaining = startedWithoutOutcome(journal.state);
  if (remaining.length > 0) {
    await journal.finish('escalated', { type: 'in_doubt', attempts: lost, calls: remaining }, []);
    return;
  }
  await journal.finish('failed', { type: 'worker_lost', attempts: lost }, []);
}

/** `agent` whose tools make one attempt per call (the watchdog's re-issue). */
function singleAttempt(agent: Agent): Agent {
  return {
    ...agent,
    tool(name: string) {
      const tool = agent.tool(name);
      return tool && { ...tool, retry: { ...tool.retry, maxAttempts: 1 } };
    },
  };
}
