import type { Selectable } from 'kysely';
import { KeelError } from '../core/index.js';
import { readEvent, type RunEvent } from '../journal/index.js';
import type { RunsTable } from './schema.js';
import type { NewEvent } from '../journal/index.js';
import type { RunRecord, RunRecordStatus } from './run-journal.js';
import { STORE_SCHEMA_VERSION } from './store.js';

/** Mapping between the store's rows and its records. */

export function eventRow(runId: string, { seq, at, event }: NewEvent) {
  return {
    run_id: runId,
    seq,
    type: event.type,
    at,
    schema_version: STORE_SCHEMA_VERSION,
    data: JSON.stringify(event),
  };
}

export function leaseLost(runId: string, status: string | undefined): KeelError {
  return new KeelError(
    'lease_lost',
    status === undefined
      ? `run ${runId} does not exist`
      : `run ${runId} is no longer held by this worker (status ${status})`,
  );
}

/** A stored event's JSON, read in the format it was written in (`store_corrupt` otherwise). */
export function parseEvent(
  data: string,
  schemaVersion: number,
  location: string,
  runId: string,
  seq: number,
): RunEvent {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    throw new KeelError(
      'store_corrupt',
      `event ${seq} of run ${runId} in ${location} is not valid JSON`,
    );
  }
  try {
    return readEvent(value, schemaVersion);
  } catch (error) {
    const problem = error instanceof Error ? error.message : String(error);
    throw new KeelError(
      'store_corrupt',
      `event ${seq} of run ${runId} in ${location}: ${problem}`,
      {
        cause: error,
      },
    );
  }
}

export function toRecord(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    agent: row.agent,
    task: row.task,
    status: row.status as RunRecordStatus,
    reason: row.reason === null ? null : (JSON.parse(row.reason) as unknown),
    output: row.output,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    claims: row.claims,
    cancelRequested: row.cancel_requested === 1,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    costUsd: row.cost_usd,
    steps: row.steps,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at === null ? null : row.finished_at,
    schemaVersion: row.schema_version,
    version: row.agent_version ?? null,
    shadowOf: row.shadow_of ?? null,
  };
}
