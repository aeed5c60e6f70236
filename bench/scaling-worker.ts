// One worker process of the scaling bench, as `keel worker` runs one: its own store connection
// pool, claiming from the shared queue. Usage: node scaling-worker.js '<json config>'.
// stdout: `ready` once claiming; `end <runId>` as each run ends; on SIGUSR2 `mark <json>`
// (store time, store calls, model calls and the process's CPU time so far); on SIGTERM (or when stdin closes) `stats
// <json>` (the same, in all) and exit.
// With `selfFeed` it also submits the runs itself, keeping that many outstanding: one SQLite
// process serving its own queue, as SQLite is deployed.
import { createRuntime, openStore } from '../src/index.js';
import {
  SCALING_AGENT,
  scalingAgent,
  timedStore,
  type ScalingWorkerConfig,
  type StoreTime,
} from './scaling-agent.js';

/** User and system CPU time of this process so far, in milliseconds. */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000;
}

async function main(config: ScalingWorkerConfig): Promise<void> {
  const time: StoreTime = { ms: 0, calls: 0 };
  let modelCalls = 0;
  const opened = await openStore(config.storeUrl, { poolSize: config.poolSize });
  const store = timedStore(opened, time);
  const agent = scalingAgent(config.modelUrl, config.toolLatencyMs);
  let submitted = 0;
  const runtime = createRuntime({
    store,
    agents: [agent],
    onEvent(_runId, event) {
      if (event.type === 'model_called') modelCalls += 1;
    },
  });
  const submit = (): void => {
    submitted += 1;
    runtime.submit(SCALING_AGENT, `scaling task ${submitted}`).catch(() => undefined);
  };
  const worker = runtime.startWorker({
    concurrency: config.concurrency,
    pollMs: config.pollMs,
    onRunEnd(runId) {
      process.stdout.write(`end ${runId}\n`);
      if (config.selfFeed !== undefined) submit();
    },
  });
  for (let index = 0; index < (config.selfFeed ?? 0); index++) submit();
  process.stdout.write('ready\n');
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await worker.stop({ abortInFlight: true });
      await runtime.close();
      await opened.close();
      process.stdout.write(`stats ${JSON.stringify({ ...time, modelCalls, cpuMs: cpuMs() })}\n`);
      process.exit(0);
    })();
  };
  // The start of the measured window: what was spent before it (start-up, warm-up) is left out.
  process.on('SIGUSR2', () => {
    process.stdout.write(`mark ${JSON.stringify({ ...time, modelCalls, cpuMs: cpuMs() })}\n`);
  });
  process.on('SIGTERM', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}

await main(JSON.parse(process.argv[2] ?? '{}') as ScalingWorkerConfig);
