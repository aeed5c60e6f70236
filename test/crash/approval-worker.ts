/**
 * A worker process for the approval crash test: `node --import tsx test/crash/approval-worker.ts`
 * with `KEEL_STORE` and `CRASH_LOG` set. Prints `ready <workerId>` once it is claiming, then
 * executes runs until it is killed.
 */
import { createRuntime, openStore } from '../../src/index.js';
import { createApprovalAgents } from './approval-agents.js';

const storeUrl = process.env.KEEL_STORE;
const logPath = process.env.CRASH_LOG;
if (!storeUrl || !logPath) {
  process.stderr.write('approval-worker: KEEL_STORE and CRASH_LOG must be set\n');
  process.exit(2);
}
const store = await openStore(storeUrl);
const runtime = createRuntime({ store, agents: createApprovalAgents({ logPath }), leaseMs: 1_000 });
runtime.startWorker({
  pollMs: 20,
  onError(runId, error) {
    process.stderr.write(`approval-worker: run ${runId || '(claim)'} threw: ${String(error)}\n`);
  },
});
process.stdout.write(`ready ${runtime.workerId}\n`);
