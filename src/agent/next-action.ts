import { z } from 'zod';
import {
  combineTrust,
  resolveQuarantineRefs,
  TRUSTED_AGENT,
  type Provenance,
} from '../core/index.js';
import {
  assembleContext,
  resolveContextOptions,
  stepsToSummarise,
  tokenCounter,
  type AssembleContextInput,
  type ContextAssembly,
  type ContextConfig,
} from '../context/index.js';
import { spotlightSystem, spotlightText, spotlightedParts } from '../guard/index.js';
import {
  costOf,
  type Message,
  type ModelAdapterV1,
  type ModelRequest,
  type ModelResponse,
  type ToolSpec,
} from '../model/index.js';
import type { Agent } from './define-agent.js';
import {
  budgetReached,
  callKey,
  conversationCopy,
  limitBeforeStep,
  type LimitName,
  type PendingCall,
  type RunEvent,
  type RunState,
} from '../journal/index.js';

/** What the engine should do next for a run. Decided from state alone: no I/O here. */
export type NextAction =
  | { readonly type: 'execute_tools'; readonly calls: readonly PendingCall[] }
  /** Every call still open waits on a human decision. */
  | { readonly type: 'await_approval'; readonly calls: readonly PendingCall[] }
  | {
      readonly type: 'call_model';
      readonly request: ModelRequest;
      readonly estimatedInputTokens: number;
      /** What the managed context put in the request (agents with `context` only). */
      readonly context?: ContextAssembly | undefined;
    }
  | {
      readonly type: 'stop';
      readonly limit: LimitName;
      readonly used: number;
      readonly max: number;
    }
  | { readonly type: 'done' };

/**
 * The step function: state → next action. Limits are checked in one fixed order: timeout,
 * then (with no calls open) iterations, no progress, and before the model call tokens and cost
 * on the estimate. The engine runs the same pieces as named stages (`actionBeforeStep`, the
 * assembly, `preflight`); this composes them for a caller that wants the whole decision.
 *
 * ```ts
 * const action = nextAction(agent, state, clock.now());
 * ```
 */
export function nextAction(
  agent: Agent,
  state: RunState,
  now: number,
  prepared: PreparedContext = {},
): NextAction {
  return (
    actionBeforeStep(agent, state, now) ??
    preflight(agent, state, assembleRequest(agent, state, prepared))
  );
}

/**
 * What comes before a model step, or `undefined` when a model step is next: the run is done,
 * its open calls run (or wait on a human), or a limit ends it (the timeout first).
 */
export function actionBeforeStep(
  agent: Agent,
  state: RunState,
  now: number,
): Exclude<NextAction, { type: 'call_model' }> | undefined {
  if (state.finished) return { type: 'done' };
  const reached = limitBeforeStep(state, state.limits ?? agent.limits, now);
  if (reached?.limit === 'timeout') return { type: 'stop', ...reached };
  // A final answer held for a person waits for the decision (the engine then delivers it).
  if (state.heldAnswer?.decision === undefined && state.heldAnswer?.call.awaitingApproval)
    return { type: 'await_approval', calls: [state.heldAnswer.call] };
  if (state.pending.length > 0) {
    const ready = state.pending.filter((call) => call.awaitingApproval === undefined);
    if (ready.length > 0) return { type: 'execute_tools', calls: ready };
    return { type: 'await_approval', calls: [...state.pending] };
  }
  return reached ? { type: 'stop', ...reached } : undefined;
}

/**
 * The budget pre-flight of an assembled request: the call goes ahead unless its input (as
 * counted or estimated) plus the agent's output cap would pass the run's remaining tokens, or
 * its estimated cost the remaining cost. The input is the request as it is sent: a
 * spotlighting agent's markers are counted too, at most.
 */
