import type { Agent } from '../agent/index.js';
import type { Approvals } from '../approval/index.js';
import type { RunRecord, Store } from '../store/index.js';
import type { RunResult } from './run-result.js';
import type { FollowRunOptions, RunStream, StreamRunOptions } from './run-streams.js';
import type { ForkOptions, RunInspection, StartRunOptions } from './runtime-options.js';
import type { Shadows } from './shadow-runs.js';
import type { Worker, WorkerOptions } from './worker.js';

/**
 * The engine's front door: start runs (queued for any worker, or executed in this process),
 * cancel them, inspect them, and run a worker that claims queued runs.
 *
 * ```ts
 * const runtime = createRuntime({ store, agents: [refunds] });
 * const result = await runtime.run('refunds', 'Refund order A-1');
 * console.log(result.status, result.output);
 * ```
 */
export interface Runtime {
  readonly store: Store;
  readonly workerId: string;
  readonly agents: readonly Agent[];
  /** List, decide and expire approvals; a decision made here wakes this process's workers. */
  readonly approvals: Approvals;
  /** Candidate versions repeating a sample of production runs, side effects suppressed. */
  readonly shadows: Shadows;
  agent(name: string): Agent | undefined;
  /** Queue a run for a worker. Durable when it resolves. */
  submit(agentName: string, task: string, options?: StartRunOptions): Promise<RunRecord>;
  /** Create a run and execute it here until it ends; resumable elsewhere if this process dies. */
  run(agentName: string, task: string, options?: StartRunOptions): Promise<RunResult>;
  /**
   * Start a new run that reuses `runId`'s journal before step `fromStep` (its model replies and
   * tool results, none executed again) and executes from there in this process. The new run's
   * `run_started` names the original (`forkOf`).
   */
  fork(runId: string, options: ForkOptions): Promise<RunResult>;
  /** Ask a run to stop. A queued run ends at once; a running one within a heartbeat. */
  cancel(runId: string): Promise<RunRecord>;
  inspect(runId: string): Promise<RunInspection>;
  /** Wait for a run to end (polls the store) and return its result. */
  wait(runId: string, options?: { signal?: AbortSignal; pollMs?: number }): Promise<RunResult>;
  startWorker(options?: WorkerOptions): Worker;
  /**
   * Start a run executing here and stream its events as they happen: text as the model sends
   * it, tool calls and results, approvals, limits, and `run_finished` with the result `run`
   * returns. Aborting `options.signal` cancels the run (or, with `abort: 'subscription'`, only
   * ends the stream). See docs/streaming.md.
   */
  stream(agentName: string, task: string, options?: StreamRunOptions): RunStream;
  /**
   * Follow a run queued or executing on any worker, from `afterSeq` on: its journaled events,
   * and live text where it executes in this process.
   */
  stream(runId: string, options?: FollowRunOptions): RunStream;
  /** Stop heartbeats and release held runs so other workers resume them at once. */
  close(): Promise<void>;
}
