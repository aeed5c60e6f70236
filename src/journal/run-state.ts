import { TRUSTED_RUNTIME, canonicalJson, type Provenance } from '../core/index.js';
import type { Message, MessagePart, ModelUsage, TextPart, ToolResultPart } from './conversation.js';
import { conversationEdited, conversationLog } from './conversation-log.js';
import type { ToolFailure } from './tool-terms.js';
import type { RunLimits } from './limits.js';
import type {
  AnswerProvenanceSpan,
  InDoubtCall,
  RunEvent,
  RunReason,
  RunStatus,
  UsageTotals,
} from './run-events.js';

/** A gate's request for a human decision on one call, as journaled. */
export type ApprovalRequest = Extract<RunEvent, { type: 'approval_requested' }>;

/** A tool call the model asked for that has no final result yet. */
export interface PendingCall {
  readonly step: number;
  readonly callId: string;
  readonly index: number;
  readonly toolName: string;
  readonly input: unknown;
  /** Attempts already started (a started, unfinished attempt is re-issued with the same key). */
  attemptsStarted: number;
  /** The latest attempt recorded as failed and retryable (the next one is a new attempt). */
  attemptsFailed: number;
  /** The key its started attempts were issued with (from `tool_started`). */
  idempotencyKey?: string | undefined;
  /** Set while the call waits on a human decision (the gate's request): it must not start. */
  awaitingApproval?: ApprovalRequest | undefined;
  /** What the guard and the gates' policies said of the call (`guard_verdict`), in order. */
  verdicts?: readonly CallVerdict[] | undefined;
  /** Set in a shadow run when the gates would have held the call for a human (nobody is asked). */
  wouldNeedApproval?: true | undefined;
  /** Set once a human approved the call: who, on which approval. */
  approvedBy?: { readonly approvalId: string; readonly decidedBy: string } | undefined;
}

/** One policy's journaled verdict on a call: what allowed it, or asked a human first. */
export type CallVerdict = Pick<
  Extract<RunEvent, { type: 'guard_verdict' }>,
  'policy' | 'rule' | 'verdict' | 'origins'
>;

/**
 * A run's state: a fold over its journal. The engine keeps one per executing run and applies
 * each event as it commits; `foldRun` rebuilds it from scratch after a crash.
 */
export interface RunState {
  started: boolean;
  agent: string;
  task: string;
  startedAt: number;
  limits: RunLimits | undefined;
  modelSpec: string | undefined;
  /** The model the run was started with (from `run_started`). */
  model: { provider: string; modelId: string };
  /** The agent's version (from `run_started`; undefined in older journals). */
  version: string | undefined;
  /** The production run a shadow run repeats; undefined for other runs. */
  shadowOf: string | undefined;
  shadowId: string | undefined;
  /** The conversation as the model sees it, with provenance on every part. */
  readonly messages: Message[];
  /** Model calls completed. */
  steps: number;
  usage: UsageTotals;
  /** Tool calls of the latest step still to run, in call order. */
  readonly pending: PendingCall[];
  /** Calls of the latest step still unresolved (pending ones and ones not yet validated). */
  openCalls: number;
  readonly stepResults: (ToolResultPart & { readonly index: number; readonly fresh: boolean })[];
  /** Count per canonical (tool, arguments) key. */
  readonly callCounts: Map<string, number>;
  readonly seenContent: Set<string>;
  stepsWithoutProgress: number;
  /** True once any untrusted content entered the conversation. */
  tainted: boolean;
  /** True once an injection signal reached its threshold: consequential calls need a human. */
  signalled: boolean;
  /** Quarantined extractions by call id: what `⟨q:…⟩` references in arguments resolve to. */
  readonly quarantined: Map<string, unknown>;
  /**
   * Whether the trusted planning step ran (`intent_planned`), and the consequential tools it
   * read from the task (undefined: it gave no valid answer).
   */
  planned: boolean;
  /**
   * A final answer waiting for a person (`answer_held`): the call the approval is about, and
   * the decision once made.
   */
  heldAnswer:
    | {
        readonly output: string;
        readonly call: PendingCall;
        decision?: 'approved' | 'denied' | 'expired' | undefined;
        decidedBy?: string | undefined;
      }
    | undefined;
  plannedTools: readonly string[] | undefined;
  /** Journaled summaries of completed steps (`step_summarised`), by the step they stand for. */
  readonly stepSummaries: Map<number, TextPart>;
  /** Failed model attempts at the current step. */
  modelFailuresThisStep: number;
  /** How far down its fallback chain the current step has moved (0: the agent's model). */
  modelFallbacksThisStep: number;
  claims: number;
  /** When a worker first claimed the run (unset while queued, and in older journals). */
  firstClaimedAt: number | undefined;
  /** Claims that ended in a clean release (worker shutdown). */
  releases: number;
  cancelRequested: 'user' | 'shutdown' | undefined;
  /** When the run was last parked on approvals, until a decision is journaled. */
  suspendedAt: number | undefined;
  /** Time spent parked on approvals: it does not count against the wall-clock limit. */
  waitedMs: number;
  /**
   * Whether the run ever asked a human (`approval_requested`): only then can it have approvals
   * to withdraw when it ends, since none is filed before its request is journaled.
   */
  approvalsRequested: boolean;
  finished: { status: RunStatus; reason: RunReason; output: string | null } | undefined;
  /**
   * The final answer's spans that derive from untrusted content (`answer_guarded`); undefined
   * when the answer guard did not look at the answer (an untainted run).
   */
  answerSpans: readonly AnswerProvenanceSpan[] | undefined;
}

