// Streaming figures. (1) Time to the first `text_delta` of a run streamed with
// `runtime.stream`, against the first content chunk a bare OpenAI SDK streaming call gets from
// the same fake SSE server (whose every event, the first included, waits `eventIntervalMs`):
// the difference is what Keel adds before the first words reach the caller (creating the run,
// its first commits, assembling the request). (2) A run's duration with nobody reading its
// stream, against the same run streamed to a consumer that takes one event per second: a slow
// consumer must not slow the run. Also runnable alone: `node dist/bench/stream-latency.js`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { createRuntime, defineAgent, openStore, openaiChat, simulator } from '../src/index.js';
import { startFakeOpenAIServer } from '../src/testing/fake-openai-server.js';
import { runAlone } from './run-alone.js';
import { median, round } from './stats.js';

export interface StreamLatencyResult {
  readonly samples: number;
  /** The fake server's wait before each event, ms. */
  readonly eventIntervalMs: number;
  /** A bare SDK streaming call: to its first content chunk, ms (median). */
  readonly providerFirstTokenMs: number;
  /** `runtime.stream(agent, task)` to its first `text_delta` on a SQLite file store, ms (median). */
  readonly keelFirstDeltaMs: number;
  /** The difference of the medians, ms: the first delta waits for the run's creation to be durable. */
  readonly addedMs: number;
  /** The same on an in-memory store: what Keel adds without the disk's commit, ms. */
  readonly memory: { readonly keelFirstDeltaMs: number; readonly addedMs: number };
  readonly slowConsumer: {
    readonly runs: number;
    /** Run start to `run_finished` committed, nobody reading (median), ms. */
    readonly unreadMs: number;
    /** The same, with a consumer taking one event per second (median), ms. */
    readonly slowMs: number;
    /** Events the slow consumer had taken when its run finished (the most over all runs). */
    readonly eventsTakenBeforeFinish: number;
  };
}

const TEXT = 'Your order A-1 shipped on Tuesday and arrives on Friday.';

