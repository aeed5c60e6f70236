import type { RunReason, RunState, RunStatus, UsageTotals } from '../journal/index.js';

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
  };
}
