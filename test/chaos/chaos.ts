/**
 * The chaos run: N runs, K worker processes SIGKILLed at seeded random moments, a model
 * server that fails on purpose, and (optionally) PostgreSQL restarted in the middle. Prints a
 * table of what matters: lost runs, duplicated effects, in-doubt effects (and whether each was
 * reported), runs over their claim bound, runs timed out without running, drain time.
 *
 *   npm run chaos -- --runs 1000 --workers 4 --kills 120 --restart
 *   npm run chaos:ci            (200 runs, 3 workers, 25 kills, a restart; exits 1 on a breach)
 *
 * PostgreSQL: `--url` (restart needs `--pgdata`), or by default a private cluster it creates
 * under /tmp with initdb on port 55417, so a restart touches nobody else's database.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createRuntime, openStore, type RunEvent } from '../../src/index.js';
import { CHAOS_AGENT, EFFECT_STEPS, chaosAgent, prepareEffects } from './chaos-agent.js';
import { seededRandom } from '../../src/core/index.js';
import { startFaultServer } from './fault-model-server.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '4' },
    kills: { type: 'string', default: '120' },
    'kill-min-ms': { type: 'string', default: '1000' },
    'kill-max-ms': { type: 'string', default: '4000' },
    seed: { type: 'string', default: '17' },
    'fault-rate': { type: 'string', default: '0.3' },
    'max-claims': { type: 'string', default: '5' },
    restart: { type: 'boolean', default: false },
    /** Judge the runs already in the store (after an interrupted verdict); no workers, no kills. */
    'report-only': { type: 'boolean', default: false },
    url: { type: 'string' },
    pgdata: { type: 'string' },
    'drain-timeout-s': { type: 'string', default: '300' },
  },
});
const RUNS = Number(args.runs);
const WORKERS = Number(args.workers);
const KILLS = Number(args.kills);
const MAX_CLAIMS = Number(args['max-claims']);
const random = seededRandom(Number(args.seed));
const WORKER = fileURLToPath(new URL('./chaos-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PRIVATE_PORT = 55417;

/**
 * Run a PostgreSQL tool (as the postgres user when this is root), without blocking the event
 * loop (the model server lives here) and without pipes the server would inherit and hold.
 */
async function asPostgres(command: string[]): Promise<void> {
  const asRoot = process.getuid?.() === 0;
  const [program = '', ...rest] = command;
  const child = spawn(
    asRoot ? 'runuser' : program,
    asRoot ? ['-u', 'postgres', '--', ...command] : rest,
    { stdio: 'ignore' },
  );
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${command.join(' ')} failed with exit code ${String(code)}`);
}

/** A private PostgreSQL cluster: the restart in the middle touches no one else's database. */
async function privateCluster(): Promise<{ url: string; pgdata: string }> {
  const pgdata = `/tmp/keel-chaos-pg-${PRIVATE_PORT}`;
  if (!existsSync(`${pgdata}/PG_VERSION`)) {
    spawnSync('mkdir', ['-p', pgdata]);
    spawnSync('chown', ['postgres', pgdata]);
    await asPostgres(['initdb', '-D', pgdata, '-A', 'trust', '-U', 'postgres']);
  }
  const running =
    spawnSync('pg_isready', ['-h', '127.0.0.1', '-p', String(PRIVATE_PORT)]).status === 0;
  if (!running)
    await asPostgres([
      'pg_ctl',
      '-D',
      pgdata,
      '-l',
      `${pgdata}/log`,
      '-w',
      '-o',
      `-p ${PRIVATE_PORT} -k /tmp -c max_connections=300 -c fsync=on`,
      'start',
    ]);
  const admin = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${PRIVATE_PORT}/postgres`,
  });
  await admin.connect();
  await admin.query('drop database if exists chaos with (force)');
  await admin.query('create database chaos');
  await admin.end();
  return { url: `postgres://postgres@127.0.0.1:${PRIVATE_PORT}/chaos`, pgdata };
}

const { url, pgdata } = args.url ? { url: args.url, pgdata: args.pgdata } : await privateCluster();
if (args.restart && !pgdata) throw new Error('--restart needs --pgdata with --url');
await prepareEffects(url);
const model = await startFaultServer({
  seed: Number(args.seed),
  faultRate: Number(args['fault-rate']),
  effectSteps: EFFECT_STEPS,
});

