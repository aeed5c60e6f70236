import type { Agent } from '../agent/index.js';
import { resolveQuarantineRefs } from '../core/index.js';
import { guardAnswer } from '../guard/index.js';
import {
  HELD_ANSWER_TOOL,
  type AnswerProvenanceSpan,
  type RunEvent,
  type RunState,
} from '../journal/index.js';
import { argumentsHash } from '../approval/index.js';
import type { Execution } from './execution.js';
import { ROUTING_ONLY, approvalId } from './gate-calls.js';
import { runContext, runPrivateValues } from './guard-review.js';

const REFERENCE = /⟨q:([^⟩\s.[]+)(?:[.[][^⟩\s]*)?⟩/gu;

/**
 * The final answer as it is delivered, and the `answer_guarded` event that says what was done
 * to it. A `quarantine` agent's references are resolved into the answer (each marked as a span
 * from untrusted content), so a question about quarantined content can be answered. Once the
 * run read untrusted content, or holds private values, the answer guard neutralises (or flags)
 * links whose destination came only from untrusted content, takes private values out of every
 * URL and marks the stretches that derive from untrusted content. An untainted run without
 * private data (or an agent with `answer: false`) is delivered as the model wrote it, with no
 * event, unless it resolved references; so is an answer in which the guard found, marked and
 * changed nothing.
 */
export function deliverAnswer(
  agent: Agent,
  state: RunState,
  step: number,
  answer: string,
): { readonly output: string; readonly events: RunEvent[]; readonly hold: boolean } {
  const resolved = resolveReferences(answer, state);
  const handling = agent.untrusted.answer;
  const secrets = handling === false ? [] : runPrivateValues(agent, state);
  if (handling === false || (!state.tainted && secrets.length === 0)) {
    if (resolved.values.length === 0) return { output: answer, events: [], hold: false };
  }
  const review = guardAnswer(resolved.text, {
    context: runContext(agent, state),
    tainted: state.tainted && handling !== false,
    handling: handling === false ? 'flag' : handling === 'confirm' ? 'neutralise' : handling,
    privateValues: secrets,
    allow: agent.untrusted.allowDestinations,
  });
  const spans: AnswerProvenanceSpan[] = [...review.spans];
  for (const { value, source } of resolved.values) {
    let at = review.text.indexOf(value);
    while (at >= 0) {
      const end = at + value.length;
      if (!spans.some((span) => span.start <= at && span.end >= end))
        spans.push({ start: at, end, source, reason: 'quarantine' });
      at = review.text.indexOf(value, end);
    }
  }
  spans.sort((a, b) => a.start - b.start || a.end - b.end);
  // Nothing found, marked or changed: nothing to journal (and a run recorded before the answer
  // guard existed replays identically).
  if (review.findings.length === 0 && spans.length === 0 && review.text === answer) {
    return { output: answer, events: [], hold: false };
  }
  const event: RunEvent = {
    type: 'answer_guarded',
    step,
    handling: handling === false || handling === 'flag' ? 'flag' : 'neutralise',
    findings: review.findings,
    spans,
    ...(review.text === answer ? {} : { original: answer }),
  };
  // Held for a person: the guard neutralised (or flagged) a link or took out a private value.
  const hold = handling === 'confirm' && review.findings.length > 0;
  return { output: review.text, events: [event], hold };
}

/**
 * The events that park a final answer for a person (`untrusted.answer: 'confirm'`): the held
 * answer and an approval of `final_answer` with the answer as its arguments, routed by the
 * agent's gates as any confirmation is.
 */
export function holdAnswer(execution: Execution, step: number, output: string): RunEvent[] {
  const { agent, run } = execution;
  const callId = `answer_${step}`;
  const input = { answer: output };
  const message = 'the answer guard neutralised a link or a private value in the final answer';
  const call = {
    runId: run.runId,
    agent: agent.name,
    step,
    index: 0,
    toolName: HELD_ANSWER_TOOL,
    effect: 'egress' as const,
    input,
    tainted: execution.journal.state.tainted,
  };
  const review = {
    verdict: 'confirm' as const,
    reason: { policy: ANSWER_POLICY, message },
    records: [{ policy: ANSWER_POLICY, rule: 'answer_guarded', verdict: 'confirm' as const }],
  };
  // Routed by the agent's gates (its approver group, expiry); a confirm is never loosened, and
  // a gate that would refuse outright still leaves the answer to a person.
  const routed = (agent.gates ?? ROUTING_ONLY).decide(call, review);
  const decision = routed.type === 'confirm' ? routed : ROUTING_ONLY.decide(call, review);
  if (decision.type !== 'confirm') throw new Error('a held answer must go to a person');
  return [
    { type: 'answer_held', step, callId, output },
    {
      type: 'approval_requested',
      step,
      callId,
      index: 0,
      toolName: HELD_ANSWER_TOOL,
      approvalId: approvalId(run.runId, step, 0),
      argsHash: argumentsHash(input),
      reason: decision.reason,
      approverGroup: decision.approverGroup,
      expiresAt: run.clock.now() + decision.expiresAfterMs,
      onExpiry: decision.onExpiry,
    },
  ];
}

/** The policy name a held answer's approval is filed under. */
const ANSWER_POLICY = 'answer_guard';

/** The answer with each quarantine reference replaced by the value it names, and those values. */
function resolveReferences(
  answer: string,
  state: RunState,
): { text: string; values: { value: string; source: string }[] } {
  const values: { value: string; source: string }[] = [];
  if (state.quarantined.size === 0 || !answer.includes('⟨q:')) return { text: answer, values };
  const text = answer.replace(REFERENCE, (reference: string, callId: string) => {
    const found = resolveQuarantineRefs(reference, state.quarantined);
    if (!found.ok) return reference;
    const value = typeof found.value === 'string' ? found.value : JSON.stringify(found.value);
    if (value === undefined || value === '') return reference;
    values.push({ value, source: `quarantine:${callId}` });
    return value;
  });
  return { text, values };
}
