import type { Agent } from '../agent/index.js';
import { resolveQuarantineRefs } from '../core/index.js';
import { guardAnswer } from '../guard/index.js';
import type { AnswerProvenanceSpan, RunEvent, RunState } from '../journal/index.js';
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
): { readonly output: string; readonly events: RunEvent[] } {
  const resolved = resolveReferences(answer, state);
  const handling = agent.untrusted.answer;
  const secrets = handling === false ? [] : runPrivateValues(agent, state);
  if (handling === false || (!state.tainted && secrets.length === 0)) {
    if (resolved.values.length === 0) return { output: answer, events: [] };
  }
  const review = guardAnswer(resolved.text, {
    context: runContext(agent, state),
    tainted: state.tainted && handling !== false,
    handling: handling === false ? 'flag' : handling,
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
    return { output: answer, events: [] };
  }
  const event: RunEvent = {
    type: 'answer_guarded',
    step,
    handling: handling === false ? 'flag' : handling,
    findings: review.findings,
    spans,
    ...(review.text === answer ? {} : { original: answer }),
  };
  return { output: review.text, events: [event] };
}

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
