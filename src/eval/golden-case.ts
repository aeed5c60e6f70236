import { KeelError } from '../core/index.js';
import type { EvalAssertion } from './assertions.js';
import { runView, type JournalEntry } from './run-view.js';
import type { EvalCase } from './suite.js';
import type { ToolFixture } from './tool-fixtures.js';

/** Identifiers worth asserting on in an answer: `RF-5001`, `ORD-1001`, `PAY-2001`, ... */
const IDENTIFIER = /\b[A-Z]{2,5}-\d{3,}\b/g;

/**
 * Freeze a recorded run into a case: its task and agent, every tool result it saw as a
 * fixture (so the case replays with nothing executed, reads included), and assertions on
 * what it did (status, the exact tool trajectory, the identifiers its answer quoted), which
 * the user can edit. Plain JSON.
 *
 * ```ts
 * const golden = goldenCase((await store.readEvents(runId)).map(({ at, event }) => ({ at, event })));
 * ```
 */
export function goldenCase(
  journal: readonly JournalEntry[],
  { name }: { name?: string } = {},
): EvalCase {
  const run = runView(journal);
  if (run.task === '') throw new KeelError('invalid_input', 'the run has no run_started event');
  if (run.status === undefined) {
    throw new KeelError(
      'invalid_input',
      'the run has not finished: only a finished run can be recorded',
    );
  }
  const fixtures: ToolFixture[] = [];
  for (const call of run.calls) {
    if (call.result === undefined || call.fate === 'rejected' || call.fate === 'denied') continue;
    const args = (
      typeof call.input === 'object' && call.input !== null ? call.input : {}
    ) as Record<string, unknown>;
    if (!call.isError) fixtures.push({ tool: call.toolName, args, result: call.result });
    else {
      const failed = run.events.find(
        (event) =>
          event.type === 'tool_failed' &&
          event.final &&
          event.callId === call.callId &&
          event.step === call.step,
      );
      if (failed?.type === 'tool_failed')
        fixtures.push({ tool: call.toolName, args, error: failed.error });
    }
  }
  const identifiers = [...new Set(run.output.match(IDENTIFIER) ?? [])];
  const expect: EvalAssertion[] = [
    { type: 'status', status: run.status, ...(run.reason ? { reason: run.reason.type } : {}) },
    { type: 'trajectory', tools: run.calls.map((call) => call.toolName), mode: 'exact' },
    ...identifiers.map((value): EvalAssertion => ({ type: 'contains', value })),
  ];
  const decided = run.events.find((event) => event.type === 'approval_decided');
  return {
    name: name ?? `golden: ${run.task.length > 60 ? `${run.task.slice(0, 59)}…` : run.task}`,
    agent: run.agent,
    task: run.task,
    fixtures,
    liveReads: false,
    ...(decided?.type === 'approval_decided'
      ? { approvals: decided.decision === 'approved' ? 'approve' : 'deny' }
      : {}),
    expect,
  };
}
