import { Migrator, type Kysely } from 'kysely';
import { KeelError } from '../core/index.js';
import { migrationProvider, type Database } from './schema.js';
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
import { SqlProviderBudgets } from './sql-provider-budgets.js';
import { SqlRetention } from './sql-retention.js';

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
  }) {
    const context = sqlContext(options);
    const audit = new SqlAuditLog(context, options.auditKey);
    super(context, { audit, listen: options.listen });
    this.kind = options.kind;
    this.location = options.location;
    this.#db = options.db;
    this.#onClose = options.onClose ?? (() => Promise.resolve());
    this.#schema = options.schema;
    this.audit = audit;
    this.approvals = new SqlApprovalStore(context);
    this.decisions = new SqlDecisionStore({ db: this.#db, guarded: context.guarded });
    this.mcpPins = new SqlMcpPinStore(context);
    this.results = new SqlResultStore({
      db: this.#db,
      kind: this.kind,
      guarded: context.guarded,
    });
    this.tools = new SqlToolState(context);
    this.prices = new SqlPriceStore(context);
    this.browse = new SqlRunBrowser(context);
    this.providerBudgets = new SqlProviderBudgets(context);
    this.evals = new SqlEvalStore(context);
    this.retention = new SqlRetention(context);
  }

  /** Bring the schema up to date. Safe to call from many processes at once. */
  /** Fails, saying why, unless every migration has run (for readers that must not write). */
  async requireMigrated(): Promise<void> {
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

  async migrate(): Promise<void> {
    const migrator = this.#migrator();
    const deadline = Date.now() + 10_000;
    for (let attempt = 1; ; attempt++) {
      const { error } = await migrator.migrateToLatest();
      if (!error) return;
      // Kysely's migrator lists the tables of every schema in the database; a schema another
      // process drops meanwhile makes that listing fail with `invalid_schema_name` (3F000).
      // Nothing of ours was touched, so the migration is simply tried again.
      if (!isDroppedSchemaRace(error) || Date.now() > deadline) {
        throw storeFault(error, this.location);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(200, 10 * attempt)));
    }
  }

  #migrator(): Migrator {
    // Keel's own bookkeeping tables, pinned to Keel's schema: a database may hold other Kysely
    // projects, or other Keel schemas, whose migration tables must not be mistaken for ours.
    return new Migrator({
      db: this.#db,
      provider: migrationProvider,
      migrationTableName: 'keel_migration',
      migrationLockTableName: 'keel_migration_lock',
      ...(this.kind === 'postgres' ? { migrationTableSchema: this.#schema ?? 'public' } : {}),
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.closeJournal();
    await this.audit.close();
    this.#closed = true;
    await this.#onClose();
  }
}

function isDroppedSchemaRace(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '3F000'
  );
}
