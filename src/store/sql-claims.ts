import { sql, type Kysely, type Selectable } from 'kysely';
import { foldRun, startedWithoutOutcome, type RunEvent, type RunReason } from '../journal/index.js';
import { eventRow, parseEvent } from './rows.js';
import type { Database, RunsTable } from './schema.js';
import type { ClaimOptions } from './run-journal.js';

/*
 * How a worker picks and takes a run, inside one short transaction: the candidate (fair
 * across agents, within each agent's concurrency bound), the claim with its `run_claimed`
 * event in the same commit, and the end of a run whose claims are spent.
 */

type Db = Kysely<Database>;
type Kind = 'sqlite' | 'postgres';

/** Which runs one pass of a claim looks at: production runs, or shadow runs. */
type RunKind = 'production' | 'shadow';

/** A claimable run of `kind`: queued, or running with an expired lease (its worker died). */
function claimable(db: Db, now: number, kind: RunKind) {
  return db
    .selectFrom('keel_runs')
    .where('shadow_of', kind === 'production' ? 'is' : 'is not', null)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'queued'),
        eb.and([eb('status', '=', 'running'), eb('lease_until', '<', now)]),
      ]),
    );
}

/**
 * The run to claim next: a production run before any shadow run (`shadows: 'also'`), or only
 * one kind. Shadow runs wait for an idle moment, so a backlog of them never delays production.
 */
export async function pickCandidate(
  db: Db,
  kind: Kind,
  options: ClaimOptions,
): Promise<Pick<Selectable<RunsTable>, 'id' | 'status' | 'claims'> | undefined> {
  const shadows = options.shadows ?? 'also';
  if (shadows !== 'only') {
    const production = await pickOfKind(db, kind, options, 'production');
    if (production || shadows === 'never') return production;
  }
  return pickOfKind(db, kind, options, 'shadow');
}

/**
 * The run of `runKind` to claim next (with what the claim needs of it, so no second read), locked for this
 * transaction (PostgreSQL skips rows other workers are claiming). With one agent and no bound, the oldest claimable run. Otherwise agents are
 * served fewest-running first (oldest waiting first among equals), skipping agents at their
 * `maxConcurrentRuns`: a busy agent cannot starve the others.
 */
async function pickOfKind(
  db: Db,
  kind: Kind,
  { now, agents, maxConcurrentRuns = {} }: ClaimOptions,
  runKind: RunKind,
): Promise<Pick<Selectable<RunsTable>, 'id' | 'status' | 'claims'> | undefined> {
  const bounded = Object.keys(maxConcurrentRuns).length > 0;
  if (!bounded && (agents === undefined || agents.length === 1)) {
    let query = claimable(db, now, runKind)
      .select(['id', 'status', 'claims'])
      .orderBy('created_at')
      .limit(1);
    if (agents) query = query.where('agent', 'in', [...agents]);
    if (kind === 'postgres') query = query.forUpdate().skipLocked();
    return query.executeTakeFirst();
  }
  let waiting = claimable(db, now, runKind)
    .select(['agent', (eb) => eb.fn.min('created_at').as('oldest')])
    .groupBy('agent');
  if (agents) waiting = waiting.where('agent', 'in', [...agents]);
  const withWork = await waiting.execute();
  if (withWork.length === 0) return undefined;
  const running = await runningByAgent(
    db,
    withWork.map((row) => row.agent),
    now,
  );
  const order = withWork
    .map((row) => ({ agent: row.agent, oldest: row.oldest, running: running(row.agent) }))
    .sort((a, b) => a.running - b.running || a.oldest - b.oldest);
  for (const { agent, running: count } of order) {
    const bound = maxConcurrentRuns[agent];
    if (bound !== undefined) {
      if (count >= bound) continue;
      if (kind === 'postgres') {
        // One claimer per bounded agent at a time, so two workers cannot both take its last
        // slot; a worker that finds the agent being claimed moves on to the next one.
        const locked = await sql<{
          locked: boolean;
        }>`select pg_try_advisory_xact_lock(hashtext(${`keel_agent:${agent}`})) as locked`.execute(
          db,
        );
        if (locked.rows[0]?.locked !== true) continue;
        const recounted = await runningByAgent(db, [agent], now);
        if (recounted(agent) >= bound) continue;
      }
    }
    let query = claimable(db, now, runKind)
      .select(['id', 'status', 'claims'])
      .where('agent', '=', agent)
      .orderBy('created_at')
      .limit(1);
    if (kind === 'postgres') query = query.forUpdate().skipLocked();
    const candidate = await query.executeTakeFirst();
    if (candidate) return candidate;
  }
  return undefined;
}

