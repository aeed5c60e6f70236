import { CompiledQuery } from 'kysely';
import type { RunFinish } from './run-journal.js';
import type { RunsTable } from './schema.js';

/*
 * The statements of a journal write, as SQL text kept per shape: a write runs several per
 * step, and building and compiling them through Kysely's query builder cost more CPU than
 * SQLite took to run them. Every other statement goes through the builder.
 */

/** Runs compiled statements inside one write transaction (see `SqlContext.write`). */
export type RunStatement = <Row>(query: CompiledQuery<Row>) => Promise<{ rows: Row[] }>;

type Kind = 'sqlite' | 'postgres';

const texts = new Map<string, string>();

/** `(?, ?, ?), (?, ?, ?)` or `($1, $2, $3), ($4, $5, $6)` for `rows` rows of `columns`. */
function tuples(kind: Kind, rows: number, columns: number): string {
  const parts: string[] = [];
  for (let row = 0; row < rows; row++) {
    const marks: string[] = [];
    for (let column = 1; column <= columns; column++) {
      marks.push(kind === 'postgres' ? `$${row * columns + column}` : '?');
    }
    parts.push(`(${marks.join(', ')})`);
  }
  return parts.join(', ');
}

function text(key: string, build: () => string): string {
  let sql = texts.get(key);
  if (sql === undefined) {
    sql = build();
    // Shapes are few (the pieces' lengths); the bound keeps a pathological caller from growing it.
    if (texts.size < 1_000) texts.set(key, sql);
  }
  return sql;
}

/** The largest number of rows one multi-row statement takes on SQLite. */
const LARGEST_PIECE = 64;

/**
 * `items` in the pieces SQLite's multi-row statements take them: up to 16 as one piece, more
 * in pieces of 64, 32 and 16 and what is left. SQLite keeps every statement prepared
 * (`withStatementCache`), and a prepared statement holds ~0.1 KB of native memory per value it
 * binds: one statement per length, as a busy worker's group commits come in every size, held
 * tens of MB. Eighteen lengths hold 232 rows' worth per table (~140 KB for the events').
 */
export function statementPieces<T>(items: readonly T[]): T[][] {
  const pieces: T[][] = [];
  for (let at = 0; at < items.length;) {
    const left = items.length - at;
    let size = left <= 16 ? left : LARGEST_PIECE;
    while (size > left) size /= 2;
    pieces.push(items.slice(at, at + size));
    at += size;
  }
  return pieces;
}

/**
 * `items` in the pieces one engine's statements take them: `statementPieces` on SQLite; on
 * PostgreSQL, which keeps nothing prepared (Kysely sends unnamed statements), all in one, or
 * in pieces of `postgresLimit` where its bound-parameter limit asks (more statements would
 * only hold a transaction's locks longer).
 */
export function enginePieces<T>(kind: Kind, items: readonly T[], postgresLimit?: number): T[][] {
  if (kind === 'sqlite') return statementPieces(items);
  const size = postgresLimit ?? items.length;
  const pieces: T[][] = [];
  for (let at = 0; at < items.length; at += size) pieces.push(items.slice(at, at + size));
  return pieces;
}

/** Rows per multi-row insert on PostgreSQL: 20 columns a row stay under its 65,535 values. */
const POSTGRES_ROWS = 500;

export interface GuardRow {
  readonly id: string;
  readonly status: string;
  readonly lease_owner: string | null;
  readonly claims: number;
}

/**
 * Reads that return at most one row: SQLite fetches it with `get`, which costs about half of
 * `all` (libsql's `all` iterates with a buffer of 100 rows per call).
 */
const singleRow = new Set<string>();

/** Whether `query` is one of the hot reads that return at most one row. */
export function returnsAtMostOneRow(query: CompiledQuery): boolean {
  return singleRow.has(query.sql);
}

/**
 * The runs a journal write checks its guard against: one statement per piece of `runIds` on
 * SQLite (see `statementPieces`); on PostgreSQL one statement that locks them in id order, the
 * order a lease heartbeat locks them in too (`renewLeases`), so the two never wait on each
 * other in a cycle.
 */
export function selectGuardRows(kind: Kind, runIds: readonly string[]): CompiledQuery<GuardRow>[] {
  const ids = kind === 'postgres' ? [...runIds].sort() : runIds;
  return enginePieces(kind, ids).map((piece) => {
    const sql = text(`guard:${kind}:${piece.length}`, () => {
      const marks = tuples(kind, 1, piece.length).slice(1, -1);
      const lock = kind === 'postgres' ? ' order by id for update' : '';
      const select = `select id, status, lease_owner, claims from keel_runs where id in (${marks})${lock}`;
      // By primary key: one id, one row at most.
      if (piece.length === 1) singleRow.add(select);
      return select;
    });
    return CompiledQuery.raw(sql, piece);
  });
}

export interface EventInsertRow {
  readonly run_id: string;
  readonly seq: number;
  readonly type: string;
  readonly at: number;
  readonly schema_version: number;
  readonly data: string;
}

