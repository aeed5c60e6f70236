import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { KeelError, type RunEvent, type RunResult, type Runtime } from '../../src/index.js';
import type { SupportBackend } from './backend.js';
import { isType, type JournalEntry, type ResumeFacts } from './report.js';

export interface ResumeScenarioOptions {
  readonly runtime: Runtime;
  /** This process's view of the backend the child shares through the ledger. */
  readonly backend: SupportBackend;
  readonly storeUrl: string;
  readonly ledgerPath: string;
  readonly leaseMs: number;
  /** The child worker's command line, without the demo's own arguments. */
  readonly workerCommand: readonly string[];
  readonly agent: string;
  readonly task: string;
  readonly orderId: string;
  /** A run already queued (by the router); without it, one is submitted to `agent`. */
  readonly runId?: string | undefined;
  /** Give up waiting for the child after this long. */
  readonly timeoutMs?: number;
}

export interface ResumeScenarioOutcome {
  readonly runId: string;
  readonly result: RunResult;
  readonly entries: readonly JournalEntry[];
  readonly facts: ResumeFacts;
}

/**
 * Submit a run, let a child worker process claim it, SIGKILL the child half-way (after the
 * refund was issued but before its result reached the journal: the worst moment), then resume
 * the run here once the child's lease expires.
 */
export async function runResumeScenario(
  options: ResumeScenarioOptions,
): Promise<ResumeScenarioOutcome> {
  const { runtime, backend, timeoutMs = 60_000 } = options;
  const record =
    options.runId === undefined
      ? await runtime.submit(options.agent, options.task)
      : { id: options.runId };
  const [command, ...commandArgs] = options.workerCommand;
  if (command === undefined) throw new KeelError('invalid_config', 'workerCommand is empty');
  const child = spawn(
    command,
    [
      ...commandArgs,
      '--store',
      options.storeUrl,
      '--lease-ms',
      String(options.leaseMs),
      '--ledger',
      options.ledgerPath,
      '--slow',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
  );
  const childOutput = collect(child);
  let exited = false;
  const exit = once(child, 'exit').then(
    () => {
      exited = true;
    },
    (error: unknown) => {
      // 'error': the command could not be started. Reported by the wait below.
      exited = true;
      childOutput.add(error instanceof Error ? error.message : String(error));
    },
  );

  try {
    const killedDuring = await waitForMidRun({
      runtime,
      backend,
      runId: record.id,
      orderId: options.orderId,
      isChildAlive: () => !exited,
      childOutput,
      deadline: Date.now() + timeoutMs,
    });
    child.kill('SIGKILL');
    await exit;

    const worker = runtime.startWorker({ pollMs: 100 });
    let result: RunResult;
    try {
      result = await runtime.wait(record.id, {
        pollMs: 50,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new KeelError(
        'internal',
        `the resumed run ${record.id} did not finish in ${timeoutMs} ms`,
        {
          cause: error,
        },
      );
    } finally {
      await worker.stop();
    }
    const entries = await readJournal(runtime, record.id);
    return {
      runId: record.id,
      result,
      entries,
      facts: resumeFacts({
        entries,
        childPid: child.pid ?? -1,
        killedDuring,
        refundsIssued: backend.refunds().filter((refund) => refund.orderId === options.orderId)
          .length,
      }),
    };
  } finally {
    if (!exited) {
      child.kill('SIGKILL');
      await exit;
    }
  }
}

/**
 * Poll the journal until the child is half-way: best, inside `issue_refund` after the refund
 * exists (the backend shows it) but before `tool_finished` is journaled; at worst, past its
 * first finished tool call. Returns what the child was doing.
 */
async function waitForMidRun(options: {
  runtime: Runtime;
  backend: SupportBackend;
  runId: string;
  orderId: string;
  isChildAlive: () => boolean;
  childOutput: () => string;
  deadline: number;
}): Promise<string> {
  const { runtime, backend, runId } = options;
  for (;;) {
    if (!options.isChildAlive()) {
      throw new KeelError(
        'internal',
        `the demo's worker process exited before it could be killed:\n${options.childOutput()}`,
      );
    }
    const events = (await readJournal(runtime, runId)).map((entry) => entry.event);
    if (events.some(isType('run_finished'))) {
      throw new KeelError('internal', `run ${runId} finished before its worker could be killed`);
    }
    const finished = new Set(events.filter(isType('tool_finished')).map((event) => event.callId));
    const refundInFlight = events
      .filter(isType('tool_started'))
      .some((event) => event.toolName === 'issue_refund' && !finished.has(event.callId));
    const refunded = backend.refunds().some((refund) => refund.orderId === options.orderId);
    if (refundInFlight && refunded) {
      return 'issue_refund, after the refund was recorded and before its result was journaled';
    }
    const refundDone = events
      .filter(isType('tool_finished'))
      .some((event) => event.toolName === 'issue_refund');
    if (refundDone) {
      // Missed the window inside the refund (a very slow poll): still half-way.
      return `step ${String(events.filter(isType('model_called')).length)}, after ${String(finished.size)} finished tool calls`;
    }
    if (Date.now() > options.deadline) {
      throw new KeelError(
        'internal',
        `run ${runId} did not reach its refund in its worker process:\n${options.childOutput()}`,
      );
    }
    await delay(20);
  }
}

function resumeFacts(options: {
  entries: readonly JournalEntry[];
  childPid: number;
  killedDuring: string;
  refundsIssued: number;
}): ResumeFacts {
  const { entries } = options;
  const claims = entries.filter((entry) => entry.event.type === 'run_claimed');
  const resumedAt = claims[1]?.seq ?? Number.POSITIVE_INFINITY;
  const before = entries.filter((entry) => entry.seq < resumedAt).map((entry) => entry.event);
  const after = entries.filter((entry) => entry.seq > resumedAt).map((entry) => entry.event);
  const finishedBefore = new Set(
    before.filter(isType('tool_finished')).map((event) => event.callId),
  );
  const startedAfter = after.filter(isType('tool_started'));
  return {
    childPid: options.childPid,
    claims: claims
      .map((entry) => entry.event)
      .filter(isType('run_claimed'))
      .map(({ claim, workerId }) => ({ claim, workerId })),
    killedDuring: options.killedDuring,
    toolExecutionsBeforeKill: before.filter(isType('tool_started')).map(executionName),
    toolExecutionsAfterResume: startedAfter.map(executionName),
    reissuedCalls: startedAfter
      .filter((event) => event.reissued === true)
      .map((event) => event.toolName),
    repeatedCompletedCalls: startedAfter.filter((event) => finishedBefore.has(event.callId)).length,
    modelCallsBeforeKill: before.filter(isType('model_called')).length,
    modelCallsAfterResume: after.filter(isType('model_called')).length,
    refundsIssued: options.refundsIssued,
  };
}

function executionName(event: Extract<RunEvent, { type: 'tool_started' }>): string {
  return event.reissued ? `${event.toolName} (reissued)` : event.toolName;
}

export async function readJournal(runtime: Runtime, runId: string): Promise<JournalEntry[]> {
  const stored = await runtime.store.readEvents(runId);
  return stored.map((entry) => ({ seq: entry.seq, event: entry.event }));
}

/** The child's output so far (the tail), for error messages. */
function collect(child: ChildProcess): { (): string; add(text: string): void } {
  let output = '';
  const add = (text: string): void => {
    output = (output + text).slice(-4_000);
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    add(chunk.toString('utf8'));
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    add(chunk.toString('utf8'));
  });
  return Object.assign(() => output || '(no output)', { add });
}