export async function measureStreamLatency({
  samples = 15,
  eventIntervalMs = 20,
  slowRuns = 8,
}: {
  samples?: number;
  eventIntervalMs?: number;
  slowRuns?: number;
} = {}): Promise<StreamLatencyResult> {
  const directory = mkdtempSync(join(tmpdir(), 'keel-bench-stream-'));
  const server = await startFakeOpenAIServer({
    respond: () => ({ content: TEXT, eventIntervalMs }),
  });
  const store = await openStore(`sqlite:${join(directory, 'keel.db')}`);
  const finishedAt = new Map<string, number>();
  const finishWaiters = new Map<string, () => void>();
  /** Resolves when the run's `run_finished` commits (heard in-process: no polling). */
  const finished = (runId: string): Promise<void> =>
    finishedAt.has(runId)
      ? Promise.resolve()
      : new Promise((resolve) => finishWaiters.set(runId, resolve));
  const agents = [
    defineAgent({
      name: 'streamed',
      instructions: 'Answer about orders.',
      model: openaiChat({ model: 'bench', baseURL: server.url, apiKey: 'bench' }),
    }),
    defineAgent({
      name: 'long',
      instructions: 'Answer about orders.',
      model: simulator({
        script: [{ text: TEXT.repeat(8) }],
        streamChunkChars: 8,
        streamChunkDelayMs: 5,
      }),
    }),
  ];
  const runtime = createRuntime({
    store,
    agents,
    onEvent: (runId, event) => {
      if (event.type !== 'run_finished') return;
      finishedAt.set(runId, performance.now());
      finishWaiters.get(runId)?.();
    },
  });
  const memoryStore = await openStore('sqlite::memory:');
  const memoryRuntime = createRuntime({ store: memoryStore, agents });
  const client = new OpenAI({ baseURL: server.url, apiKey: 'bench', maxRetries: 0 });
  try {
    const raw: number[] = [];
    const keel: number[] = [];
    const rawFirstToken = async (): Promise<number> => {
      const started = performance.now();
      const chunks = await client.chat.completions.create({
        model: 'bench',
        messages: [{ role: 'user', content: 'Where is my order?' }],
        stream: true,
      });
      let first = Number.NaN;
      for await (const chunk of chunks) {
        if (Number.isNaN(first) && chunk.choices[0]?.delta.content) first = performance.now();
      }
      return first - started;
    };
    const memory: number[] = [];
    const keelFirstDelta = async (on = runtime): Promise<number> => {
      const started = performance.now();
      let first = Number.NaN;
      for await (const event of on.stream('streamed', 'Where is my order?')) {
        if (Number.isNaN(first) && event.type === 'text_delta') first = performance.now();
      }
      return first - started;
    };
    await rawFirstToken();
    await keelFirstDelta();
    await keelFirstDelta(memoryRuntime);
    for (let sample = 0; sample < samples; sample++) {
      raw.push(await rawFirstToken());
      keel.push(await keelFirstDelta());
      memory.push(await keelFirstDelta(memoryRuntime));
    }

    const unread: number[] = [];
    const slow: number[] = [];
    let taken = 0;
    const unreadRun = async (): Promise<void> => {
      const started = performance.now();
      const result = await runtime.run('long', 'Where is my order?');
      unread.push((finishedAt.get(result.id) ?? Number.NaN) - started);
    };
    // Alternated, so a drift of the machine's load falls on both.
    for (let run = 0; run < slowRuns; run++) {
      if (run % 2 === 0) await unreadRun();
      const stop = new AbortController();
      const started = performance.now();
      const stream = runtime.stream('long', 'Where is my order?', {
        signal: stop.signal,
        abort: 'subscription',
      });
      let events = 0;
      const consumer = (async () => {
        for await (const event of stream) {
          if (event.type === 'run_finished') return;
          events += 1;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
          if (stop.signal.aborted) return;
        }
      })();
      await finished(stream.runId);
      slow.push((finishedAt.get(stream.runId) ?? Number.NaN) - started);
      taken = Math.max(taken, events);
      stop.abort();
      await consumer;
      if (run % 2 === 1) await unreadRun();
    }
    const providerFirstTokenMs = round(median(raw), 2);
    const keelFirstDeltaMs = round(median(keel), 2);
    const memoryFirstDeltaMs = round(median(memory), 2);
    return {
      samples,
      eventIntervalMs,
      providerFirstTokenMs,
      keelFirstDeltaMs,
      addedMs: round(keelFirstDeltaMs - providerFirstTokenMs, 2),
      memory: {
        keelFirstDeltaMs: memoryFirstDeltaMs,
        addedMs: round(memoryFirstDeltaMs - providerFirstTokenMs, 2),
      },
      slowConsumer: {
        runs: slowRuns,
        unreadMs: round(median(unread), 1),
        slowMs: round(median(slow), 1),
        eventsTakenBeforeFinish: taken,
      },
    };
  } finally {
    await runtime.close();
    await memoryRuntime.close();
    await store.close();
    await memoryStore.close();
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

export function renderStreamLatency(result: StreamLatencyResult): string {
  return [
    `Streaming (fake SSE server, ${result.eventIntervalMs} ms before each event; medians of ${result.samples})`,
    `  time to first token, bare SDK stream:         ${result.providerFirstTokenMs} ms`,
    `  time to first text_delta, SQLite file store:  ${result.keelFirstDeltaMs} ms  (+${result.addedMs} ms; the first delta waits for the run's creation to be durable)`,
    `  time to first text_delta, in-memory store:    ${result.memory.keelFirstDeltaMs} ms  (+${result.memory.addedMs} ms)`,
    `  run duration, nobody reading its stream:      ${result.slowConsumer.unreadMs} ms`,
    `  run duration, a consumer at 1 event/s:        ${result.slowConsumer.slowMs} ms  (it had taken ${result.slowConsumer.eventsTakenBeforeFinish} event(s) when the run finished)`,
  ].join('\n');
}

await runAlone(import.meta.url, () => measureStreamLatency(), renderStreamLatency);
