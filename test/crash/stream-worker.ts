/**
 * A worker process for the stream-follow test: `node --import tsx test/crash/stream-worker.ts`
 * with `KEEL_STORE` set. It claims and executes runs; with `STREAM_HOLD=1` the lookup tool
 * never returns and `held` is printed when it is reached (the test kills it there).
 */
import { createRuntime, openStore } from '../../src/index.js';
import { createStreamAgents } from './stream-agents.js';

const storeUrl = process.env.KEEL_STORE;
if (storeUrl === undefined || storeUrl === '') {
  process.stderr.write('stream-worker: KEEL_STORE is not set\n');
  process.exit(2);
}
const store = await openStore(storeUrl);
const runtime = createRuntime({
  store,
  agents: createStreamAgents({
    hold: process.env.STREAM_HOLD === '1',
    onHeld: () => process.stdout.write('held\n'),
  }),
  leaseMs: 600,
});
runtime.startWorker({ pollMs: 20 });
process.stdout.write('ready\n');