/** The tool name an approval of a held final answer is filed under. */
export const HELD_ANSWER_TOOL = 'final_answer';

export function emptyRunState(): RunState {
  return {
    started: false,
    agent: '',
    task: '',
    startedAt: 0,
    limits: undefined,
    modelSpec: undefined,
    model: { provider: 'unknown', modelId: 'unknown' },
    version: undefined,
    shadowOf: undefined,
    shadowId: undefined,
    messages: conversationLog([]),
    steps: 0,
    usage: { inputTokens: 0, outputTokens: 0, costUsd: 0, costKnown: true },
    pending: [],
    openCalls: 0,
    stepResults: [],
    callCounts: new Map(),
    seenContent: new Set(),
    stepsWithoutProgress: 0,
    tainted: false,
    signalled: false,
    quarantined: new Map(),
    planned: false,
    heldAnswer: undefined,
    plannedTools: undefined,
    answerSpans: undefined,
    stepSummaries: new Map(),
    modelFailuresThisStep: 0,
    modelFallbacksThisStep: 0,
    claims: 0,
    firstClaimedAt: undefined,
    releases: 0,
    cancelRequested: undefined,
    suspendedAt: undefined,
    waitedMs: 0,
    approvalsRequested: false,
    finished: undefined,
  };
}

/**
 * Rebuild a run's state from its events.
 *
 * ```ts
 * const state = foldRun(events.map((stored) => stored.event));
 * state.finished?.status // 'succeeded' | ... | undefined while running
 * ```
 */
export function foldRun(events: Iterable<RunEvent>): RunState {
  const state = emptyRunState();
  for (const event of events) applyEvent(state, event);
  return state;
}

/**
 * Calls with an attempt started and no outcome recorded: a worker died during them, so each
 * may or may not have taken effect.
 *
 * ```ts
 * const doubtful = startedWithoutOutcome(foldRun(events)); // [{ toolName, idempotencyKey, … }]
 * ```
 */
export function startedWithoutOutcome(state: RunState): InDoubtCall[] {
  return state.pending.flatMap((call) =>
    call.attemptsStarted > call.attemptsFailed && call.idempotencyKey !== undefined
      ? [
          {
            step: call.step,
            callId: call.callId,
            toolName: call.toolName,
            idempotencyKey: call.idempotencyKey,
          },
        ]
      : [],
  );
}

