import type { Provenance } from '../core/index.js';
import type { LimitName, RunEvent, RunState, ToolEffect, ToolFailure } from '../journal/index.js';
import type { StoredEvent } from '../store/index.js';
import { resultOf, type RunResult } from './run-result.js';

/**
 * One event of a run's stream. Journaled events carry their journal sequence number (`seq`,
 * unique per run, the SSE `id`); `step_started` and `text_delta` are derived or live and carry
 * the sequence number they follow. Closed: a consumer can switch over `type` exhaustively.
 */
export type RunStreamEvent =
  | {
      readonly type: 'run_started';
      readonly seq: number;
      readonly runId: string;
      readonly agent: string;
      readonly task: string;
      readonly model: { readonly provider: string; readonly modelId: string };
    }
  | { readonly type: 'step_started'; readonly seq: number; readonly step: number }
  | {
      /**
       * A piece of the step's reply text as the model sends it (live only). `catchUp` marks the
       * text so far of a reply already under way when the stream joined or resumed: it replaces
       * what the consumer held for that step. A new `attempt` (a retried call) starts the
       * step's text again.
       */
      readonly type: 'text_delta';
      readonly seq: number;
      readonly step: number;
      readonly attempt: number;
      readonly text: string;
      readonly catchUp?: true | undefined;
    }
  | {
      /** The step's whole reply text, as journaled: what the deltas added up to. */
      readonly type: 'text_completed';
      readonly seq: number;
      readonly step: number;
      readonly text: string;
    }
  | {
      readonly type: 'tool_call';
      readonly seq: number;
      readonly step: number;
      readonly index: number;
      readonly callId: string;
      readonly toolName: string;
      readonly input: unknown;
      readonly effect: ToolEffect;
    }
  | {
      readonly type: 'tool_result';
      readonly seq: number;
      readonly step: number;
      readonly callId: string;
      readonly toolName: string;
      /** `ok`: the tool's content; `error`: its last failure; `rejected`: a malformed call. */
      readonly outcome: 'ok' | 'error' | 'rejected';
      readonly content?: string | undefined;
      readonly error?: ToolFailure | undefined;
      /** Where the result came from and whether it is trusted. */
      readonly provenance: Provenance;
    }
  | {
      readonly type: 'approval_requested';
      readonly seq: number;
      readonly step: number;
      readonly approvalId: string;
      /** The approver group that decides. */
      readonly group: string;
      readonly expiresAt: number;
      /** What a decision is bound to: this call with exactly these arguments. */
      readonly bound: {
        readonly callId: string;
        readonly index: number;
        readonly toolName: string;
        readonly argsHash: string;
        readonly input: unknown;
      };
    }
  | {
      readonly type: 'approval_decided';
      readonly seq: number;
      readonly step: number;
      readonly approvalId: string;
      readonly callId: string;
      readonly toolName: string;
      readonly decision: 'approved' | 'denied' | 'expired';
      readonly decidedBy: string;
    }
  | {
      readonly type: 'limit_hit';
      readonly seq: number;
      readonly limit: LimitName;
      readonly used: number;
      readonly max: number;
    }
  | { readonly type: 'run_finished'; readonly seq: number; readonly result: RunResult };

/** Every type of {@link RunStreamEvent}. */
export type RunStreamEventType = RunStreamEvent['type'];

/** Whether an event stands for one journal entry (its `seq` is that entry's; never repeated). */
export function isJournaledStreamEvent(event: RunStreamEvent): boolean {
  return event.type !== 'step_started' && event.type !== 'text_delta';
}

export function stepOf(event: RunEvent): number | undefined {
  return 'step' in event && typeof event.step === 'number' ? event.step : undefined;
}

export function toStreamEvent(
  runId: string,
  { seq, event }: StoredEvent,
  state: RunState,
  inputs: ReadonlyMap<string, unknown>,
): RunStreamEvent | undefined {
  switch (event.type) {
    case 'run_started':
      return {
        type: 'run_started',
        seq,
        runId,
        agent: event.agent,
        task: event.task,
        model: event.model,
      };
    case 'model_called': {
      const text = event.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
      return text === '' ? undefined : { type: 'text_completed', seq, step: event.step, text };
    }
    case 'tool_requested':
      return {
        type: 'tool_call',
        seq,
        step: event.step,
        index: event.index,
        callId: event.callId,
        toolName: event.toolName,
        input: event.input,
        effect: event.effect,
      };
    case 'tool_finished':
      return {
        type: 'tool_result',
        seq,
        step: event.step,
        callId: event.callId,
        toolName: event.toolName,
        outcome: 'ok',
        content: event.content,
        provenance: event.provenance,
      };
    case 'tool_failed':
      return event.final
        ? {
            type: 'tool_result',
            seq,
            step: event.step,
            callId: event.callId,
            toolName: event.toolName,
            outcome: 'error',
            error: event.error,
            provenance: event.provenance,
          }
        : undefined;
    case 'tool_rejected':
      return {
        type: 'tool_result',
        seq,
        step: event.step,
        callId: event.callId,
        toolName: event.toolName,
        outcome: 'rejected',
        error: event.error,
        provenance: { trust: 'trusted', source: 'runtime' },
      };
    case 'approval_requested':
      return {
        type: 'approval_requested',
        seq,
        step: event.step,
        approvalId: event.approvalId,
        group: event.approverGroup,
        expiresAt: event.expiresAt,
        bound: {
          callId: event.callId,
          index: event.index,
          toolName: event.toolName,
          argsHash: event.argsHash,
          input: inputs.get(`${event.step}:${event.callId}`),
        },
      };
    case 'approval_decided':
      return {
        type: 'approval_decided',
        seq,
        step: event.step,
        approvalId: event.approvalId,
        callId: event.callId,
        toolName: event.toolName,
        decision: event.decision,
        decidedBy: event.decidedBy,
      };
    case 'limit_hit':
      return { type: 'limit_hit', seq, limit: event.limit, used: event.used, max: event.max };
    case 'run_finished': {
      const result = resultOf(runId, state);
      return result ? { type: 'run_finished', seq, result } : undefined;
    }
    // The journal's bookkeeping and the guard's telemetry: not part of a run's stream.
    case 'run_claimed':
    case 'run_released':
    case 'run_suspended':
    case 'model_failed':
    case 'model_output_rejected':
    case 'tool_started':
    case 'tool_intercepted':
    case 'tool_quarantined':
    case 'cancel_requested':
    case 'context_assembled':
    case 'step_summarised':
    case 'guard_verdict':
    case 'decision_recorded':
    case 'injection_signal':
    case 'action_flagged':
    case 'answer_guarded':
    case 'answer_held':
    case 'intent_planned':
    case 'shadow_suppressed':
    case 'would_need_approval':
      return undefined;
    default:
      return event satisfies never;
  }
}