/** The statements that insert `rows`, one per piece (see `enginePieces`). */
export function insertEvents(kind: Kind, rows: readonly EventInsertRow[]): CompiledQuery[] {
  return enginePieces(kind, rows, POSTGRES_ROWS).map((piece) => {
    const sql = text(
      `events:${kind}:${piece.length}`,
      () =>
        `insert into keel_events (run_id, seq, type, at, schema_version, data) values ${tuples(kind, piece.length, 6)}`,
    );
    const parameters: unknown[] = [];
    for (const row of piece) {
      parameters.push(row.run_id, row.seq, row.type, row.at, row.schema_version, row.data);
    }
    return CompiledQuery.raw(sql, parameters);
  });
}

const RUN_COLUMNS = [
  'id',
  'agent',
  'task',
  'status',
  'reason',
  'output',
  'lease_owner',
  'lease_until',
  'claims',
  'cancel_requested',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'steps',
  'created_at',
  'updated_at',
  'finished_at',
  'schema_version',
  'agent_version',
  'shadow_of',
] as const satisfies readonly (keyof RunsTable)[];

/** The statements that insert `rows`, one per piece (see `enginePieces`). */
export function insertRuns(kind: Kind, rows: readonly RunsTable[]): CompiledQuery[] {
  return enginePieces(kind, rows, POSTGRES_ROWS).map((piece) => {
    const sql = text(
      `runs:${kind}:${piece.length}`,
      () =>
        `insert into keel_runs (${RUN_COLUMNS.join(', ')}) values ${tuples(kind, piece.length, RUN_COLUMNS.length)}`,
    );
    const parameters: unknown[] = [];
    for (const row of piece) for (const column of RUN_COLUMNS) parameters.push(row[column]);
    return CompiledQuery.raw(sql, parameters);
  });
}

/** `?` marks numbered `$1, $2, …` for PostgreSQL. */
function numbered(kind: Kind, sql: string): string {
  if (kind === 'sqlite') return sql;
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}

/** A run's finish as its row stores it: the reason serialised. */
export type RunEnd = Omit<RunFinish, 'reason'> & { readonly reason: string | null };

/** A run's row as it ended: outcome, totals, lease cleared. */
export function finishRun(kind: Kind, runId: string, end: RunEnd): CompiledQuery {
  const sql = text(`finish:${kind}`, () =>
    numbered(
      kind,
      'update keel_runs set status = ?, reason = ?, output = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, steps = ?, lease_owner = null, lease_until = 0, updated_at = ?, finished_at = ? where id = ?',
    ),
  );
  return CompiledQuery.raw(sql, [
    end.status,
    end.reason,
    end.output,
    end.inputTokens,
    end.outputTokens,
    end.costUsd,
    end.steps,
    end.at,
    end.at,
    runId,
  ]);
}

/** A run that ended withdraws its pending approvals: nobody can decide them any more. */
export function withdrawApprovals(
  kind: Kind,
  runId: string,
  status: string,
  at: number,
): CompiledQuery {
  const sql = text(`withdraw:${kind}`, () =>
    numbered(
      kind,
      "update keel_approvals set state = 'expired', decided_by = 'keel:run-ended', decided_at = ?, decision_reason = ? where run_id = ? and state = 'pending'",
    ),
  );
  return CompiledQuery.raw(sql, [at, `withdrawn: the run ended ${status}`, runId]);
}

/** Wakes idle PostgreSQL workers: a run became claimable. */
export function notifyReady(channel: string, runId: string): CompiledQuery {
  return CompiledQuery.raw('select pg_notify($1, $2)', [channel, runId]);
}

/** The last pruning's checkpoint: where the chain goes on after every row was pruned. */
export function selectPruneCheckpoint(
  kind: Kind,
): CompiledQuery<{ seq: number; head_hash: string }> {
  const sql = numbered(
    kind,
    'select seq, head_hash from keel_audit_checkpoints where kind = ? order by seq desc limit 1',
  );
  singleRow.add(sql);
  return CompiledQuery.raw(sql, ['prune']);
}

const LAST_AUDIT = 'select seq, hash from keel_audit order by seq desc limit 1';
singleRow.add(LAST_AUDIT);

/** The audit chain's last entry. */
export function selectLastAudit(): CompiledQuery<{ seq: number; hash: string }> {
  return CompiledQuery.raw(LAST_AUDIT);
}

export interface AuditInsertRow {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly run_id: string | null;
  readonly payload: string;
  readonly prev_hash: string;
  readonly hash: string;
}

/** The statements that insert `rows`, one per piece (see `enginePieces`). */
export function insertAudit(kind: Kind, rows: readonly AuditInsertRow[]): CompiledQuery[] {
  return enginePieces(kind, rows, POSTGRES_ROWS).map((piece) => {
    const sql = text(
      `audit:${kind}:${piece.length}`,
      () =>
        `insert into keel_audit (seq, at, kind, run_id, payload, prev_hash, hash) values ${tuples(kind, piece.length, 7)}`,
    );
    const parameters: unknown[] = [];
    for (const row of piece) {
      parameters.push(row.seq, row.at, row.kind, row.run_id, row.payload, row.prev_hash, row.hash);
    }
    return CompiledQuery.raw(sql, parameters);
  });
}