const store = await openStore(url);
const driver = createRuntime({
  store,
  agents: [chaosAgent({ modelUrl: model.url, effectsUrl: url })],
});
const ids: string[] = [];
if (args['report-only'])
  for (const record of await store.listRuns({ limit: 1_000_000 })) ids.push(record.id);
else
  for (let index = 0; index < RUNS; index++)
    ids.push((await driver.submit(CHAOS_AGENT, `chaos task ${index}`)).id);
console.log(`submitted ${RUNS} runs; ${WORKERS} workers; up to ${KILLS} kills; seed ${args.seed}`);

const workers = new Set<ChildProcess>();
/** Workers that are claiming: a kill counts only when it hits one of them. */
const ready = new Set<ChildProcess>();
let outageLines = 0;
let crashes = 0;
let draining = false;
function spawnWorker(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: {
      ...process.env,
      KEEL_STORE: url,
      CHAOS_MODEL_URL: model.url,
      CHAOS_EFFECTS_URL: url,
      CHAOS_MAX_CLAIMS: String(MAX_CLAIMS),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    if (chunk.toString().includes('ready')) ready.add(child);
  });
  // The last lines a worker wrote to stderr, printed if it crashes so the cause is in the log.
  const tail: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.includes('store unreachable')) outageLines += 1;
      if (line.trim() !== '') tail.push(line);
    }
    tail.splice(0, Math.max(0, tail.length - 40));
  });
  workers.add(child);
  child.once('exit', (code, signal) => {
    workers.delete(child);
    ready.delete(child);
    // A worker that ends by itself (not our SIGKILL, not the final SIGTERM) crashed: counted
    // as a breach, and replaced so the run goes on.
    if (signal === null && !draining) {
      crashes += 1;
      console.log(`worker ${String(child.pid)} exited by itself (code ${String(code)})`);
      for (const line of tail) console.log(`  | ${line}`);
      spawnWorker();
    }
  });
  return child;
}
if (!args['report-only']) for (let index = 0; index < WORKERS; index++) spawnWorker();

async function unfinished(): Promise<number> {
  const rows = await store.listRuns({ statuses: ['queued', 'running', 'waiting'], limit: 100_000 });
  return rows.length;
}

const started = Date.now();
let kills = 0;
let restartMs: number | undefined;
while (!args['report-only'] && kills < KILLS && (await unfinished().catch(() => 1)) > 0) {
  const waitMs =
    Number(args['kill-min-ms']) +
    random() * (Number(args['kill-max-ms']) - Number(args['kill-min-ms']));
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  const victims = [...ready];
  const victim = victims[Math.floor(random() * victims.length)];
  if (victim) {
    victim.kill('SIGKILL');
    kills += 1;
    spawnWorker();
  }
  if (args.restart && restartMs === undefined && kills >= Math.floor(KILLS / 2)) {
    const before = Date.now();
    await asPostgres([
      'pg_ctl',
      '-D',
      pgdata ?? '',
      '-m',
      'fast',
      '-w',
      'restart',
      '-o',
      `-p ${PRIVATE_PORT} -k /tmp -c max_connections=300`,
    ]);
    restartMs = Date.now() - before;
    console.log(`PostgreSQL restarted (${restartMs} ms down) after ${kills} kills`);
  }
}
const killsDoneAt = Date.now();
const drainDeadline = killsDoneAt + Number(args['drain-timeout-s']) * 1_000;
while (Date.now() < drainDeadline && (await unfinished().catch(() => 1)) > 0)
  await new Promise((resolve) => setTimeout(resolve, 500));
const drainMs = Date.now() - killsDoneAt;
draining = true;
for (const child of workers) child.kill('SIGTERM');

