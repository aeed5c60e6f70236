import type { Agent } from '../agent/index.js';
import { KeelError, allFieldsOf, fieldFault, refuseUnknownFields } from '../core/index.js';
import type { RunEvent } from '../journal/index.js';
import type { RunRecord, Store } from '../store/index.js';
import type { TextDelta } from './execution.js';
import type { RunResult } from './run-result.js';
import { newRunId } from './run-start.js';
import { StreamHub, followRun, type FollowOptions, type RunStreamEvent } from './run-stream.js';
import { RUN_FIELDS, type StartRunOptions } from './runtime-options.js';

/** What aborting a stream's `signal` stops: the run itself, or only this subscription. */
export type StreamAbort = 'run' | 'subscription';

/** The fields of `StreamRunOptions`: a run's options and the stream's own. */
const STREAM_FIELDS = allFieldsOf<StreamRunOptions>()([
  ...RUN_FIELDS,
  'pollMs',
  'maxBufferedDeltas',
  'abort',
]);

/** `runtime.stream(agent, task, options)`: a run started here, and how its stream behaves. */
export interface StreamRunOptions extends StartRunOptions, Omit<FollowOptions, 'afterSeq'> {
  /** Default `run`: aborting `signal` cancels the run (the stream ends with its `run_finished`). */
  readonly abort?: StreamAbort | undefined;
}

/** `runtime.stream(runId, options)`: follow a run queued or executing on any worker. */
export interface FollowRunOptions extends FollowOptions {
  /** Default `subscription`: aborting `signal` ends this stream and leaves the run alone. */
  readonly abort?: StreamAbort | undefined;
}

/** A run's events as they happen: iterate it once (`for await`); `runId` is known at once. */
export interface RunStream extends AsyncIterable<RunStreamEvent> {
  readonly runId: string;
}

/**
 * Starts a run in this process; `idMadeHere` when Keel made its id (no other run can hold it,
 * so its creation may commit as it starts).
 */
type StartRun = (
  agent: string,
  task: string,
  options: StartRunOptions,
  idMadeHere: boolean,
) => Promise<RunResult>;

/**
 * The runtime's streams: the live hub its executions publish into, the store's notifications
 * (PostgreSQL) while anyone follows, and the two ways to open a stream.
 */
export class RunStreams {
  readonly hub = new StreamHub();
  readonly #store: Store;
  readonly #run: StartRun;
  readonly #cancel: (runId: string) => Promise<RunRecord>;
  readonly #agent: (name: string) => Agent | undefined;
  #listening: Promise<(() => Promise<void>) | undefined> | undefined;

  constructor(options: {
    store: Store;
    run: StartRun;
    cancel: (runId: string) => Promise<RunRecord>;
    agent: (name: string) => Agent | undefined;
  }) {
    this.#store = options.store;
    this.#run = options.run;
    this.#cancel = options.cancel;
    this.#agent = options.agent;
  }

  /** Wraps the executions' `onEvent`: followers of a run executing here hear of each commit. */
  onEvent(
    inner: ((runId: string, event: RunEvent) => void) | undefined,
  ): (runId: string, event: RunEvent) => void {
    return (runId, event) => {
      this.hub.committed(runId, event);
      inner?.(runId, event);
    };
  }

  readonly onTextDelta = (runId: string, delta: TextDelta): void => {
    this.hub.delta(runId, delta);
  };

  stream(first: string, second?: string | FollowRunOptions, third?: StreamRunOptions): RunStream {
    return typeof second === 'string'
      ? this.#start(first, second, third ?? {})
      : this.#follow(first, second ?? {});
  }

  async close(): Promise<void> {
    const stop = await this.#listening?.catch(() => undefined);
    this.#listening = undefined;
    await stop?.();
  }

  #start(agentName: string, task: string, options: StreamRunOptions): RunStream {
    if (!this.#agent(agentName)) {
      throw new KeelError('not_found', `unknown agent "${agentName}"`);
    }
    if (typeof task !== 'string' || task.trim() === '') {
      throw new KeelError('invalid_input', 'a run needs a non-empty task');
    }
    refuseUnknownFields(options, STREAM_FIELDS, fieldFault('invalid_input', 'stream'));
    if (options.abort !== undefined && options.abort !== 'run' && options.abort !== 'subscription')
      throw new KeelError('invalid_input', 'stream: "abort" must be "run" or "subscription"');
    const idMadeHere = options.runId === undefined;
    const runId = options.runId ?? newRunId();
    const cancelsRun = (options.abort ?? 'run') === 'run';
    // The stream's own options stay here; the rest are the run's.
    const { pollMs, maxBufferedDeltas, abort: _abort, ...runOptions } = options;
    let failure: { error: unknown } | undefined;
    this.#listen();
    const running = this.#run(
      agentName,
      task,
      { ...runOptions, runId, signal: cancelsRun ? options.signal : undefined },
      idMadeHere,
    );
    running.catch((error: unknown) => {
      failure = { error };
      this.hub.grew(runId);
    });
    const follow = followRun(this.#followDeps(), runId, {
      created: true,
      pollMs,
      maxBufferedDeltas,
      signal: cancelsRun ? undefined : options.signal,
      check: () => {
        if (failure) throw failure.error;
      },
    });
    return { runId, [Symbol.asyncIterator]: () => follow };
  }

  #follow(runId: string, options: FollowRunOptions): RunStream {
    if (
      options.afterSeq !== undefined &&
      (!Number.isSafeInteger(options.afterSeq) || options.afterSeq < 0)
    )
      throw new KeelError('invalid_input', 'stream: "afterSeq" must be an integer >= 0');
    const cancelsRun = options.abort === 'run';
    this.#listen();
    if (cancelsRun && options.signal) {
      const signal = options.signal;
      const cancel = (): void => {
        this.#cancel(runId).catch(() => undefined);
      };
      if (signal.aborted) cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    }
    const follow = followRun(this.#followDeps(), runId, {
      ...options,
      signal: cancelsRun ? undefined : options.signal,
    });
    return { runId, [Symbol.asyncIterator]: () => follow };
  }

  #followDeps() {
    const store = this.#store;
    return {
      store,
      hub: this.hub,
      approvalExists: async (approvalId: string) =>
        (await store.approvals.get(approvalId)) !== undefined,
    };
  }

  /** Hear of journals growing in other processes (PostgreSQL), from the first stream on. */
  #listen(): void {
    const subscribe = this.#store.onRunEvents?.bind(this.#store);
    if (this.#listening || !subscribe) return;
    this.#listening = subscribe((runId) => {
      this.hub.grew(runId);
    }).catch(() => undefined);
  }
}