export function preflight(
  agent: Agent,
  state: RunState,
  { request, assembly }: AssembledRequest,
  { model = agent.model }: PreflightOptions = {},
): Extract<NextAction, { type: 'call_model' | 'stop' }> {
  const limits = state.limits ?? agent.limits;
  const expectedOutput = agent.maxOutputTokens ?? 0;
  const spentWith = (inputTokens: number) => {
    const cost = costOf({ inputTokens, outputTokens: expectedOutput }, model.price);
    return {
      tokens: state.usage.inputTokens + state.usage.outputTokens + inputTokens + expectedOutput,
      costUsd: cost === null ? null : state.usage.costUsd + cost,
    };
  };
  // A managed context has already counted its sections with the agent's model's counter:
  // their sum bounds the request from above, so it is not counted a second time (a fallback
  // model counts it its own way). Otherwise a model with a costly exact count is counted
  // exactly only when its cheap bound does not fit. A spotlighted request is counted with its
  // markers, as it is sent.
  const counted = model === agent.model ? assembly?.totalTokens : undefined;
  const presented = spotlightTokens(agent, request, model);
  const rough = counted === undefined ? model.roughInputTokens?.(request) : undefined;
  const estimatedInputTokens =
    presented +
    (counted ??
      (rough && !budgetReached(spentWith(presented + rough.atMost), limits)
        ? rough.estimate
        : (model.estimateInputTokens?.(request) ?? 0)));
  const reached = budgetReached(spentWith(estimatedInputTokens), limits);
  if (reached) return { type: 'stop', ...reached };
  return {
    type: 'call_model',
    request,
    estimatedInputTokens,
    ...(assembly ? { context: assembly } : {}),
  };
}

/**
 * At most how many tokens spotlighting adds to `request` for `agent` (0 unless it spotlights),
 * counted for `model` (the agent's own by default): the line in the system prompt, two markers
 * around each untrusted part and what rewriting marker-shaped text inside them adds. Each
 * marker's nonce (12 hex digits, one per run) is taken at its worst, a token a digit, so the
 * bound, and the pre-flight's decision, is the same for every run: a replay or a shadow of a
 * run decides as it did.
 */
export function spotlightTokens(
  agent: Agent,
  request: ModelRequest,
  model: ModelAdapterV1 = agent.model,
): number {
  if (agent.untrusted.handling !== 'spotlight') return 0;
  const { wrapped, neutralised } = spotlightedParts(request.messages);
  if (wrapped === 0) return 0;
  const costs = spotlightCosts(model);
  return costs.note + wrapped * costs.wrap + neutralised * NEUTRALISED_TOKENS_AT_MOST;
}

/** A nonce is 12 hex digits: at most a token each. */
const NONCE_TOKENS_AT_MOST = 12;
/** `[/marker removed]` in place of a marker: at most a token a character. */
const NEUTRALISED_TOKENS_AT_MOST = '[/marker removed]'.length;
/** Tokens more for each edge where a marker may split what was one token of the content. */
const EDGE_TOKENS = 2;

interface SpotlightCosts {
  readonly note: number;
  readonly wrap: number;
}

const costsByModel = new WeakMap<ModelAdapterV1, SpotlightCosts>();

/** What the note and one part's markers cost at most in `model`'s count, measured once. */
function spotlightCosts(model: ModelAdapterV1): SpotlightCosts {
  const known = costsByModel.get(model);
  if (known) return known;
  const counter = tokenCounter(model);
  const base: ModelRequest = { system: '', messages: [], tools: [] };
  const plain = 'x';
  // Markers without their nonce; each nonce is added at its worst below.
  const marked = spotlightText(plain, '');
  const text = { type: 'text', text: plain, provenance: TRUSTED_AGENT } as const;
  const result = {
    type: 'tool_result',
    callId: 'c',
    toolName: 't',
    content: plain,
    isError: false,
    provenance: TRUSTED_AGENT,
  } as const;
  const costs = {
    note:
      counter.request({ ...base, system: spotlightSystem('', '') }) -
      counter.request(base) +
      2 * NONCE_TOKENS_AT_MOST +
      EDGE_TOKENS,
    wrap:
      Math.max(
        counter.part({ ...text, text: marked }) - counter.part(text),
        counter.part({ ...result, content: marked }) - counter.part(result),
      ) +
      2 * NONCE_TOKENS_AT_MOST +
      2 * EDGE_TOKENS,
  };
  costsByModel.set(model, costs);
  return costs;
}

