import {
  describeReason,
  type LimitName,
  type RunEvent,
  type RunReason,
  type RunStatus,
  type UsageTotals,
} from '../../src/index.js';
import { type RouteResult } from '../../src/exports/decide.js';

/** The demo's scenarios, in the order they run. */
export const SCENARIO_NAMES = ['success', 'retry', 'loop_stopped', 'resume', 'approval'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** How the desk's router chose the scenario's executor. */
export interface RoutingFacts {
  readonly route: string;
  /** `decided`, or `cached` when an identical ticket was routed before. */
  readonly status: string;
  readonly confidence: number;
  readonly decisionId: string;
  /** The router's model, as its decision records it (`provider/modelId`). */
  readonly model: string;
  readonly tier: string;
}

interface ScenarioBase {
  readonly title: string;
  readonly agent: string;
  /** Set when the ticket went through the router. */
  readonly routing?: RoutingFacts | undefined;
  /** The model the run used (its `run_started` event). */
  readonly model: { readonly provider: string; readonly modelId: string };
  readonly task: string;
  readonly runId: string;
  readonly status: RunStatus;
  readonly reason: RunReason;
  /** `describeReason(reason)`. */
  readonly reasonText: string;
  readonly steps: number;
  readonly usage: UsageTotals;
  readonly output: string | null;
  /** The key journal events, one line per tool call, model failure, claim and limit. */
  readonly journal: readonly string[];
  /** Whether the run showed what the scenario is meant to show. */
  readonly asExpected: boolean;
  /** What it showed, for people. */
  readonly shows: readonly string[];
}

export interface ResumeFacts {
  readonly childPid: number;
  readonly claims: readonly { readonly claim: number; readonly workerId: string }[];
  /** What the killed worker was doing. */
  readonly killedDuring: string;
  /** Tool executions (started attempts) by the killed worker and after the resume. */
  readonly toolExecutionsBeforeKill: readonly string[];
  readonly toolExecutionsAfterResume: readonly string[];
  /** Calls started again after the resume with their original idempotency key. */
  readonly reissuedCalls: readonly string[];
  /** Calls that had finished before the kill and were executed again (must be 0). */
  readonly repeatedCompletedCalls: number;
  readonly modelCallsBeforeKill: number;
  readonly modelCallsAfterResume: number;
  /** Refunds the backend holds for the order: 1 means no double refund. */
  readonly refundsIssued: number;
}

/** The demo's shadow: a candidate version of the refunds executor repeating its runs. */
export interface ShadowFacts {
  readonly id: string;
  readonly agent: string;
  readonly candidateVersion: string;
  readonly pairs: number;
  readonly suppressedCalls: number;
  /** Side effects the candidate executed: must be 0. */
  readonly executedSideEffects: number;
}

/** One scenario's outcome, with facts particular to it. Plain JSON. */
export type ScenarioReport =
  | (ScenarioBase & {
      readonly name: 'success';
      readonly facts: {
        readonly toolCalls: readonly string[];
        readonly refundIds: readonly string[];
      };
    })
  | (ScenarioBase & {
      readonly name: 'retry';
      readonly facts: {
        readonly retries: number;
        readonly failures: readonly string[];
        readonly attempts: number;
      };
    })
  | (ScenarioBase & {
      readonly name: 'loop_stopped';
      readonly facts: {
        readonly limit: LimitName | null;
        readonly used: number | null;
        readonly max: number | null;
        readonly maxIterations: number | null;
        readonly repeatedCall: string | null;
      };
    })
  | (ScenarioBase & { readonly name: 'resume'; readonly facts: ResumeFacts })
  | (ScenarioBase & { readonly name: 'approval'; readonly facts: ApprovalFacts });

export interface ApprovalFacts {
  readonly approvalId: string;
  readonly approverGroup: string;
  readonly gateReason: unknown;
  /** The notification's text as the webhook received it. */
  readonly notified: string;
  readonly decideLink: string | null;
  /** The run waited with no worker and no lease. */
  readonly parkedWithoutWorker: boolean;
  readonly decidedBy: string | null;
  /** Must be false: nothing runs before the decision. */
  readonly refundStartedBeforeDecision: boolean;
  readonly refundsIssued: number;
}

export interface DemoReport {
  /** The model the runs used, as their journals record it. */
  readonly model: {
    readonly provider: string;
    readonly modelId: string;
    readonly description: string;
    readonly realModelCalled: boolean;
  };
  /** Which models ran: the router's and the executors', with their tiers. */
  readonly models: readonly {
    readonly role: 'router' | 'executors';
    readonly model: string;
    readonly tier: string;
  }[];
  readonly store: string;
  readonly scenarios: readonly ScenarioReport[];
  /** The candidate refunds version that shadowed the refund run (see `keel shadow report`). */
  readonly shadow?: ShadowFacts | undefined;
  readonly asExpected: boolean;
  readonly durationMs: number;
}

/** A journal entry with its position, as `store.readEvents` gives it. */
export interface JournalEntry {
  readonly seq: number;
  readonly event: RunEvent;
}

/** The base of a scenario's report, from the run's journal. */
export function scenarioBase(options: {
  title: string;
  agent: string;
  task: string;
  runId: string;
  entries: readonly JournalEntry[];
  workerName?: (workerId: string, claim: number) => string;
}): Omit<ScenarioBase, 'asExpected' | 'shows'> {
  const events = options.entries.map((entry) => entry.event);
  const finished = events.findLast(isType('run_finished'));
  const started = events.find(isType('run_started'));
  const reason: RunReason = finished?.reason ?? {
    type: 'internal',
    message: 'the run did not finish',
  };
  return {
    title: options.title,
    agent: options.agent,
    model: started?.model ?? { provider: 'unknown', modelId: 'unknown' },
    task: options.task,
    runId: options.runId,
    status: finished?.status ?? 'failed',
    reason,
    reasonText: describeReason(reason),
    steps: finished?.steps ?? 0,
    usage: finished?.usage ?? { inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true },
    output: finished?.output ?? null,
    journal: journalLines(options.entries, options.workerName),
  };
}

/**
 * The journal as people read it: one line per tool call with what happened to it
 * (`tool_failed (unavailable) → retried → tool_finished (attempt 2)`), plus claims when the
 * run changed hands, model failures, limits and the end.
 */
export function journalLines(
  entries: readonly JournalEntry[],
  workerName: (workerId: string, claim: number) => string = (workerId) => workerId,
): string[] {
  const lines: { text: string; chain: string[]; step: number }[] = [];
  const lineOf = new Map<string, number>();
  const claims = entries.filter((entry) => entry.event.type === 'run_claimed').length;
  let barrier = 0;
  const callLine = (step: number, callId: string, toolName: string): { chain: string[] } => {
    const index = lineOf.get(callId);
    if (index !== undefined && index >= barrier) return lines[index] ?? { chain: [] };
    // The call continues after the run changed hands: a new line, in time order.
    lines.push({ text: `  ${toolName} (resumed)`, chain: [], step });
    lineOf.set(callId, lines.length - 1);
    return lines[lines.length - 1] ?? { chain: [] };
  };

  for (const { event } of entries) {
    switch (event.type) {
      case 'run_claimed':
        if (claims > 1) {
          lines.push({
            text: `claim ${event.claim} by ${workerName(event.workerId, event.claim)}`,
            chain: [],
            step: -1,
          });
          barrier = lines.length;
        }
        break;
      case 'model_called': {
        const calls = event.content.filter((part) => part.type === 'tool_call');
        if (calls.length === 0)
          lines.push({ text: `step ${event.step + 1}  final answer`, chain: [], step: event.step });
        for (const call of calls) {
          lines.push({
            text: `step ${event.step + 1}  ${call.toolName}(${shorten(call.arguments, 60)})`,
            chain: [],
            step: event.step,
          });
          lineOf.set(call.callId, lines.length - 1);
        }
        break;
      }
      case 'model_failed':
        lines.push({
          text: `step ${event.step + 1}  model_failed (${event.errorType})`,
          chain: [event.willRetry ? 'retried' : 'gave up'],
          step: event.step,
        });
        break;
      case 'tool_rejected':
        callLine(event.step, event.callId, event.toolName).chain.push(
          `tool_rejected (${event.error.type})`,
        );
        break;
      case 'tool_started':
        if (event.reissued) {
          callLine(event.step, event.callId, event.toolName).chain.push(
            'tool_started again (reissued, same idempotency key)',
          );
        }
        break;
      case 'tool_failed': {
        const { chain } = callLine(event.step, event.callId, event.toolName);
        chain.push(`tool_failed (${event.error.type})`);
        if (!event.final) chain.push('retried');
        break;
      }
      case 'tool_finished':
        callLine(event.step, event.callId, event.toolName).chain.push(
          event.attempts > 1 ? `tool_finished (attempt ${event.attempts})` : 'tool_finished',
        );
        break;
      case 'limit_hit': {
        const lastStep = Math.max(...lines.map((line) => line.step));
        for (const line of lines)
          if (line.step === lastStep && line.chain.length === 0) line.chain.push('not run');
        lines.push({
          text: `limit_hit ${event.limit} (${event.used} of ${event.max})`,
          chain: [],
          step: -1,
        });
        break;
      }
      case 'run_released':
        lines.push({ text: `released by ${event.workerId}`, chain: [], step: -1 });
        break;
      case 'model_output_rejected':
        lines.push({ text: `reply rejected (${event.reason}), fed back`, chain: [], step: -1 });
        break;
      case 'cancel_requested':
        lines.push({ text: `cancel_requested by ${event.by}`, chain: [], step: -1 });
        break;
      case 'approval_requested':
        callLine(event.step, event.callId, event.toolName).chain.push(
          `approval_requested (${event.approverGroup})`,
        );
        break;
      case 'approval_decided':
        callLine(event.step, event.callId, event.toolName).chain.push(
          `${event.decision} by ${event.decidedBy}`,
        );
        break;
      case 'run_suspended':
        lines.push({ text: `waiting for a decision (no worker held)`, chain: [], step: -1 });
        break;
      case 'guard_verdict':
        if (event.verdict !== 'allow')
          callLine(event.step, event.callId, event.toolName).chain.push(
            `guard ${event.verdict} (${event.rule})`,
          );
        break;
      case 'injection_signal':
        if (event.score >= event.threshold)
          callLine(event.step, event.callId, event.toolName).chain.push(
            `injection signal ${event.score}`,
          );
        break;
      case 'action_flagged':
        callLine(event.step, event.callId, event.toolName).chain.push(
          `flagged (${event.flags.map((flag) => flag.kind).join(', ')})`,
        );
        break;
      case 'tool_quarantined':
        callLine(event.step, event.callId, event.toolName).chain.push('quarantined');
        break;
      case 'answer_guarded':
        if (event.findings.length > 0)
          lines.push({
            text: `answer_guarded ${event.findings.map((finding) => `${finding.kind} ${finding.action}`).join(', ')}`,
            chain: [],
            step: -1,
          });
        break;
      case 'tool_intercepted':
        callLine(event.step, event.callId, event.toolName).chain.push(event.action);
        break;
      case 'run_finished':
        lines.push({ text: `run_finished ${event.status}`, chain: [], step: -1 });
        break;
      case 'decision_recorded':
        if (event.entry.type === 'decision_made' || event.entry.type === 'decision_fallback') {
          callLine(event.step, event.callId, event.toolName).chain.push(
            event.entry.type === 'decision_made'
              ? `decided ${JSON.stringify(event.entry.value)}`
              : 'decision fell back',
          );
        }
        break;
      case 'run_started':
      case 'tool_requested':
      case 'intent_planned':
      case 'answer_held':
      case 'context_assembled':
      case 'step_summarised':
      case 'shadow_suppressed':
      case 'would_need_approval':
        break;
      default:
        event satisfies never;
    }
  }
  return lines.map(({ text, chain }) =>
    chain.length > 0 ? `${text} → ${chain.join(' → ')}` : text,
  );
}

/** What the report says about a routing decision. */
export function routingFacts(routed: RouteResult): RoutingFacts {
  const started = routed.decision.events.find((event) => event.type === 'decision_started');
  return {
    route: routed.route,
    status: routed.decision.status,
    confidence: routed.decision.confidence,
    decisionId: routed.decision.id,
    model: started?.type === 'decision_started' ? started.model.replace(':', '/') : 'cache',
    tier: 'fast',
  };
}

/** The readable summary of one scenario. */
export function formatScenario(scenario: ScenarioReport, position: string): string[] {
  const usage = scenario.usage;
  const tokens = usage.inputTokens + usage.outputTokens;
  const cost = usage.costKnown ? `$${usage.costUsd.toFixed(4)}` : 'cost unknown';
  const out = [
    '',
    `${position} ${scenario.name}: ${scenario.title}`,
    ...(scenario.routing
      ? [
          `   routed   by ${scenario.routing.model} (${scenario.routing.tier} tier) → ${scenario.routing.route}, confidence ${String(scenario.routing.confidence)}${scenario.routing.status === 'cached' ? ' (cached decision)' : ''}`,
        ]
      : []),
    `   agent    ${scenario.agent} (${scenario.model.provider}/${scenario.model.modelId})    run ${scenario.runId}`,
    ...wrap(scenario.task, '   task     '),
    `   status   ${scenario.status}: ${scenario.reasonText}`,
    `   usage    ${scenario.steps} steps · ${tokens.toLocaleString('en-US')} tokens (${usage.inputTokens.toLocaleString('en-US')} in, ${usage.outputTokens.toLocaleString('en-US')} out) · ${cost}`,
    ...scenario.journal.map((line, index) => `   ${index === 0 ? 'journal' : '       '}  ${line}`),
    ...wrap(scenario.output ?? '(none)', '   output   '),
    ...scenario.shows.flatMap((line) =>
      wrap(line, `   ${scenario.asExpected ? '✓' : '✗'}        `),
    ),
  ];
  return out;
}

/** Word-wrap `text` to `width` columns, the first line after `label`, the rest aligned. */
export function wrap(text: string, label: string, width = 100): string[] {
  const indent = ' '.repeat(label.length);
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (current !== '' && label.length + current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else {
      current = current === '' ? word : `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines.map((line, index) => (index === 0 ? label : indent) + line);
}

/** A type guard for one event type, for `find` and `filter`. */
export function isType<Type extends RunEvent['type']>(type: Type) {
  return (event: RunEvent): event is Extract<RunEvent, { type: Type }> => event.type === type;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
