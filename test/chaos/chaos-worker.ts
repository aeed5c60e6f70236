/**
 * One worker process of the chaos run: `KEEL_STORE`, `CHAOS_MODEL_URL`, `CHAOS_EFFECTS_URL`;
 * optional `CHAOS_RPM` (a provider limit), `CHAOS_POOL` (connections to the store).
 * Executes runs until killed; one line per store outage on stderr.
 */
import { createRuntime, openStore } from '../../src/index.js';
import { chaosAgent } from './chaos-agent.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`chaos-worker: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
};

// A worker started while PostgreSQL restarts waits for it, as `keel worker` does.
const store = await openStore(env('KEEL_STORE'), {
  waitMs: 60_000,
  ...(process.env.CHAOS_POOL ? { poolSize: Number(process.env.CHAOS_POOL) } : {}),
});
const runtime = createRuntime({
  store,
  agents: [chaosAgent({ modelUrl: env('CHAOS_MODEL_URL'), effectsUrl: env('CHAOS_EFFECTS_URL') })],
  leaseMs: 2_000,
  maxClaims: Number(process.env.CHAOS_MAX_CLAIMS ?? 5),
  modelRetry: { maxAttempts: 10, initialDelayMs: 50, maxDelayMs: 1_000 },
  ...(process.env.CHAOS_RPM
    ? { providerLimits: { openai: { rpm: Number(process.env.CHAOS_RPM) } } }
    : {}),
});
runtime.startWorker({
  concurrency: 16,
  pollMs: 100,
  onError() {
    // Counted by the driver from the journal; a run that threw resumes after its lease.
  },
  onStoreOutage(outage) {
    process.stderr.write(
      outage.state === 'down'
        ? `worker ${process.pid}: store unreachable, backing off\n`
        : `worker ${process.pid}: store back after ${outage.downMs} ms\n`,
    );
  },
});
process.stdout.write('ready\n');