/** Totals after one model call: cost stays known only while every call's price was known. */
export function addUsage(
  usage: UsageTotals,
  call: { readonly usage: ModelUsage; readonly costUsd: number | null },
): UsageTotals {
  return {
    inputTokens: usage.inputTokens + call.usage.inputTokens,
    outputTokens: usage.outputTokens + call.usage.outputTokens,
    costUsd: usage.costUsd + (call.costUsd ?? 0),
    costKnown: usage.costKnown && call.costUsd !== null,
  };
}

/** The key identical-call detection counts by. */
export function callKey(toolName: string, input: unknown): string {
  return `${toolName}:${canonicalJson(input)}`;
}

/** Apply one event. Mutates `state`; the engine applies each event after it commits. */
export function applyEvent(state: RunState, event: RunEvent): void {
  switch (event.type) {
    case 'run_started':
      state.started = true;
      state.agent = event.agent;
      state.task = event.task;
      state.startedAt = event.startedAt;
      state.limits = event.limits;
      state.modelSpec = event.modelSpec;
      state.model = event.model;
      state.version = event.version;
      state.shadowOf = event.shadowOf;
      state.shadowId = event.shadowId;
      pushMessage(state, 'user', [
        { type: 'text', text: event.task, provenance: event.taskProvenance },
      ]);
      return;
    case 'run_claimed':
      state.claims = event.claim;
      state.firstClaimedAt ??= event.at;
      return;
    case 'run_released':
      state.releases += 1;
      return;
    case 'model_called': {
      state.steps = event.step + 1;
      state.modelFailuresThisStep = 0;
      state.modelFallbacksThisStep = 0;
      state.usage = addUsage(state.usage, event);
      const parts: MessagePart[] = event.content.map((part) =>
        part.type === 'text'
          ? { type: 'text', text: part.text, provenance: event.provenance }
          : { ...part, provenance: event.provenance },
      );
      pushMessage(state, 'assistant', parts);
      state.pending.length = 0;
      state.stepResults.length = 0;
      state.openCalls = parts.filter((part) => part.type === 'tool_call').length;
      return;
    }
    case 'model_failed':
      state.modelFailuresThisStep = event.attempt;
      if (event.fallbackTo !== undefined) state.modelFallbacksThisStep += 1;
      return;
    case 'tool_requested':
      state.pending.push({
        step: event.step,
        callId: event.callId,
        index: event.index,
        toolName: event.toolName,
        input: event.input,
        attemptsStarted: 0,
        attemptsFailed: 0,
      });
      state.pending.sort((a, b) => a.index - b.index);
      countCall(state, callKey(event.toolName, event.input));
      return;
    case 'tool_rejected':
      resolveCall(state, event.callId, event.index, event.toolName, errorContent(event.error), {
        isError: true,
        provenance: TRUSTED_RUNTIME,
      });
      return;
    case 'tool_started': {
      const call = state.pending.find((pending) => pending.callId === event.callId);
      if (call) {
        call.attemptsStarted = Math.max(call.attemptsStarted, event.attempt);
        call.idempotencyKey = event.idempotencyKey;
      }
      return;
    }
    case 'tool_finished': {
      const index = pendingIndex(state, event.callId);
      const fresh = !state.seenContent.has(event.contentHash);
      state.seenContent.add(event.contentHash);
      resolveCall(state, event.callId, index, event.toolName, event.content, {
        isError: false,
        provenance: event.provenance,
        fresh,
      });
      return;
    }
    case 'tool_failed':
      if (!event.final) {
        const call = state.pending.find((pending) => pending.callId === event.callId);
        if (call) call.attemptsFailed = Math.max(call.attemptsFailed, event.attempt);
        return;
      }
      resolveCall(
        state,
        event.callId,
        pendingIndex(state, event.callId),
        event.toolName,
        errorContent(event.error),
        {
          isError: true,
          provenance: event.provenance,
        },
      );
      return;
    case 'model_output_rejected':
      pushMessage(state, 'user', [
        { type: 'text', text: event.feedback, provenance: TRUSTED_RUNTIME },
      ]);
      state.stepsWithoutProgress += 1;
      return;
    case 'limit_hit':
      return;
    case 'cancel_requested':
      state.cancelRequested = event.by;
      return;
    case 'approval_requested': {
      state.approvalsRequested = true;
      const call = state.pending.find((pending) => pending.callId === event.callId);
      if (call) call.awaitingApproval = event;
      if (state.heldAnswer?.call.callId === event.callId)
        state.heldAnswer.call.awaitingApproval = event;
      return;
    }
    case 'answer_held':
      state.heldAnswer = {
        output: event.output,
        call: {
          step: event.step,
          callId: event.callId,
          index: 0,
          toolName: HELD_ANSWER_TOOL,
          input: { answer: event.output },
          attemptsStarted: 0,
          attemptsFailed: 0,
        },
      };
      return;
    case 'run_suspended':
      state.releases += 1;
      state.suspendedAt = event.at;
      return;
    case 'approval_decided': {
      if (state.suspendedAt !== undefined) {
        state.waitedMs += Math.max(0, event.at - state.suspendedAt);
        state.suspendedAt = undefined;
      }
      if (state.heldAnswer?.call.callId === event.callId) {
        state.heldAnswer.decision = event.decision;
        state.heldAnswer.decidedBy = event.decidedBy;
        return;
      }
      const at = state.pending.findIndex((pending) => pending.callId === event.callId);
      const call = state.pending[at];
      if (!call) return;
      if (event.decision === 'approved') {
        state.pending[at] = {
          ...call,
          awaitingApproval: undefined,
          approvedBy: { approvalId: event.approvalId, decidedBy: event.decidedBy },
          ...(event.editedInput === undefined ? {} : { input: event.editedInput }),
        };
        return;
      }
      resolveCall(state, event.callId, call.index, event.toolName, deniedContent(event), {
        isError: true,
        provenance: APPROVAL_DECISION,
      });
      return;
    }
    case 'step_summarised':
      state.stepSummaries.set(event.summarisedStep, {
        type: 'text',
        text: event.text,
        provenance: event.provenance,
      });
      if (event.usage) {
        state.usage = addUsage(state.usage, { usage: event.usage, costUsd: event.costUsd ?? null });
      }
      return;
    case 'guard_verdict': {
      const call = state.pending.find((pending) => pending.callId === event.callId);
      if (!call) return;
      const { policy, rule, verdict, origins } = event;
      call.verdicts = [
        ...(call.verdicts ?? []),
        origins === undefined ? { policy, rule, verdict } : { policy, rule, verdict, origins },
      ];
      return;
    }
    // An intercepted call is resolved by the result committed with it.
    case 'context_assembled':
    case 'action_flagged':
    case 'tool_intercepted':
    case 'shadow_suppressed':
      return;
    case 'would_need_approval': {
      const call = state.pending.find((pending) => pending.callId === event.callId);
      if (call) call.wouldNeedApproval = true;
      return;
    }
    case 'answer_guarded':
      state.answerSpans = event.spans;
      return;
    case 'injection_signal':
      if (event.score >= event.threshold) state.signalled = true;
      return;
    case 'intent_planned':
      state.planned = true;
      state.plannedTools = event.tools;
      addSideUsage(state, event);
      return;
    case 'tool_quarantined':
      replaceResult(state, event.callId, event.view);
      if (event.extracted !== undefined) state.quarantined.set(event.callId, event.extracted);
      addSideUsage(state, event);
      return;
    case 'decision_recorded':
      // A decision's model calls are the run's spending too: budgets count them.
      if (event.entry.type === 'decision_attempt' && event.entry.usage) {
        state.usage = addUsage(state.usage, {
          usage: event.entry.usage,
          costUsd: event.entry.costUsd,
        });
      }
      return;
    case 'run_finished':
      state.finished = { status: event.status, reason: event.reason, output: event.output };
      return;
    default:
      event satisfies never;
  }
}