// The verdict, from the store and the effects table.
// One at a time: a thousand reads at once would wait on the pool past its timeout.
const records = [];
for (const id of ids) records.push(await store.getRun(id));
const effects = new pg.Client({ connectionString: url });
await effects.connect();
const applied = await effects.query<{ key: string; n: string }>(
  'select key, count(*) as n from chaos_attempts where applied group by key',
);
const reissued = await effects.query<{ n: string }>(
  'select count(*) as n from chaos_attempts where not applied',
);
await effects.end();
const duplicated = applied.rows.filter((row) => Number(row.n) > 1).length;
const statuses: Record<string, number> = {};
let lost = 0;
let overClaims = 0;
let claimsWithoutEvent = 0;
let timeoutsWithoutRunning = 0;
let inDoubtRuns = 0;
let inDoubtUnreported = 0;
const reasons: Record<string, number> = {};
for (const record of records) {
  if (!record || ['queued', 'running', 'waiting'].includes(record.status)) {
    lost += 1;
    continue;
  }
  statuses[record.status] = (statuses[record.status] ?? 0) + 1;
  const events = (await store.readEvents(record.id)).map((entry) => entry.event);
  const finished = events.at(-1) as Extract<RunEvent, { type: 'run_finished' }>;
  const reason = finished.reason;
  reasons[`${record.status}:${reason.type}${reason.type === 'limit' ? `:${reason.limit}` : ''}`] =
    (reasons[
      `${record.status}:${reason.type}${reason.type === 'limit' ? `:${reason.limit}` : ''}`
    ] ?? 0) + 1;
  const claimEvents = events.filter((event) => event.type === 'run_claimed').length;
  const releases = events.filter((event) => event.type === 'run_released').length;
  if (record.claims !== claimEvents) claimsWithoutEvent += 1;
  if (record.claims - releases > MAX_CLAIMS + 1) overClaims += 1;
  if (
    reason.type === 'limit' &&
    reason.limit === 'timeout' &&
    !events.some((event) => event.type === 'model_called')
  )
    timeoutsWithoutRunning += 1;
  // Calls started with no outcome must each be named by an in_doubt reason.
  const started = new Map<string, string>();
  for (const event of events) {
    if (event.type === 'tool_started')
      started.set(`${event.callId}:${String(event.step)}`, event.idempotencyKey);
    if (event.type === 'tool_finished' || (event.type === 'tool_failed' && event.final))
      started.delete(`${event.callId}:${String(event.step)}`);
  }
  if (reason.type === 'in_doubt') inDoubtRuns += 1;
  // Named by the watchdog's in_doubt, or by the stop or cancel that cut the call off.
  const doubtful =
    reason.type === 'in_doubt'
      ? reason.calls
      : reason.type === 'limit' || reason.type === 'cancelled'
        ? (reason.inDoubt ?? [])
        : [];
  const named = new Set(doubtful.map((call) => call.idempotencyKey));
  for (const key of started.values()) if (!named.has(key)) inDoubtUnreported += 1;
}
const table: [string, string | number][] = [
  ['runs', RUNS],
  ['worker processes', WORKERS],
  ['SIGKILLs (each of a worker that was claiming)', kills],
  ['PostgreSQL restart', restartMs === undefined ? 'no' : `yes (${restartMs} ms)`],
  ['store outage lines logged', outageLines],
  ['workers that exited by themselves', crashes],
  [
    'model requests / faults injected',
    `${model.stats.requests} / ${Object.values(model.stats.faults).reduce((a, b) => a + b, 0)} (${JSON.stringify(model.stats.faults)})`,
  ],
  ['lost runs (not finished)', lost],
  ['final statuses', JSON.stringify(statuses)],
  ['reasons', JSON.stringify(reasons)],
  ['duplicated effects (a key applied twice)', duplicated],
  ['re-issued calls deduplicated by key', Number(reissued.rows[0]?.n ?? 0)],
  ['runs ended in_doubt (reported, with alert)', inDoubtRuns],
  ['in-doubt calls left unreported', inDoubtUnreported],
  [`runs over maxClaims+1 (${MAX_CLAIMS}+1) claims`, overClaims],
  ['claims without a run_claimed event', claimsWithoutEvent],
  ['stopped: timeout without a model call', timeoutsWithoutRunning],
  ['kill phase (s)', ((killsDoneAt - started) / 1_000).toFixed(1)],
  ['drain time after the last kill (s)', (drainMs / 1_000).toFixed(1)],
];
console.log('\n| measure | value |\n| --- | --- |');
for (const [name, value] of table) console.log(`| ${name} | ${value} |`);
await driver.close();
await store.close();
await model.close();
const breached =
  lost +
    duplicated +
    inDoubtUnreported +
    overClaims +
    claimsWithoutEvent +
    timeoutsWithoutRunning +
    crashes >
  0;
process.exit(breached ? 1 : 0);
