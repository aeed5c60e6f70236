import { CompiledQuery } from 'kysely';

/*
 * The statements of a journal write, as SQL text kept per shape: a write runs several per
 * step, and building and compiling them through Kysely's query builder cost more CPU than
 * SQLite took to run them. Every other statement goes through the builder.
 */

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
    // Shapes are few (rows per write); the bound keeps a pathological caller from growing it.
    if (texts.size < 1_000) texts.set(key, sql);
  }
  return sql;
}

export interface GuardRow {
  readonly id: string;
  readonly status: string;
  readonly lease_owner: string | null;
  readonly claims: number;
}

/** The runs a journal write checks its guard against (locked on PostgreSQL). */
export function selectGuardRows(kind: Kind, runIds: readonly string[]): CompiledQuery<GuardRow> {
  const sql = text(`guard:${kind}:${runIds.length}`, () => {
    const marks = tuples(kind, 1, runIds.length).slice(1, -1);
    const lock = kind === 'postgres' ? ' for update' : '';
    return `select id, status, lease_owner, claims from keel_runs where id in (${marks})${lock}`;
  });
  return CompiledQuery.raw(sql, [...runIds]);
}

export interface EventInsertRow {
  readonly run_id: string;
  readonly seq: number;
  readonly type: string;
  readonly at: number;
  readonly schema_version: number;
  readonly data: string;
}

export function insertEvents(kind: Kind, rows: readonly EventInsertRow[]): CompiledQuery {
  const sql = text(
    `events:${kind}:${rows.length}`,
    () =>
      `insert into keel_events (run_id, seq, type, at, schema_version, data) values ${tuples(kind, rows.length, 6)}`,
  );
  const parameters: unknown[] = [];
  for (const row of rows) {
    parameters.push(row.run_id, row.seq, row.type, row.at, row.schema_version, row.data);
  }
  return CompiledQuery.raw(sql, parameters);
}

/** The audit chain's last entry. */
export function selectLastAudit(): CompiledQuery<{ seq: number; hash: string }> {
  return CompiledQuery.raw('select seq, hash from keel_audit order by seq desc limit 1');
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

export function insertAudit(kind: Kind, rows: readonly AuditInsertRow[]): CompiledQuery {
  const sql = text(
    `audit:${kind}:${rows.length}`,
    () =>
      `insert into keel_audit (seq, at, kind, run_id, payload, prev_hash, hash) values ${tuples(kind, rows.length, 7)}`,
  );
  const parameters: unknown[] = [];
  for (const row of rows) {
    parameters.push(row.seq, row.at, row.kind, row.run_id, row.payload, row.prev_hash, row.hash);
  }
  return CompiledQuery.raw(sql, parameters);
}