/** Runs of `agents` a live worker holds now, by agent. */
async function runningByAgent(
  db: Db,
  agents: readonly string[],
  now: number,
): Promise<(agent: string) => number> {
  const rows = await db
    .selectFrom('keel_runs')
    .select(['agent', (eb) => eb.fn.countAll<number>().as('count')])
    .where('status', '=', 'running')
    .where('lease_until', '>=', now)
    .where('agent', 'in', [...agents])
    .groupBy('agent')
    .execute();
  const counts = new Map(rows.map((row) => [row.agent, row.count]));
  return (agent) => counts.get(agent) ?? 0;
}

/**
 * Take `runId` for `workerId`: its row and its `run_claimed` event in the same transaction, so
 * a claim never exists without the event that counts it.
 */
export async function takeClaim(
  db: Db,
  {
    runId,
    workerId,
    now,
    leaseMs,
  }: { runId: string; workerId: string; now: number; leaseMs: number },
): Promise<Selectable<RunsTable>> {
  const row = await db
    .updateTable('keel_runs')
    .set({
      status: 'running',
      lease_owner: workerId,
      lease_until: now + leaseMs,
      claims: sql<number>`claims + 1`,
      updated_at: now,
    })
    .where('id', '=', runId)
    .returningAll()
    .executeTakeFirstOrThrow();
  const claimed: RunEvent = { type: 'run_claimed', workerId, claim: row.claims, at: now };
  // The next sequence number computed in the insert itself: one round trip, not two.
  await db
    .insertInto('keel_events')
    .values((eb) => ({
      ...eventRow(runId, { seq: 0, at: now, event: claimed }),
      seq: eb
        .selectFrom('keel_events')
        .select(sql<number>`coalesce(max(seq), 0) + 1`.as('next'))
        .where('run_id', '=', runId),
    }))
    .execute();
  return row;
}

/**
 * Whether a run left by a dead worker has had its claims: every claim but clean releases was
 * lost, `maxClaims` executing ones and the watchdog's. Cheap unless the count is near the bound.
 */
export async function claimsSpent(
  db: Db,
  candidate: Pick<Selectable<RunsTable>, 'id' | 'status' | 'claims'>,
  maxClaims: number | undefined,
): Promise<boolean> {
  if (maxClaims === undefined || candidate.status !== 'running') return false;
  if (candidate.claims < maxClaims + 1) return false;
  const released = await db
    .selectFrom('keel_events')
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .where('run_id', '=', candidate.id)
    .where('type', '=', 'run_released')
    .executeTakeFirst();
  return candidate.claims - (released?.count ?? 0) >= maxClaims + 1;
}

/**
 * End a run whose watchdog's own worker died: no claim is taken (claims stay bounded). Calls
 * started without an outcome end it `escalated` (`in_doubt`, naming each call's key for a human
 * to check); otherwise `failed` (`worker_lost`).
 */
export async function endSpentRun(
  db: Db,
  { runId, now, location }: { runId: string; now: number; location: string },
): Promise<Selectable<RunsTable>> {
  const rows = await db
    .selectFrom('keel_events')
    .selectAll()
    .where('run_id', '=', runId)
    .orderBy('seq')
    .execute();
  const state = foldRun(
    rows.map((row) => parseEvent(row.data, row.schema_version, location, runId, row.seq)),
  );
  const lost = state.claims - state.releases;
  const calls = startedWithoutOutcome(state);
  const reason: RunReason =
    calls.length > 0
      ? { type: 'in_doubt', attempts: lost, calls }
      : { type: 'worker_lost', attempts: lost };
  const status = calls.length > 0 ? 'escalated' : 'failed';
  const finished: RunEvent = {
    type: 'run_finished',
    status,
    reason,
    output: null,
    usage: state.usage,
    steps: state.steps,
  };
  const seq = (rows.at(-1)?.seq ?? 0) + 1;
  await db
    .insertInto('keel_events')
    .values(eventRow(runId, { seq, at: now, event: finished }))
    .execute();
  return db
    .updateTable('keel_runs')
    .set({
      status,
      reason: JSON.stringify(reason),
      output: null,
      input_tokens: state.usage.inputTokens,
      output_tokens: state.usage.outputTokens,
      cost_usd: state.usage.costUsd,
      steps: state.steps,
      lease_owner: null,
      lease_until: 0,
      updated_at: now,
      finished_at: now,
    })
    .where('id', '=', runId)
    .returningAll()
    .executeTakeFirstOrThrow();
}
