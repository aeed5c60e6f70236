import { KeelError } from '../core/index.js';
import { foldRun, type RunEvent } from '../journal/index.js';

/**
 * The journal a fork of `sourceRunId` starts with: its `run_started` (naming the original and
 * the step) and every event before `fromStep`, none of them executed again. Refuses a step the
 * run never reached, and one after a call that started and never finished: running that call
 * again under the fork's own idempotency key could repeat its effect.
 */
export function forkJournal(
  sourceRunId: string,
  source: readonly RunEvent[],
  { fromStep, modelSpec, now }: { fromStep: number; modelSpec: string | undefined; now: number },
): { readonly started: Extract<RunEvent, { type: 'run_started' }>; readonly reused: RunEvent[] } {
  const started = source.find((event) => event.type === 'run_started');
  if (!started) throw new KeelError('not_found', `no run ${sourceRunId}`);
  const { steps } = foldRun(source);
  if (!Number.isInteger(fromStep) || fromStep < 0 || fromStep > steps) {
    throw new KeelError(
      'invalid_input',
      `fork of ${sourceRunId}: fromStep must be an integer from 0 to ${steps} (its steps)`,
    );
  }
  const reused = source.filter(
    (event) =>
      'step' in event &&
      event.step < fromStep &&
      !(event.type === 'tool_started' && event.reissued === true),
  );
  const unsettled = foldRun([started, ...reused]).pending.find((call) => call.attemptsStarted > 0);
  if (unsettled) {
    throw new KeelError(
      'invalid_input',
      `fork of ${sourceRunId}: step ${unsettled.step} has a ${unsettled.toolName} call that started and never finished; fork from step ${unsettled.step} or earlier`,
    );
  }
  return {
    started: {
      ...started,
      modelSpec,
      startedAt: now,
      forkOf: { runId: sourceRunId, step: fromStep },
    },
    reused,
  };
}
