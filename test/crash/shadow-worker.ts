/**
 * A worker process for the shadow crash test: `node --import tsx test/crash/shadow-worker.ts`
 * with `KEEL_STORE` and `SHADOW_LOG` set. It executes runs (the candidate's shadow runs) until
 * it is killed, and prints `ready` once it is claiming.
 */
import { createRuntime, openStore } from '../../src/index.js';
import { createShadowAgents } from './shadow-agents.js';

const storeUrl = process.env.KEEL_STORE ?? '';
const logPath = process.env.SHADOW_LOG ?? '';
if (storeUrl === '' || logPath === '') {
  process.stderr.write('shadow-worker: KEEL_STORE and SHADOW_LOG must be set\n');
  process.exit(2);
}
const store = await openStore(storeUrl);
const { production, candidate } = createShadowAgents(logPath);
const runtime = createRuntime({
  store,
  agents: [production],
  candidates: [candidate],
  leaseMs: 500,
  maxClaims: 20,
  modelRetry: { initialDelayMs: 1, maxDelayMs: 5 },
});
runtime.startWorker({ pollMs: 20 });
process.stdout.write('ready\n');