/**
 * The planner's and the quarantined reader's calls are the run's spending too: budgets count
 * them. An event written before they were counted has no `costUsd`: its run's totals left it
 * out, and folding it again leaves it out too, so such a run replays and resumes as it ran.
 */
function addSideUsage(
  state: RunState,
  event: {
    readonly usage?: ModelUsage | undefined;
    readonly costUsd?: number | null | undefined;
  },
): void {
  if (event.usage && event.costUsd !== undefined)
    state.usage = addUsage(state.usage, { usage: event.usage, costUsd: event.costUsd });
}

/** A human's decision is trusted: it comes from an authenticated approver, not from content. */
const APPROVAL_DECISION: Provenance = { trust: 'trusted', source: 'approval' };

/** What a denied (or expired) call looks like to the model: it must proceed without it. */
export function deniedContent(event: {
  readonly toolName: string;
  readonly decision: 'approved' | 'denied' | 'expired';
  readonly reason?: string | undefined;
}): string {
  return JSON.stringify({
    denied: {
      tool: event.toolName,
      by: event.decision === 'expired' ? 'expiry' : 'approver',
      reason:
        event.reason ??
        (event.decision === 'expired' ? 'nobody approved it in time' : 'an approver denied it'),
      instruction: 'This action was not performed. Continue without it.',
    },
  });
}

