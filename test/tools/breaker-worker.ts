/**
 * A worker process for the shared-breaker test: `node --import tsx test/tools/breaker-worker.ts`
 * with `KEEL_STORE`, `SERVICE_URL` and `AGENT` (the one agent this process executes) set.
 * Prints `ready` once it is claiming; exits when stdin closes.
 */
import { createRuntime, openStore } from '../../src/index.js';
import { createBreakerAgents } from './breaker-agents.js';

const [storeUrl, serviceUrl, agentName] = ['KEEL_STORE', 'SERVICE_URL', 'AGENT'].map((name) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    process.stderr.write(`breaker-worker: ${name} is not set\n`);
    process.exit(2);
  }
  return value;
});

const store = await openStore(storeUrl ?? '');
const runtime = createRuntime({
  store,
  agents: createBreakerAgents(serviceUrl ?? '').filter((agent) => agent.name === agentName),
  // Read the shared breaker on every call: the test checks the other process sees it at once.
  toolPolicies: { breakerSyncMs: 0 },
});
runtime.startWorker({
  pollMs: 20,
  onError(runId, error) {
    process.stderr.write(`breaker-worker: run ${runId} threw: ${String(error)}\n`);
  },
});
process.stdin.on('close', () => {
  void runtime
    .close()
    .then(() => store.close())
    .finally(() => process.exit(0));
});
process.stdin.resume();
process.stdout.write('ready\n');
