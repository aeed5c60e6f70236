import type { Agent } from '../agent/index.js';
import { TRUSTED_AGENT } from '../core/index.js';
import {
  monitorCall,
  privateValues,
  reviewCall,
  type ContextText,
  type MonitorFlag,
  type PrivateResult,
  type ReviewedCall,
} from '../guard/index.js';
import {
  conversationMark,
  sharedPrefix,
  type ConversationMark,
  type Message,
  type RunEvent,
  type RunState,
} from '../journal/index.js';
import type { Execution } from './execution.js';
import type { ModelStep, StepStage } from './model-step.js';

/**
 * Stage 6: the guard reviews each call before any gate sees it: where each argument came from
 * (the agent's guard), where private values go, the run's injection signal (once over its
 * threshold, consequential calls need a human) and the output monitor's flags, which hold or
 * refuse a call as the agent's `untrusted.monitor` says. Its verdicts only ever tighten.
 */
export const reviewCalls: StepStage = (execution, step) => {
  const { agent, journal } = execution;
  const state = journal.state;
  // Only the guard, the gates' policies and the monitor read the context: else it is not built.
  const needsContext =
    agent.guard !== undefined ||
    (agent.gates?.options.policies?.length ?? 0) > 0 ||
    agent.untrusted.monitor !== false;
  step.context = needsContext ? runContext(agent, state) : undefined;
  step.privateValues = agent.guard && state.tainted ? runPrivateValues(agent, state) : [];
  for (const event of step.calls) {
    if (event.type !== 'tool_requested' && event.type !== 'tool_rejected') continue;
    const flags = monitorFlags(agent, event, step.context ?? []);
    if (flags.length > 0) step.flags.set(event.callId, [flaggedEvent(event, flags)]);
    if (event.type === 'tool_requested')
      step.reviews.set(
        event.callId,
        reviewCall(reviewedCall(execution, step, event), {
          guard: agent.guard,
          signalled: state.signalled,
          flags,
          monitor: agent.untrusted.monitor,
        }),
      );
  }
  return 'next';
};

/**
 * The values of the run's private tool results (tools with `privateOutput`), as the guard and
 * the answer guard look for them.
 */
export function runPrivateValues(agent: Agent, state: RunState): string[] {
  const marks = new Map<string, true | readonly string[]>();
  for (const tool of agent.tools)
    if (tool.privateOutput !== false) marks.set(`tool:${tool.name}`, tool.privateOutput);
  if (marks.size === 0) return [];
  const results: PrivateResult[] = [];
  for (const message of state.messages)
    for (const part of message.parts) {
      if (part.type !== 'tool_result' || part.isError) continue;
      const mark = marks.get(part.provenance.source);
      if (mark !== undefined) results.push({ content: part.content, mark });
    }
  return privateValues(results);
}

/** A requested call as the guard and the gates see it. */
export function reviewedCall(
  execution: Execution,
  step: ModelStep,
  event: Extract<RunEvent, { type: 'tool_requested' }>,
): ReviewedCall {
  return {
    runId: execution.run.runId,
    agent: execution.agent.name,
    step: step.number,
    index: event.index,
    toolName: event.toolName,
    toolDescription: execution.agent.tool(event.toolName)?.description,
    effect: event.effect,
    input: event.input,
    tainted: execution.journal.state.tainted,
    context: step.context,
    privateValues: step.privateValues,
    plannedTools: execution.journal.state.plannedTools,
  };
}

/** What the run saw before this step, as text with provenance: what a guard grounds in. */
export function runContext(agent: Agent, state: RunState): ContextText[] {
  const context = conversationContext(agent, state).slice();
  // What quarantined references resolve to came from untrusted content: ground it there.
  for (const [callId, extracted] of state.quarantined)
    context.push({
      text: JSON.stringify(extracted) ?? '',
      provenance: { trust: 'untrusted', source: `quarantine:${callId}` },
    });
  return context;
}

interface CarriedContext {
  readonly instructions: string;
  /** The messages the texts were taken from, and where each one's texts end. */
  readonly seen: Message[];
  readonly ends: number[];
  readonly texts: ContextText[];
  /** Where `seen` stood in the run's conversation log. */
  mark: ConversationMark | undefined;
}

// Carried forward per run: a step adds the texts of its new messages only. A message replaced
// in place (a quarantined result's view) is taken again from there on.
const carriedContexts = new WeakMap<RunState, CarriedContext>();

function conversationContext(agent: Agent, state: RunState): readonly ContextText[] {
  let carried = carriedContexts.get(state);
  if (carried?.instructions !== agent.instructions) {
    carried = {
      instructions: agent.instructions,
      seen: [],
      ends: [],
      texts: [{ text: agent.instructions, provenance: TRUSTED_AGENT }],
      mark: undefined,
    };
    carriedContexts.set(state, carried);
  }
  const { seen, ends, texts } = carried;
  const { messages } = state;
  const mark = conversationMark(messages);
  const same = sharedPrefix(seen, carried.mark, messages, mark);
  carried.mark = mark;
  seen.length = same;
  ends.length = same;
  texts.length = same === 0 ? 1 : (ends[same - 1] ?? 1);
  for (let index = same; index < messages.length; index++) {
    const message = messages[index] as Message;
    for (const part of message.parts) {
      const text =
        part.type === 'text'
          ? part.text
          : part.type === 'tool_result'
            ? part.content
            : part.arguments;
      texts.push({ text, provenance: part.provenance });
    }
    seen.push(message);
    ends.push(texts.length);
  }
  return texts;
}

/** The monitor's flags on one call (none when the monitor is off). */
function monitorFlags(
  agent: Agent,
  event: Extract<RunEvent, { type: 'tool_requested' | 'tool_rejected' }>,
  context: readonly ContextText[],
): MonitorFlag[] {
  if (agent.untrusted.monitor === false) return [];
  if (event.type === 'tool_rejected' && event.outOfScope !== true) return [];
  return monitorCall({
    toolName: event.toolName,
    effect: event.type === 'tool_requested' ? event.effect : 'read',
    input: event.type === 'tool_requested' ? event.input : {},
    context,
    scope: agent.tools.map((tool) => tool.name),
  });
}

/** The monitor's flags on one call as an `action_flagged` event. */
function flaggedEvent(
  event: Extract<RunEvent, { type: 'tool_requested' | 'tool_rejected' }>,
  flags: readonly MonitorFlag[],
): RunEvent {
  return {
    type: 'action_flagged',
    step: event.step,
    callId: event.callId,
    index: event.index,
    toolName: event.toolName,
    flags: flags.map((flag) =>
      flag.argument === undefined ? { kind: flag.kind, detail: flag.detail } : flag,
    ),
  };
}
