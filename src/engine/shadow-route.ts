import { canonicalJson } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';
import type { InterceptedCall, InterceptedResult, ToolCallRoute } from './tool-interception.js';

/**
 * The result a shadow run's suppressed call is given: typed, neutral, saying it did not run.
 * The model sees it as the tool's result.
 */
export function neutralShadowResult(call: InterceptedCall, reason: string): InterceptedResult {
  return {
    ok: true,
    value: { shadow: true, executed: false, tool: call.toolName, effect: call.effect, reason },
  };
}

/** A production run's recorded outcomes by canonical (tool, arguments). */
export type Recording = Map<string, InterceptedResult>;

/** The recorded outcome of each call a production run made (the first of identical calls). */
export function recordedResults(events: readonly RunEvent[]): Recording {
  const requested = new Map<string, string>();
  const recording: Recording = new Map();
  const intercepted = new Set<string>();
  for (const event of events) {
    if (event.type === 'tool_requested') {
      requested.set(`${event.step}:${event.callId}`, callKeyOf(event.toolName, event.input));
    } else if (event.type === 'tool_intercepted') {
      intercepted.add(`${event.step}:${event.callId}`);
    } else if (event.type === 'tool_finished' || (event.type === 'tool_failed' && event.final)) {
      const id = `${event.step}:${event.callId}`;
      const key = requested.get(id);
      if (key === undefined || intercepted.has(id) || recording.has(key)) continue;
      recording.set(
        key,
        event.type === 'tool_finished'
          ? { ok: true, value: event.content }
          : { ok: false, error: event.error },
      );
    }
  }
  return recording;
}

function callKeyOf(toolName: string, input: unknown): string {
  return `${toolName}:${canonicalJson(input ?? null)}`;
}

/**
 * The routing of a shadow run's calls: the production run's recorded result when the tool and
 * canonical arguments match; else a `read` runs live only when the shadow allows it; anything
 * else (and any call the gates would have held for a human) is suppressed with a neutral
 * result. Nothing here can let a `write`, `irreversible` or `egress` call execute.
 */
export function shadowRoute(
  call: InterceptedCall,
  recording: Recording,
  {
    allowLiveReads,
    neutralResult = neutralShadowResult,
  }: {
    readonly allowLiveReads: boolean;
    /** The result a suppressed call is given (default `neutralShadowResult`). */
    readonly neutralResult?: ShadowResult | undefined;
  },
): ToolCallRoute {
  const recorded = recording.get(callKeyOf(call.toolName, call.input));
  if (recorded) return { type: 'serve', source: 'shadow: production run', result: recorded };
  if (call.wouldNeedApproval) {
    const reason = 'would need approval; no recorded result';
    return { type: 'suppress', reason, result: neutralResult(call, reason) };
  }
  if (call.effect === 'read' && allowLiveReads) return { type: 'execute' };
  const reason =
    call.effect === 'read'
      ? 'read with no recorded result; live reads are off'
      : `${call.effect} never runs in a shadow run`;
  return { type: 'suppress', reason, result: neutralResult(call, reason) };
}

/** The result a shadow run's suppressed call is given instead of running. */
export type ShadowResult = (call: InterceptedCall, reason: string) => InterceptedResult;