/** What a pre-flight check is of, when not the agent's own model. */
export interface PreflightOptions {
  /** The model the request goes to, when not the agent's own (a fallback). */
  readonly model?: ModelAdapterV1 | undefined;
}

/** A request ready for the model and, for a managed context, what its assembly put in it. */
export interface AssembledRequest {
  readonly request: ModelRequest;
  readonly assembly: ContextAssembly | undefined;
}

/** The request for the next model call: trusted instructions, then the conversation. */
export function buildRequest(agent: Agent, state: RunState): ModelRequest {
  return assembleRequest(agent, state).request;
}

/**
 * The request for the next model call and, for an agent with a managed context, what the
 * assembly put in it. With `budgetTokens` (after a `context_too_long` error) the context is
 * compressed to that many input tokens, managed or not.
 *
 * ```ts
 * const { request, assembly } = assembleRequest(agent, state, { budgetTokens: 12_000 });
 * ```
 */
export function assembleRequest(
  agent: Agent,
  state: RunState,
  {
    budgetTokens,
    recalledRefs,
  }: PreparedContext & { readonly budgetTokens?: number | undefined } = {},
): AssembledRequest {
  if (agent.context === undefined && budgetTokens === undefined) {
    return { request: wholeConversation(agent, state), assembly: undefined };
  }
  const config = agent.context ?? resolveContextOptions(`agent "${agent.name}"`, {});
  return assembleContext({ ...contextInput(agent, state, config), budgetTokens, recalledRefs });
}

/**
 * The completed steps the next assembly shows only as summaries and that have no journaled
 * summary yet, newest first, at most the context's `maxSummariesPerStep`. Empty for an agent
 * without a managed context. `assembly` is the step's assembly without prepared lookups (a
 * `call_model` action's `context`) when the caller already has it.
 *
 * ```ts
 * for (const { step, messages } of stepsDueForSummary(agent, state)) { ... }
 * ```
 */
export function stepsDueForSummary(
  agent: Agent,
  state: RunState,
  assembly?: ContextAssembly,
): { readonly step: number; readonly messages: readonly Message[] }[] {
  const config = agent.context;
  if (config === undefined) return [];
  return stepsToSummarise(
    contextInput(agent, state, config),
    state.stepSummaries,
    config.maxSummariesPerStep,
    assembly,
  );
}

/** What an assembly of the run's context starts from, before any prepared lookups. */
function contextInput(agent: Agent, state: RunState, config: ContextConfig): AssembleContextInput {
  return {
    system: agent.instructions,
    messages: state.messages,
    tools: offeredSpecs(agent),
    maxOutputTokens: agent.maxOutputTokens,
    config,
    counter: tokenCounter(agent.model),
    summaries: state.stepSummaries,
  };
}

/** What the engine looked up before a step's assembly (I/O the step function does not do). */
export interface PreparedContext {
  /** The store's search results for the current goal, most relevant first. */
  readonly recalledRefs?: readonly string[] | undefined;
}

function wholeConversation(agent: Agent, state: RunState): ModelRequest {
  return {
    system: agent.instructions,
    // A copy: the run's conversation keeps growing after the request is made. Marked as a
    // copy of the run's log, so what is carried over it need not compare its messages.
    messages: conversationCopy(state.messages),
    tools: offeredSpecs(agent),
    maxOutputTokens: agent.maxOutputTokens,
  };
}

/** The specs of the tools the model is offered this step: those available now. */
function offeredSpecs(agent: Agent): ToolSpec[] {
  return agent.tools.filter((tool) => tool.available?.() !== false).map((tool) => tool.spec);
}

