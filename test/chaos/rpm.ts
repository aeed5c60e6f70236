/**
 * The 60-RPM proof: 8 worker processes on PostgreSQL share `providerLimits: { openai: { rpm:
 * 60 } }` against a model server that enforces 60 requests in any rolling 60 s window itself
 * (a request beyond that is answered 429). Every worker starts with 16 runs in flight at once,
 * so the start is the burst that would break a limit kept per worker. Prints the most requests
 * the server saw in any 60 s window and its 429 count; exits 1 unless they are ≤ 60 and 0.
 *
 *   npm run chaos:rpm                    (about 2½ minutes)
 *   npm run chaos:rpm -- --runs 30 --workers 4 --rpm 60
 *
 * PostgreSQL: `KEEL_TEST_POSTGRES_URL` (default postgres://postgres@127.0.0.1:5432/test); the
 * proof runs in a database of its own, created and dropped here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createRuntime, openStore } from '../../src/index.js';
import { CHAOS_AGENT, EFFECT_STEPS, chaosAgent, prepareEffects } from './chaos-agent.js';
import { maxInAnyMinute, startFaultServer } from './fault-model-server.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '45' },
    workers: { type: 'string', default: '8' },
    rpm: { type: 'string', default: '60' },
    'timeout-s': { type: 'string', default: '240' },
  },
});
const RUNS = Number(args.runs);
const WORKERS = Number(args.workers);
const RPM = Number(args.rpm);
const WORKER = fileURLToPath(new URL('./chaos-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SERVER_URL = process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const database = `keel_rpm_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: SERVER_URL });
await admin.connect();
await admin.query(`create database ${database}`);
const url = new URL(SERVER_URL);
url.pathname = `/${database}`;
const storeUrl = url.toString();

const workers = new Set<ChildProcess>();
async function cleanUp(): Promise<void> {
  for (const child of workers) child.kill('SIGTERM');
  await Promise.all(
    [...workers].map((child) => new Promise((resolve) => child.once('exit', resolve))),
  );
  await admin.query(`drop database if exists ${database} with (force)`);
  await admin.end();
}

await prepareEffects(storeUrl);
const model = await startFaultServer({
  seed: 1,
  faultRate: 0,
  effectSteps: EFFECT_STEPS,
  rpmLimit: RPM,
});
const store = await openStore(storeUrl, { poolSize: 2 });
const driver = createRuntime({
  store,
  agents: [chaosAgent({ modelUrl: model.url, effectsUrl: storeUrl })],
});
const started = Date.now();
for (let index = 0; index < RUNS; index++) await driver.submit(CHAOS_AGENT, `rpm task ${index}`);
console.log(
  `${RUNS} runs of ${EFFECT_STEPS + 1} model calls each; ${WORKERS} workers; providerLimits rpm ${RPM}`,
);
for (let index = 0; index < WORKERS; index++) {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEEL_STORE: storeUrl,
      CHAOS_MODEL_URL: model.url,
      CHAOS_EFFECTS_URL: storeUrl,
      CHAOS_RPM: String(RPM),
      CHAOS_POOL: '3',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.add(child);
  child.once('exit', () => workers.delete(child));
}

const deadline = started + Number(args['timeout-s']) * 1_000;
let unfinished = RUNS;
while (Date.now() < deadline && unfinished > 0) {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  unfinished = (
    await store.listRuns({ statuses: ['queued', 'running', 'waiting'], limit: 100_000 })
  ).length;
}
const wallS = (Date.now() - started) / 1_000;
const finished = await store.listRuns({ statuses: ['succeeded'], limit: 100_000 });
await driver.close();
await store.close();
await model.close();
await cleanUp();

const arrivals = model.stats.arrivals;
const most = maxInAnyMinute(arrivals);
const rejected = model.stats.faults.rpm ?? 0;
const spanS = arrivals.length > 1 ? ((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)) / 1_000 : 0;
const table: [string, string | number][] = [
  ['worker processes', WORKERS],
  ['providerLimits', `openai: { rpm: ${RPM} }`],
  ['runs submitted / succeeded', `${RUNS} / ${finished.length}`],
  ['model requests', arrivals.length],
  ['first → last request (s)', spanS.toFixed(1)],
  ['requests in the first 60 s', arrivals.filter((at) => at < (arrivals[0] ?? 0) + 60_000).length],
  ['most requests in any 60 s window', most],
  ['429s (over the server’s rolling window)', rejected],
  ['wall time (s)', wallS.toFixed(1)],
];
console.log('\n| measure | value |\n| --- | --- |');
for (const [name, value] of table) console.log(`| ${name} | ${value} |`);
process.exit(most <= RPM && rejected === 0 && unfinished === 0 ? 0 : 1);
