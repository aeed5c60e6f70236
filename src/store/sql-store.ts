import { Migrator, sql, type Kysely } from 'kysely';
import { KeelError, sleep } from '../core/index.js';
import { MIGRATION_NAMES, migrationProvider, type Database } from './schema.js';
import { SqlApprovalStore } from './sql-approval-store.js';
import { SqlAuditLog } from './sql-audit-log.js';
import { sqlContext } from './sql-context.js';
import { SqlDecisionStore } from './sql-decision-store.js';
import { SqlPriceStore } from './sql-price-store.js';
import { SqlEvalStore } from './sql-eval-store.js';
import { SqlResultStore } from './sql-result-store.js';
import { SqlRunBrowser } from './sql-run-browser.js';
import { SqlRunJournal, type Listen } from './sql-run-journal.js';
import { SqlToolState } from './sql-tool-state.js';
import { storeFault } from './store-errors.js';
import type { Store } from './store.js';
import { SqlMcpPinStore } from './sql-mcp-pin-store.js';
import { SqlShadowStore } from './sql-shadow-store.js';
import { SqlProviderBudgets } from './sql-provider-budgets.js';
import { SqlRetention } from './sql-retention.js';
import type { SqliteHandle } from './sqlite-handle.js';
import { createFromSchema } from './sqlite-new-store.js';

/**
 * The `Store` over Kysely, for both engines: the run journal with one SQL port per concern
 * beside it, all on one connection pool.
 */