/** The label of the model's output: untrusted once its context held untrusted content. */
export function modelOutputProvenance(state: RunState): Provenance {
  return {
    trust: combineTrust(TRUSTED_AGENT.trust, state.tainted ? 'untrusted' : 'trusted'),
    source: 'model',
  };
}

/** The result of checking a model's tool calls before anything runs. */
export interface CallValidation {
  /** `tool_requested` for valid calls, `tool_rejected` (typed error fed back) for malformed. */
  readonly events: RunEvent[];
  /** Set when a call would exceed the identical-call limit: the run stops before it runs. */
  readonly limitHit?: { readonly limit: LimitName; readonly used: number; readonly max: number };
}

/**
 * Parse and validate each tool call of a model response: bad JSON and schema mismatches are
 * `invalid_input`, unknown tools `not_found`. Counts identical calls (same tool, same canonical
 * arguments) including those of this response.
 */
export function validateToolCalls(
  agent: Agent,
  state: RunState,
  step: number,
  response: ModelResponse,
): CallValidation {
  const limits = state.limits ?? agent.limits;
  const events: RunEvent[] = [];
  const counts = new Map<string, number>();
  let index = 0;
  for (const part of response.content) {
    if (part.type !== 'tool_call') continue;
    const base = { step, callId: part.callId, index, toolName: part.toolName };
    index += 1;
    const tool = agent.tool(part.toolName);
    if (!tool) {
      const known = agent.tools.map((candidate) => candidate.name).join(', ') || 'none';
      events.push({
        type: 'tool_rejected',
        ...base,
        error: {
          type: 'not_found',
          message: `unknown tool "${part.toolName}"; available tools: ${known}`,
        },
        // The agent's tool set is its scope: a call to anything else is refused and flagged.
        outOfScope: true,
      });
      continue;
    }
    // A tool withheld this step (e.g. its definition no longer matches its pin) never runs.
    if (tool.available?.() === false) {
      events.push({
        type: 'tool_rejected',
        ...base,
        error: { type: 'forbidden', message: `tool "${tool.name}" is not available now` },
      });
      continue;
    }
    let raw: unknown;
    try {
      raw = part.arguments.trim() === '' ? {} : JSON.parse(part.arguments);
    } catch {
      events.push({
        type: 'tool_rejected',
        ...base,
        error: {
          type: 'invalid_input',
          message: `arguments are not valid JSON: ${truncate(part.arguments, 200)}`,
        },
      });
      continue;
    }
    // A planner passes quarantined free text by reference: the real value goes back in here,
    // before validation and the action policy, which judge it like any value from content.
    if (state.quarantined.size > 0) {
      const resolved = resolveQuarantineRefs(raw, state.quarantined);
      if (!resolved.ok) {
        events.push({
          type: 'tool_rejected',
          ...base,
          error: { type: 'invalid_input', message: resolved.error },
        });
        continue;
      }
      raw = resolved.value;
    }
    const parsed = tool.input.safeParse(raw);
    if (!parsed.success) {
      events.push({
        type: 'tool_rejected',
        ...base,
        error: {
          type: 'invalid_input',
          message: `arguments do not match the input schema: ${z.prettifyError(parsed.error)}`,
        },
      });
      continue;
    }
    // The journal keeps the arguments as the model sent them (plain JSON); the tool receives
    // them parsed at execution, so a resumed call gets exactly the same input.
    const key = callKey(tool.name, raw);
    const count = (state.callCounts.get(key) ?? 0) + (counts.get(key) ?? 0) + 1;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (count > limits.maxIdenticalCalls) {
      return {
        events,
        limitHit: { limit: 'identical_calls', used: count, max: limits.maxIdenticalCalls },
      };
    }
    events.push({ type: 'tool_requested', ...base, input: raw, effect: tool.effect });
  }
  return { events };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