/** Time the run has spent parked on approvals, including a wait still open at `now`. */
export function waitedMs(state: RunState, now: number): number {
  return (
    state.waitedMs + (state.suspendedAt === undefined ? 0 : Math.max(0, now - state.suspendedAt))
  );
}

/** What a typed tool failure looks like to the model. */
export function errorContent(error: ToolFailure): string {
  return JSON.stringify({ error });
}

function pushMessage(state: RunState, role: Message['role'], parts: MessagePart[]): void {
  state.messages.push({ role, parts });
  if (parts.some((part) => part.provenance.trust === 'untrusted')) state.tainted = true;
}

/** What the model sees of a call's result becomes `content` (its label stays). */
function replaceResult(state: RunState, callId: string, content: string): void {
  const at = state.stepResults.findIndex((result) => result.callId === callId);
  const waiting = state.stepResults[at];
  if (waiting) {
    state.stepResults[at] = { ...waiting, content };
    return;
  }
  for (let index = state.messages.length - 1; index >= 0; index--) {
    const message = state.messages[index];
    if (!message || message.role !== 'tool') continue;
    const part = message.parts.findIndex(
      (candidate) => candidate.type === 'tool_result' && candidate.callId === callId,
    );
    if (part < 0) continue;
    conversationEdited(state.messages);
    state.messages[index] = {
      ...message,
      parts: message.parts.map((candidate, at) =>
        at === part && candidate.type === 'tool_result' ? { ...candidate, content } : candidate,
      ),
    };
    return;
  }
}

function countCall(state: RunState, key: string): void {
  state.callCounts.set(key, (state.callCounts.get(key) ?? 0) + 1);
}

function pendingIndex(state: RunState, callId: string): number {
  return state.pending.find((call) => call.callId === callId)?.index ?? state.stepResults.length;
}

function resolveCall(
  state: RunState,
  callId: string,
  index: number,
  toolName: string,
  content: string,
  {
    isError,
    provenance,
    fresh = false,
  }: { isError: boolean; provenance: Provenance; fresh?: boolean },
): void {
  const at = state.pending.findIndex((call) => call.callId === callId);
  if (at >= 0) state.pending.splice(at, 1);
  state.stepResults.push({
    type: 'tool_result',
    callId,
    toolName,
    content,
    isError,
    provenance,
    index,
    fresh,
  });
  state.openCalls -= 1;
  if (state.openCalls > 0) return;

  // Every call of the step is resolved: the results become one tool message, in call order.
  const results = [...state.stepResults].sort((a, b) => a.index - b.index);
  pushMessage(
    state,
    'tool',
    results.map(({ index: _index, fresh: _fresh, ...part }) => part),
  );
  state.stepsWithoutProgress = results.some((result) => result.fresh)
    ? 0
    : state.stepsWithoutProgress + 1;
  state.stepResults.length = 0;
}