export class SqlStore extends SqlRunJournal implements Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly location: string;
  readonly #db: Kysely<Database>;
  readonly #onClose: () => Promise<void>;
  readonly #schema: string | undefined;
  readonly #sqlite: SqliteHandle | undefined;
  #closed = false;
  readonly approvals: SqlApprovalStore;
  readonly decisions: SqlDecisionStore;
  readonly results: SqlResultStore;
  readonly tools: SqlToolState;
  readonly audit: SqlAuditLog;
  readonly prices: SqlPriceStore;
  readonly browse: SqlRunBrowser;
  readonly mcpPins: SqlMcpPinStore;
  readonly providerBudgets: SqlProviderBudgets;
  readonly evals: SqlEvalStore;
  readonly shadows: SqlShadowStore;
  readonly retention: SqlRetention;

  constructor(options: {
    kind: 'sqlite' | 'postgres';
    location: string;
    db: Kysely<Database>;
    onClose?: () => Promise<void>;
    /** PostgreSQL schema holding Keel's tables (and its migration bookkeeping). */
    schema?: string | undefined;
    /** PostgreSQL LISTEN on a dedicated connection. */
    listen?: Listen | undefined;
    /** The audit log's HMAC key (see `OpenStoreOptions.auditKey`). */
    auditKey?: string | undefined;
    /** SQLite: the connection under `db`, for a new store's schema in one script. */
    sqlite?: SqliteHandle | undefined;
  }) {
    const context = sqlContext(options);
    const audit = new SqlAuditLog(context, options.auditKey);
    super(context, { audit, listen: options.listen });
    this.kind = options.kind;
    this.location = options.location;
    this.#db = options.db;
    this.#onClose = options.onClose ?? (() => Promise.resolve());
    this.#schema = options.schema;
    this.#sqlite = options.sqlite;
    this.audit = audit;
    this.approvals = new SqlApprovalStore(context, audit);
    this.decisions = new SqlDecisionStore({ db: this.#db, guarded: context.guarded });
    this.mcpPins = new SqlMcpPinStore(context);
    this.results = new SqlResultStore(context);
    this.tools = new SqlToolState(context);
    this.prices = new SqlPriceStore(context);
    this.browse = new SqlRunBrowser(context);
    this.providerBudgets = new SqlProviderBudgets(context);
    this.evals = new SqlEvalStore(context);
    this.shadows = new SqlShadowStore({ db: this.#db, guarded: context.guarded });
    this.retention = new SqlRetention(context);
  }

  /** Fails, saying why, unless every migration has run (for readers that must not write). */
  async requireMigrated(): Promise<void> {
    if (await this.#current()) return;
    let pending: number;
    try {
      const migrations = await this.#migrator().getMigrations();
      pending = migrations.filter((migration) => migration.executedAt === undefined).length;
    } catch (error) {
      throw storeFault(error, this.location);
    }
    if (pending > 0) {
      throw new KeelError(
        'invalid_config',
        `the store at ${this.location} needs ${pending} migration(s): open it once with a command that writes (e.g. \`keel worker\`, \`keel run\`)`,
      );
    }
  }

  /** Bring the schema up to date. Safe to call from many processes at once. */
  async migrate(): Promise<void> {
    // Every open after the first: one query, and none of the migrator's introspection.
    if (await this.#current()) return;
    if (this.#sqlite) {
      try {
        if (await createFromSchema(this.#db, this.#sqlite)) return;
      } catch (error) {
        throw storeFault(error, this.location);
      }
    }
    const migrator = this.#migrator();
    const deadline = Date.now() + 10_000;
    for (let attempt = 1; ; attempt++) {
      const { error } = await this.#withoutSyncPerStatement(() => migrator.migrateToLatest());
      if (!error) return;
      // Kysely's migrator lists the tables of every schema in the database; a schema another
      // process drops meanwhile makes that listing fail with `invalid_schema_name` (3F000).
      // Nothing of ours was touched, so the migration is simply tried again.
      if (!isDroppedSchemaRace(error) || Date.now() > deadline) {
        throw storeFault(error, this.location);
      }
      await sleep(Math.min(200, 10 * attempt));
    }
  }

  /**
   * Whether the bookkeeping lists exactly this version's migrations. Anything else (no table
   * yet, one pending, one this version does not know) is left to the migrator, which migrates
   * or says what is wrong.
   */
  async #current(): Promise<boolean> {
    const table =
      this.kind === 'postgres' ? `${this.#schema ?? 'public'}.keel_migration` : 'keel_migration';
    let names: Set<string>;
    try {
      const { rows } = await sql<{ name: string }>`select name from ${sql.table(table)}`.execute(
        this.#db,
      );
      names = new Set(rows.map((row) => row.name));
    } catch {
      return false;
    }
    return names.size === MIGRATION_NAMES.length && MIGRATION_NAMES.every((n) => names.has(n));
  }

  /**
   * SQLite runs each migration statement as its own commit (Kysely does not wrap SQLite DDL in
   * a transaction), and under `synchronous = full` each commit is an fsync: ~60 of them for a
   * new store. In WAL mode `normal` keeps the file consistent through a crash or power loss,
   * only the last commits may be lost — which a migration already allows (it runs again at the
   * next open) — and the first commit after `full` is restored fsyncs the WAL with them all.
   */
  async #withoutSyncPerStatement<T>(work: () => Promise<T>): Promise<T> {
    if (this.kind !== 'sqlite') return work();
    const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(this.#db);
    const level = rows[0]?.synchronous;
    if (level !== 2) return work();
    await sql`pragma synchronous = normal`.execute(this.#db);
    try {
      return await work();
    } finally {
      await sql`pragma synchronous = full`.execute(this.#db);
    }
  }

  #migrator(): Migrator {
    return keelMigrator(this.#db, this.kind, this.#schema);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.closeJournal();
    await this.audit.close();
    this.#closed = true;
    await this.#onClose();
  }
}

/** The migrator over Keel's migrations, as every store runs them. */
export function keelMigrator(
  db: Kysely<Database>,
  kind: 'sqlite' | 'postgres',
  schema?: string,
): Migrator {
  // Keel's own bookkeeping tables, pinned to Keel's schema: a database may hold other Kysely
  // projects, or other Keel schemas, whose migration tables must not be mistaken for ours.
  return new Migrator({
    db,
    provider: migrationProvider,
    migrationTableName: 'keel_migration',
    migrationLockTableName: 'keel_migration_lock',
    // Numbers are reserved per change and land in any order: a store of the release before
    // may have run 0014 but not 0013. Each migration is written to run on its own.
    allowUnorderedMigrations: true,
    ...(kind === 'postgres' ? { migrationTableSchema: schema ?? 'public' } : {}),
  });
}

function isDroppedSchemaRace(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '3F000'
  );
}
