import type { ContextReplay, SummaryOutcome } from '../context/index.js';
import type { RunEvent } from '../journal/index.js';
import type { InterceptedResult, ToolCallInterceptor } from './tool-interception.js';

/* What a replay serves from the recorded journal besides model replies and tool results. */

/**
 * The calls the recorded run's interceptor answered (a shadow run's served and suppressed calls,
 * an evaluation's fixtures), routed the same way with the same results; `undefined` when it had
 * none. Any other call runs, served from the journal by the replay's tools.
 */
export function interceptionsFromJournal(
  recorded: readonly RunEvent[],
): ToolCallInterceptor | undefined {
  const routes = new Map<string, Extract<RunEvent, { type: 'tool_intercepted' }>>();
  const results = new Map<string, InterceptedResult>();
  for (const event of recorded) {
    if (event.type === 'tool_intercepted') routes.set(`${event.step}:${event.callId}`, event);
    else if (event.type === 'tool_finished' || event.type === 'tool_failed') {
      const key = `${event.step}:${event.callId}`;
      if (!routes.has(key) || results.has(key)) continue;
      results.set(
        key,
        event.type === 'tool_finished'
          ? { ok: true, value: event.content }
          : { ok: false, error: event.error },
      );
    }
  }
  if (routes.size === 0) return undefined;
  return (call) => {
    const key = `${call.step}:${call.callId}`;
    const route = routes.get(key);
    const result = results.get(key);
    if (!route || !result) return { type: 'execute' };
    return route.action === 'served'
      ? { type: 'serve', source: route.detail, result }
      : { type: 'suppress', reason: route.detail, result };
  };
}

/** The store's recall results and the summaries the recorded run had, served back as they were. */
export function contextReplay(recorded: readonly RunEvent[]): ContextReplay {
  const recalled = new Map<string, readonly string[] | undefined>();
  const summaries = new Map<number, SummaryOutcome>();
  for (const event of recorded) {
    if (event.type === 'context_assembled') {
      recalled.set(
        `${event.step}:${event.trigger}`,
        event.recallSource === 'store' ? event.recalled : undefined,
      );
    } else if (event.type === 'step_summarised') {
      const { type: _type, step: _step, summarisedStep, ...outcome } = event;
      summaries.set(summarisedStep, outcome);
    }
  }
  return {
    recalled: (step, trigger) => recalled.get(`${step}:${trigger}`),
    summary: (step) => summaries.get(step),
  };
}
