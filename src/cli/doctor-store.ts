import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KeelError } from '../core/index.js';
import { sqliteDriver } from '../store/index.js';

/** An approver as the doctor sees it: who can decide for which groups. */
export interface DoctorApprover {
  readonly name: string;
  readonly groups: readonly string[];
  readonly role: string;
}

/** What the doctor learns from a store without changing it. */
export interface StoreInspection {
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  /** Migrations applied, by name. */
  readonly applied: readonly string[];
  readonly approvers: readonly DoctorApprover[];
  /** PostgreSQL only: the database clock minus this machine's, from the middle of the round trip. */
  readonly clockSkewMs?: number | undefined;
}

/**
 * Read a store's migrations, approvers and (PostgreSQL) clock, read-only: unlike `openStore`,
 * this never creates a file, a schema or a table. Throws `store_unavailable` when the store
 * cannot be reached and `not_found` when a SQLite file does not exist.
 */
export async function inspectStore(url: string): Promise<StoreInspection> {
  if (url.startsWith('sqlite:')) return inspectSqlite(url.slice('sqlite:'.length));
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return inspectPostgres(url);
  throw new KeelError(
    'invalid_config',
    `unsupported store URL "${url}": use sqlite:<path> or postgres://user@host:port/database`,
  );
}

function inspectSqlite(rawPath: string): StoreInspection {
  const path = rawPath.startsWith('//') ? rawPath.slice(2) : rawPath;
  if (path === ':memory:' || path === '') {
    throw new KeelError('invalid_config', `sqlite:${path} is not a store another process can use`);
  }
  const location = resolve(path);
  if (!existsSync(location)) throw new KeelError('not_found', `no SQLite store at ${location}`);
  const Database = sqliteDriver();
  let database: InstanceType<typeof Database> | undefined;
  try {
    database = new Database(location, { timeout: 5_000 });
    const tables = new Set(
      (
        database.prepare(`select name from sqlite_master where type = 'table'`).all() as {
          name: string;
        }[]
      ).map((row) => row.name),
    );
    const applied = tables.has('keel_migration')
      ? (database.prepare('select name from keel_migration').all() as { name: string }[]).map(
          (row) => row.name,
        )
      : [];
    const approvers = tables.has('keel_approvers')
      ? approverRows(database.prepare('select * from keel_approvers').all() as ApproverRow[])
      : [];
    return { kind: 'sqlite', location, applied, approvers };
  } catch (error) {
    throw new KeelError('store_unavailable', `cannot read the store at ${location}`, {
      cause: error,
    });
  } finally {
    database?.close();
  }
}

async function inspectPostgres(url: string): Promise<StoreInspection> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new KeelError('invalid_config', `"${url}" is not a valid PostgreSQL URL`);
  }
  const schema = parsed.searchParams.get('schema') ?? 'public';
  parsed.searchParams.delete('schema');
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new KeelError(
      'invalid_config',
      `PostgreSQL schema "${schema}" must be lowercase letters, digits and _`,
    );
  }
  const location = `postgres://${parsed.host}${parsed.pathname}${schema === 'public' ? '' : `?schema=${schema}`}`;
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: parsed.toString(),
    connectionTimeoutMillis: 5_000,
  });
  try {
    await client.connect();
  } catch (error) {
    throw new KeelError('store_unavailable', `cannot reach the store at ${location}`, {
      cause: error,
    });
  }
  try {
    const sent = Date.now();
    const clock = await client.query<{ now: string }>(
      `select (extract(epoch from clock_timestamp()) * 1000)::text as now`,
    );
    const received = Date.now();
    const databaseNow = Number(clock.rows[0]?.now);
    const tables = new Set(
      (
        await client.query<{ name: string }>(
          'select table_name as name from information_schema.tables where table_schema = $1',
          [schema],
        )
      ).rows.map((row) => row.name),
    );
    const applied = tables.has('keel_migration')
      ? (
          await client.query<{ name: string }>(`select name from "${schema}".keel_migration`)
        ).rows.map((row) => row.name)
      : [];
    const approvers = tables.has('keel_approvers')
      ? approverRows(
          (await client.query<ApproverRow>(`select * from "${schema}".keel_approvers`)).rows,
        )
      : [];
    return {
      kind: 'postgres',
      location,
      applied,
      approvers,
      clockSkewMs: Math.round(databaseNow - (sent + received) / 2),
    };
  } catch (error) {
    throw new KeelError('store_unavailable', `cannot read the store at ${location}`, {
      cause: error,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface ApproverRow {
  readonly name: string;
  readonly groups: string;
  /** Absent before migration 0009: every approver was an `approver`. */
  readonly role?: string | null;
  /** Absent before migration 0016: no approver was revoked or expired. */
  readonly revoked_at?: number | string | null;
  readonly expires_at?: number | string | null;
}

function approverRows(rows: readonly ApproverRow[]): DoctorApprover[] {
  const now = Date.now();
  // A revoked or expired token decides nothing.
  const live = rows.filter(
    (row) =>
      (row.revoked_at ?? null) === null &&
      ((row.expires_at ?? null) === null || Number(row.expires_at) > now),
  );
  return live.map((row) => ({
    name: row.name,
    groups: parseGroups(row.groups),
    role: row.role ?? 'approver',
  }));
}

function parseGroups(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((group) => typeof group === 'string') : [];
  } catch {
    return [];
  }
}
