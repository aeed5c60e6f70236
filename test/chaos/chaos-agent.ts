import pg from 'pg';
import { z } from 'zod';
import { defineAgent, defineTool, openaiChat, type Agent } from '../../src/index.js';

/**
 * The agent the chaos run drives, shared by the worker processes and the driver. Each run
 * asks the fault-injecting model server for `EFFECT_STEPS` steps of one `record_effect` call,
 * then answers. The tool writes one row per idempotency key into `chaos_effects` (a second
 * write of the same key is counted in `chaos_attempts`, never applied twice).
 */
export const CHAOS_AGENT = 'chaos';
export const EFFECT_STEPS = 2;

export async function prepareEffects(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      'create table if not exists chaos_effects (key text primary key, run_id text not null, pid int not null, at bigint not null)',
    );
    await client.query(
      'create table if not exists chaos_attempts (key text not null, pid int not null, applied boolean not null, at bigint not null)',
    );
  } finally {
    await client.end();
  }
}

export function chaosAgent({
  modelUrl,
  effectsUrl,
}: {
  modelUrl: string;
  effectsUrl: string;
}): Agent {
  const pool = new pg.Pool({
    connectionString: effectsUrl,
    max: 4,
    connectionTimeoutMillis: 2_000,
  });
  pool.on('error', () => undefined);
  const recordEffect = defineTool({
    name: 'record_effect',
    description: 'Record one effect of the run',
    input: z.object({ step: z.number() }),
    effect: 'write',
    run: async (_input, context) => {
      const now = Date.now();
      const inserted = await pool.query(
        'insert into chaos_effects (key, run_id, pid, at) values ($1, $2, $3, $4) on conflict (key) do nothing',
        [context.idempotencyKey, context.runId, process.pid, now],
      );
      const applied = inserted.rowCount === 1;
      await pool.query(
        'insert into chaos_attempts (key, pid, applied, at) values ($1, $2, $3, $4)',
        [context.idempotencyKey, process.pid, applied, now],
      );
      return applied ? 'recorded' : 'already recorded';
    },
  });
  return defineAgent({
    name: CHAOS_AGENT,
    // The fault server answers one JSON body (it does not stream).
    model: openaiChat({
      model: 'chaos',
      baseURL: modelUrl,
      apiKey: 'unused',
      timeoutMs: 3_000,
      stream: false,
    }),
    instructions: 'Record the effects, then answer.',
    tools: [recordEffect],
    limits: { timeoutMs: 600_000, maxIterations: 10, maxStepsWithoutProgress: 10 },
  });
}
