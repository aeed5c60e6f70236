import type {
  AnswerProvenanceSpan,
  RunReason,
  RunState,
  RunStatus,
  UsageTotals,
} from '../journal/index.js';

/** What a finished run gives back. */
export interface RunResult {
  readonly id: string;
  readonly agent: string;
  readonly status: RunStatus;
  readonly reason: RunReason;
  readonly output: string | null;
  readonly steps: number;
  readonly usage: UsageTotals;
  readonly model: { readonly provider: string; readonly modelId: string };
  /**
   * Where the answer came from, once the run read untrusted content: the stretches of `output`
   * that derive from it (links, sentences, resolved quarantine references), for a UI to mark
   * as unverified. Absent when the answer guard did not look at the answer or found, marked and
   * changed nothing in it.
   */
  readonly answerSpans?: readonly AnswerProvenanceSpan[];
}

export function resultOf(runId: string, state: RunState): RunResult | undefined {
  if (!state.finished) return undefined;
  return {
    id: runId,
    agent: state.agent,
    status: state.finished.status,
    reason: state.finished.reason,
    output: state.finished.output,
    steps: state.steps,
    usage: state.usage,
    model: state.model,
    ...(state.answerSpans === undefined ? {} : { answerSpans: state.answerSpans }),
  };
}
