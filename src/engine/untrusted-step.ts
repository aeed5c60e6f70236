import { GENERIC_READER_SCHEMA, type Agent, type UntrustedDetector } from '../agent/index.js';
import { quarantineRef, type Provenance } from '../core/index.js';
import {
  heuristicDetector,
  quarantineView,
  quarantinedRead,
  spotlight,
  spotlightNonce,
  type CallBudget,
} from '../guard/index.js';
import { tokenCounter } from '../context/index.js';
import { budgetReached, type RunEvent } from '../journal/index.js';
import { costOf, type ModelAdapterV1, type ModelRequest } from '../model/index.js';
import type { Execution } from './execution.js';
import type { ToolFailure } from '../tools/index.js';

/** The request as the model is sent it: spotlighted for an agent that asks for it. */
export function presentRequest(agent: Agent, request: ModelRequest, runId: string): ModelRequest {
  return agent.untrusted.handling === 'spotlight'
    ? spotlight(request, spotlightNonce(runId))
    : request;
}

function detectorOf(agent: Agent): UntrustedDetector | undefined {
  const { detector } = agent.untrusted;
  return detector === 'default' ? heuristicDetector : (detector ?? undefined);
}

/** One untrusted tool result, as it is about to be journaled. */
interface UntrustedResult {
  readonly agent: Agent;
  readonly step: number;
  readonly callId: string;
  readonly toolName: string;
  readonly content: string;
  readonly signal: AbortSignal;
  /** The run's budget the quarantined reader's calls are held to. */
  readonly budget?: CallBudget | undefined;
}

/**
 * What follows an untrusted tool result in the journal: the detector's signal (when it found
 * anything) and, for a `quarantine` agent, what the tool-using model sees instead of it.
 */
export async function untrustedResultEvents(result: UntrustedResult): Promise<RunEvent[]> {
  const { agent, step, callId, toolName, content } = result;
  const events: RunEvent[] = [];
  const detector = detectorOf(agent);
  if (detector) {
    let found: ReturnType<UntrustedDetector> | undefined;
    try {
      found = detector(content);
    } catch {
      // A detector is telemetry: its fault never stops a run.
      found = undefined;
    }
    const score = Number.isFinite(found?.score) ? Math.min(1, Math.max(0, found?.score ?? 0)) : 0;
    if (found && score > 0)
      events.push({
        type: 'injection_signal',
        step,
        callId,
        toolName,
        detector: detector.name === '' ? 'custom' : detector.name,
        score,
        matches: [...found.matches].filter((match) => typeof match === 'string'),
        threshold: agent.untrusted.signalThreshold,
      });
  }
  if (agent.untrusted.handling === 'quarantine') events.push(await quarantine(result));
  return events;
}

async function quarantine({
  agent,
  step,
  callId,
  toolName,
  content,
  signal,
  budget,
}: UntrustedResult): Promise<RunEvent> {
  const reader = agent.untrusted.reader;
  const withheld = {
    tool: toolName,
    ref: quarantineRef(callId, ''),
    chars: content.length,
    note: 'Untrusted content withheld from you; only a reference (and any extraction) is shown.',
  };
  const base = { type: 'tool_quarantined', step, callId, toolName } as const;
  // Without a schema of its own, the tool's output gets the generic extraction.
  const schema = reader.schemas[toolName] ?? GENERIC_READER_SCHEMA;
  if (!reader.model)
    return { ...base, view: JSON.stringify({ quarantined: withheld }), outputs: [] };
  const read = await quarantinedRead({
    model: reader.model,
    schema,
    content,
    instructions:
      reader.instructions ??
      `Extract the data described by the schema from the output of the tool "${toolName}".`,
    retries: reader.retries,
    signal,
    budget,
  });
  const costUsd = costOf(read.usage, reader.model.price);
  if (!read.ok)
    return {
      ...base,
      view: JSON.stringify({ quarantined: withheld, extracted: null }),
      outputs: read.outputs,
      error: read.error,
      usage: read.usage,
      attemptUsage: read.attemptUsage,
      costUsd,
    };
  return {
    ...base,
    view: JSON.stringify({
      quarantined: withheld,
      extracted: quarantineView(read.value, read.labels, callId),
    }),
    outputs: read.outputs,
    labels: read.labels,
    extracted: read.value,
    usage: read.usage,
    attemptUsage: read.attemptUsage,
    costUsd,
  };
}

/**
 * For a `quarantine` agent, an untrusted tool's final failure is kept from the tool-using model
 * too: its message may quote the content (a page's body in an HTTP error), so the model is shown
 * the error's type only. The full failure stays in the journal's `tool_failed`.
 */
export function quarantinedFailure(
  agent: Agent,
  { step, callId, toolName }: { step: number; callId: string; toolName: string },
  error: ToolFailure,
  provenance: Provenance,
): RunEvent[] {
  if (agent.untrusted.handling !== 'quarantine' || provenance.trust !== 'untrusted') return [];
  const view = {
    error: { type: error.type },
    quarantined: {
      tool: toolName,
      chars: error.message.length,
      note: 'The error message came with untrusted content and is withheld from you.',
    },
  };
  return [
    { type: 'tool_quarantined', step, callId, toolName, view: JSON.stringify(view), outputs: [] },
  ];
}

/**
 * The run's budget for one quarantined read: each of the reader's calls is made only if the
 * run's spending (what is journaled, and what reads under way have spent or are about to
 * spend and have not journaled) plus the call's input fits the run's token and cost limits.
 * A call it allows holds its input against the others until it reports what it spent; what
 * the read spent counts for the others until `settled`, once its event is journaled (or never
 * will be).
 */
export function readerBudget(
  execution: Execution,
  reader: ModelAdapterV1,
): CallBudget & { settled(): void } {
  const { journal, agent, unjournaledSpending: pending } = execution;
  const mine = { tokens: 0, costUsd: 0 };
  let held = { tokens: 0, costUsd: 0 };
  const add = (amount: { tokens: number; costUsd: number }, sign: 1 | -1): void => {
    mine.tokens += sign * amount.tokens;
    mine.costUsd += sign * amount.costUsd;
    pending.tokens += sign * amount.tokens;
    pending.costUsd += sign * amount.costUsd;
  };
  return {
    allows(request) {
      const spent = journal.state.usage;
      const input = tokenCounter(reader).request(request);
      const cost = costOf({ inputTokens: input, outputTokens: 0 }, reader.price);
      const reached = budgetReached(
        {
          tokens: spent.inputTokens + spent.outputTokens + pending.tokens + input,
          costUsd: cost === null ? null : spent.costUsd + pending.costUsd + cost,
        },
        journal.state.limits ?? agent.limits,
      );
      if (reached) return false;
      add(held, -1);
      held = { tokens: input, costUsd: cost ?? 0 };
      add(held, 1);
      return true;
    },
    spent(usage) {
      add(held, -1);
      held = { tokens: 0, costUsd: 0 };
      add(
        {
          tokens: usage.inputTokens + usage.outputTokens,
          costUsd: costOf(usage, reader.price) ?? 0,
        },
        1,
      );
    },
    settled() {
      pending.tokens -= mine.tokens;
      pending.costUsd -= mine.costUsd;
      mine.tokens = 0;
      mine.costUsd = 0;
      held = { tokens: 0, costUsd: 0 };
    },
  };
}
