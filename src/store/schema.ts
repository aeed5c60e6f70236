import { sql, type Generated, type Kysely, type Migration, type MigrationProvider } from 'kysely';

export interface RunsTable {
  id: string;
  agent: string;
  task: string;
  status: string;
  reason: string | null;
  output: string | null;
  lease_owner: string | null;
  lease_until: number;
  claims: number;
  cancel_requested: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  steps: number;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  schema_version: number;
  /** The agent's version from `run_started` (null for runs created before 0013). */
  agent_version: string | null;
  /** Set on a shadow run: the production run it repeats. */
  shadow_of: string | null;
}

export interface EventsTable {
  run_id: string;
  seq: number;
  type: string;
  at: number;
  schema_version: number;
  data: string;
}

export interface ToolBreakersTable {
  tool: string;
  state: string;
  failures: number;
  until: number;
  updated_at: number;
  version: number;
}

export interface ToolCacheTable {
  key: string;
  tool: string;
  value: string;
  created_at: number;
  expires_at: number;
}

export interface AuditTable {
  seq: number;
  at: number;
  kind: string;
  run_id: string | null;
  payload: string;
  prev_hash: string;
  hash: string;
}

/** A run's cost as last re-priced (`keel prices recompute`); the journal keeps the original. */
export interface RunPricesTable {
  run_id: string;
  /** Null when some call's model has no known price. */
  cost_usd: number | null;
  priced_calls: number;
  unpriced_calls: number;
  priced_at: number;
}

/** A human decision a run waits on (see `ApprovalStore`). JSON in `text` columns. */
export interface ApprovalsTable {
  id: string;
  run_id: string;
  agent: string;
  step: number;
  call_index: number;
  call_id: string;
  tool_name: string;
  args: string;
  args_hash: string;
  gate_reason: string;
  approver_group: string;
  created_at: number;
  expires_at: number;
  on_expiry: string;
  state: string;
  decided_by: string | null;
  /** Migration 0016. */
  decided_by_id?: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  edited_args: string | null;
  /** Migration 0018: the edited arguments as the call runs with them (`edited_args` is shown). */
  edited_input?: string | null;
  escalated_from: string | null;
  notified_at: number | null;
  schema_version: number;
}

export interface ApproversTable {
  token_hash: string;
  name: string;
  groups: string;
  /** `viewer`, `approver` or `admin` (migration 0009; earlier approvers are `approver`). */
  role: Generated<string>;
  created_at: number;
  /** Migration 0016: stable id (rotation keeps it), token expiry, revocation. */
  id: string | null;
  expires_at: number | null;
  revoked_at: number | null;
}

/** Every decision attempt on an approval, accepted or refused: append-only. */
export interface ApprovalDecisionsTable {
  id: string;
  approval_id: string;
  at: number;
  actor: string;
  /** Migration 0016. */
  actor_id?: string | null;
  decision: string;
  outcome: string;
  error_code: string | null;
  reason: string | null;
  args_hash: string | null;
}

/** Schema-validated decisions and the review queue (see `DecisionStore`). */
export interface DecisionsTable {
  id: string;
  kind: string;
  status: string;
  instructions: string;
  input: string;
  value: string;
  confidence: number;
  reason: string | null;
  choices: string | null;
  cache_key: string | null;
  run_id: string | null;
  started_run_id: string | null;
  on_resolve: string;
  events: string;
  created_at: number;
  decided_at: number | null;
  decided_by: string | null;
  schema_version: number;
}

/** A provider's shared requests/tokens-per-minute pacing (PostgreSQL; see `ProviderBudgets`). */
export interface ProviderBudgetsTable {
  key: string;
  next_request_at: number;
  next_token_at: number;
  paused_until: number;
}

/** Stored evaluations (see `EvalStore`). */
export interface EvalRunsTable {
  id: string;
  suite: string;
  /** JSON array of suite files. */
  sources: string;
  created_at: number;
  passed: number;
  failed: number;
  k: number;
  pass_at_1: number;
  pass_hat_k: number;
  cost_usd: number;
  duration_ms: number;
  rescore_of: string | null;
  /** The report, JSON. */
  report: string;
}

/** One attempt of one case of a stored evaluation, with its run's journal as JSON. */
export interface EvalAttemptsTable {
  eval_run_id: string;
  case_name: string;
  attempt: number;
  run_id: string;
  /** 1 or 0. */
  passed: number;
  result: string;
  journal: string;
}

/** Signed heads of the audit chain (migration 0017; see `AuditLog.checkpoint`). */
export interface AuditCheckpointsTable {
  id: string;
  kind: string;
  seq: number;
  head_hash: string;
  at: number;
  signature: string | null;
}

export interface Database {
  keel_audit_checkpoints: AuditCheckpointsTable;
  keel_provider_budgets: ProviderBudgetsTable;
  keel_runs: RunsTable;
  keel_events: EventsTable;
  keel_tool_breakers: ToolBreakersTable;
  keel_tool_cache: ToolCacheTable;
  keel_audit: AuditTable;
  keel_run_prices: RunPricesTable;
  keel_approvals: ApprovalsTable;
  keel_approvers: ApproversTable;
  keel_approval_decisions: ApprovalDecisionsTable;
  keel_decisions: DecisionsTable;
  keel_context_results: ContextResultsTable;
  keel_mcp_pins: McpPinsTable;
  keel_eval_runs: EvalRunsTable;
  keel_eval_attempts: EvalAttemptsTable;
  keel_shadows: ShadowsTable;
  keel_shadow_pairs: ShadowPairsTable;
}

/** A shadow's configuration (see `ShadowStore`). */
export interface ShadowsTable {
  id: string;
  agent: string;
  candidate_version: string;
  candidate_module: string | null;
  share: number;
  max_concurrent: number;
  max_cost_usd: number | null;
  allow_live_reads: number;
  started_at: number;
  stopped_at: number | null;
  stop_reason: string | null;
}

/** A production run and the shadow run queued for it. */
export interface ShadowPairsTable {
  shadow_id: string;
  run_id: string;
  candidate_run_id: string;
  created_at: number;
}

/** Pinned MCP tool definitions and the changed ones waiting for approval (see `McpPinStore`). */
export interface McpPinsTable {
  server: string;
  tool: string;
  pinned_fingerprint: string | null;
  pinned_definition: string | null;
  pinned_by: string | null;
  pinned_at: number | null;
  pending_fingerprint: string | null;
  pending_definition: string | null;
  pending_at: number | null;
  schema_version: number;
}

/** Large tool results kept for recall (see `ResultStore`); full-text indexed per engine. */
export interface ContextResultsTable {
  run_id: string;
  ref: string;
  step: number;
  call_id: string;
  tool_name: string;
  content: string;
  trust: string;
  source: string;
  created_at: number;
}

/**
 * What PostgreSQL indexes for a run's full-text search (queries repeat it exactly, or the index
 * is not used). Words are runs of letters and digits, as in SQLite's FTS5 (PostgreSQL's own
 * parser would keep `-1001` as a signed number and drop `<b>` as a tag). A tsvector holds at
 * most 1 MB, so only the first 100,000 characters of the task and of the output are read: a
 * longer output must never fail the commit that finishes its run.
 */
export const POSTGRES_RUN_SEARCH_DOCUMENT = sql.raw(
  "to_tsvector('simple', regexp_replace(left(task, 100000) || ' ' || left(coalesce(output, ''), 100000), '[^[:alnum:]]+', ' ', 'g'))",
);

const runBrowserMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const postgres = db.getExecutor().adapter.supportsTransactionalDdl;
    // Why a run ended, as a column the run list filters and indexes on; derived from `reason`,
    // so no write path changes.
    if (postgres) {
      await sql`alter table keel_runs add column if not exists reason_type text generated always as ((reason::jsonb) ->> 'type') stored`.execute(
        db,
      );
    } else {
      await sql`alter table keel_runs add column reason_type text generated always as (json_extract(reason, '$.type')) virtual`.execute(
        db,
      );
    }
    // Keyset pagination, newest first, under each equality filter of the run list.
    const listing: [string, string[]][] = [
      ['keel_runs_listing', ['created_at', 'id']],
      ['keel_runs_agent_listing', ['agent', 'created_at', 'id']],
      ['keel_runs_status_listing', ['status', 'created_at', 'id']],
      ['keel_runs_reason_listing', ['reason_type', 'created_at', 'id']],
      // "Cost above" a threshold few runs reach: read by cost, then sorted.
      ['keel_runs_cost', ['cost_usd']],
    ];
    for (const [name, columns] of listing) {
      await db.schema.createIndex(name).ifNotExists().on('keel_runs').columns(columns).execute();
    }
    // Full-text search over tasks and final outputs, each engine with its own index.
    if (postgres) {
      // An expression index: lease renewals and status changes leave it untouched.
      await sql`create index if not exists keel_runs_search on keel_runs using gin (${POSTGRES_RUN_SEARCH_DOCUMENT})`.execute(
        db,
      );
    } else {
      // External-content FTS5 over the runs' rowid, like the results index: the text is stored
      // once, and a search walks docids only. A `VACUUM` may renumber rowids of a table without
      // an INTEGER PRIMARY KEY: after one, `insert into keel_runs_fts(keel_runs_fts) values
      // ('rebuild')` re-indexes.
      await sql`create virtual table if not exists keel_runs_fts using fts5(task, output, content='keel_runs', content_rowid='rowid', tokenize='unicode61')`.execute(
        db,
      );
      await sql`create trigger if not exists keel_runs_fts_insert after insert on keel_runs begin insert into keel_runs_fts(rowid, task, output) values (new.rowid, new.task, new.output); end`.execute(
        db,
      );
      // Only a change of the text re-indexes: lease renewals and status changes do not.
      await sql`create trigger if not exists keel_runs_fts_update after update of task, output on keel_runs begin insert into keel_runs_fts(keel_runs_fts, rowid, task, output) values ('delete', old.rowid, old.task, old.output); insert into keel_runs_fts(rowid, task, output) values (new.rowid, new.task, new.output); end`.execute(
        db,
      );
      await sql`create trigger if not exists keel_runs_fts_delete after delete on keel_runs begin insert into keel_runs_fts(keel_runs_fts, rowid, task, output) values ('delete', old.rowid, old.task, old.output); end`.execute(
        db,
      );
      await sql`insert into keel_runs_fts(keel_runs_fts) values ('rebuild')`.execute(db);
    }
  },
  async down(db: Kysely<unknown>) {
    for (const trigger of [
      'keel_runs_fts_insert',
      'keel_runs_fts_update',
      'keel_runs_fts_delete',
    ]) {
      await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
    }
    await sql`drop table if exists keel_runs_fts`.execute(db);
    await sql`drop index if exists keel_runs_search`.execute(db);
    for (const name of [
      'keel_runs_cost',
      'keel_runs_reason_listing',
      'keel_runs_status_listing',
      'keel_runs_agent_listing',
      'keel_runs_listing',
    ]) {
      await db.schema.dropIndex(name).ifExists().execute();
    }
    await sql`alter table keel_runs drop column reason_type`.execute(db);
  },
};

const approverRolesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('keel_approvers')
      .addColumn('role', 'text', (column) => column.notNull().defaultTo('approver'))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('keel_approvers').dropColumn('role').execute();
  },
};

const approverLifecycleMigration: Migration = {
  // Approver ids (kept across token rotation, recorded by every decision), token expiry,
  // revocation, and unique names. Names duplicated before this migration keep the oldest
  // approver's; the others get a suffix from their token hash.
  async up(db: Kysely<unknown>) {
    for (const column of ['id', 'expires_at', 'revoked_at'] as const) {
      await db.schema
        .alterTable('keel_approvers')
        .addColumn(column, column === 'id' ? 'text' : 'bigint')
        .execute();
    }
    await sql`update keel_approvers set id = 'apv_' || substr(token_hash, 1, 16)`.execute(db);
    const rows = await sql<{
      token_hash: string;
      name: string;
    }>`select token_hash, name from keel_approvers order by created_at, token_hash`.execute(db);
    const seen = new Set<string>();
    for (const row of rows.rows) {
      if (seen.has(row.name)) {
        await sql`update keel_approvers set name = ${`${row.name}-${row.token_hash.slice(0, 8)}`} where token_hash = ${row.token_hash}`.execute(
          db,
        );
      }
      seen.add(row.name);
    }
    await db.schema
      .createIndex('keel_approvers_name')
      .unique()
      .on('keel_approvers')
      .column('name')
      .execute();
    await db.schema
      .createIndex('keel_approvers_id')
      .unique()
      .on('keel_approvers')
      .column('id')
      .execute();
    await db.schema.alterTable('keel_approvals').addColumn('decided_by_id', 'text').execute();
    await db.schema.alterTable('keel_approval_decisions').addColumn('actor_id', 'text').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('keel_approval_decisions').dropColumn('actor_id').execute();
    await db.schema.alterTable('keel_approvals').dropColumn('decided_by_id').execute();
    await db.schema.dropIndex('keel_approvers_id').ifExists().execute();
    await db.schema.dropIndex('keel_approvers_name').ifExists().execute();
    for (const column of ['revoked_at', 'expires_at', 'id'])
      await db.schema.alterTable('keel_approvers').dropColumn(column).execute();
  },
};

/**
 * Migrations, in order. JSON lives in `text` columns on both engines and timestamps are
 * epoch milliseconds in `bigint`, so one query codebase serves SQLite and PostgreSQL.
 */
const migrations: Record<string, Migration> = {
  '0001_runs_and_events': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_runs')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('agent', 'text', (column) => column.notNull())
        .addColumn('task', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('reason', 'text')
        .addColumn('output', 'text')
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint', (column) => column.notNull().defaultTo(0))
        .addColumn('claims', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('cancel_requested', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('input_tokens', 'bigint', (column) => column.notNull().defaultTo(0))
        .addColumn('output_tokens', 'bigint', (column) => column.notNull().defaultTo(0))
        .addColumn('cost_usd', 'double precision', (column) => column.notNull().defaultTo(0))
        .addColumn('steps', 'integer', (column) => column.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('finished_at', 'bigint')
        .addColumn('schema_version', 'integer', (column) => column.notNull())
        .execute();
      await db.schema
        .createIndex('keel_runs_claimable')
        .ifNotExists()
        .on('keel_runs')
        .columns(['status', 'lease_until', 'created_at'])
        .execute();
      await db.schema
        .createIndex('keel_runs_created')
        .ifNotExists()
        .on('keel_runs')
        .column('created_at')
        .execute();
      await db.schema
        .createTable('keel_events')
        .ifNotExists()
        .addColumn('run_id', 'text', (column) => column.notNull())
        .addColumn('seq', 'integer', (column) => column.notNull())
        .addColumn('type', 'text', (column) => column.notNull())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .addColumn('schema_version', 'integer', (column) => column.notNull())
        .addColumn('data', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('keel_events_pk', ['run_id', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_events').ifExists().execute();
      await db.schema.dropTable('keel_runs').ifExists().execute();
      await sql`select 1`.execute(db);
    },
  },
  '0002_tool_breakers_cache_audit': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_tool_breakers')
        .ifNotExists()
        .addColumn('tool', 'text', (column) => column.primaryKey())
        .addColumn('state', 'text', (column) => column.notNull())
        .addColumn('failures', 'integer', (column) => column.notNull())
        .addColumn('until', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull())
        .addColumn('version', 'integer', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('keel_tool_cache')
        .ifNotExists()
        .addColumn('key', 'text', (column) => column.primaryKey())
        .addColumn('tool', 'text', (column) => column.notNull())
        .addColumn('value', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('keel_audit')
        .ifNotExists()
        .addColumn('seq', 'bigint', (column) => column.primaryKey())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('run_id', 'text')
        .addColumn('payload', 'text', (column) => column.notNull())
        .addColumn('prev_hash', 'text', (column) => column.notNull())
        .addColumn('hash', 'text', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_audit').ifExists().execute();
      await db.schema.dropTable('keel_tool_cache').ifExists().execute();
      await db.schema.dropTable('keel_tool_breakers').ifExists().execute();
    },
  },
  '0003_approvals': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_approvals')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('run_id', 'text', (column) => column.notNull())
        .addColumn('agent', 'text', (column) => column.notNull())
        .addColumn('step', 'integer', (column) => column.notNull())
        .addColumn('call_index', 'integer', (column) => column.notNull())
        .addColumn('call_id', 'text', (column) => column.notNull())
        .addColumn('tool_name', 'text', (column) => column.notNull())
        .addColumn('args', 'text', (column) => column.notNull())
        .addColumn('args_hash', 'text', (column) => column.notNull())
        .addColumn('gate_reason', 'text', (column) => column.notNull())
        .addColumn('approver_group', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull())
        .addColumn('on_expiry', 'text', (column) => column.notNull())
        .addColumn('state', 'text', (column) => column.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('decided_at', 'bigint')
        .addColumn('decision_reason', 'text')
        .addColumn('edited_args', 'text')
        .addColumn('escalated_from', 'text')
        .addColumn('notified_at', 'bigint')
        .addColumn('schema_version', 'integer', (column) => column.notNull())
        .execute();
      await db.schema
        .createIndex('keel_approvals_due')
        .ifNotExists()
        .on('keel_approvals')
        .columns(['state', 'expires_at'])
        .execute();
      await db.schema
        .createIndex('keel_approvals_run')
        .ifNotExists()
        .on('keel_approvals')
        .columns(['run_id', 'step', 'call_index'])
        .execute();
      await db.schema
        .createTable('keel_approvers')
        .ifNotExists()
        .addColumn('token_hash', 'text', (column) => column.primaryKey())
        .addColumn('name', 'text', (column) => column.notNull())
        .addColumn('groups', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .execute();
      await db.schema
        .createTable('keel_approval_decisions')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('approval_id', 'text', (column) => column.notNull())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .addColumn('actor', 'text', (column) => column.notNull())
        .addColumn('decision', 'text', (column) => column.notNull())
        .addColumn('outcome', 'text', (column) => column.notNull())
        .addColumn('error_code', 'text')
        .addColumn('reason', 'text')
        .addColumn('args_hash', 'text')
        .execute();
      await db.schema
        .createIndex('keel_approval_decisions_approval')
        .ifNotExists()
        .on('keel_approval_decisions')
        .columns(['approval_id', 'at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_approval_decisions').ifExists().execute();
      await db.schema.dropTable('keel_approvers').ifExists().execute();
      await db.schema.dropTable('keel_approvals').ifExists().execute();
    },
  },
  '0004_context_results': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_context_results')
        .ifNotExists()
        .addColumn('run_id', 'text', (column) => column.notNull())
        .addColumn('ref', 'text', (column) => column.notNull())
        .addColumn('step', 'integer', (column) => column.notNull())
        .addColumn('call_id', 'text', (column) => column.notNull())
        .addColumn('tool_name', 'text', (column) => column.notNull())
        .addColumn('content', 'text', (column) => column.notNull())
        .addColumn('trust', 'text', (column) => column.notNull())
        .addColumn('source', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('keel_context_results_pk', ['run_id', 'ref'])
        .execute();
      // The one place the engines differ: each indexes the text with its own full-text search.
      if (db.getExecutor().adapter.supportsTransactionalDdl) {
        await sql`alter table keel_context_results add column search tsvector generated always as (to_tsvector('simple', content)) stored`.execute(
          db,
        );
        await sql`create index if not exists keel_context_results_search on keel_context_results using gin (search)`.execute(
          db,
        );
      } else {
        // External-content FTS5 over the table's rowid: the text is stored once.
        await sql`create virtual table if not exists keel_context_results_fts using fts5(content, content='keel_context_results', tokenize='unicode61')`.execute(
          db,
        );
        await sql`create trigger if not exists keel_context_results_ai after insert on keel_context_results begin insert into keel_context_results_fts(rowid, content) values (new.rowid, new.content); end`.execute(
          db,
        );
        await sql`create trigger if not exists keel_context_results_ad after delete on keel_context_results begin insert into keel_context_results_fts(keel_context_results_fts, rowid, content) values ('delete', old.rowid, old.content); end`.execute(
          db,
        );
      }
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table if exists keel_context_results_fts`.execute(db);
      await db.schema.dropTable('keel_context_results').ifExists().execute();
    },
  },
  '0005_run_prices': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_run_prices')
        .ifNotExists()
        .addColumn('run_id', 'text', (column) => column.primaryKey())
        .addColumn('cost_usd', 'double precision')
        .addColumn('priced_calls', 'integer', (column) => column.notNull())
        .addColumn('unpriced_calls', 'integer', (column) => column.notNull())
        .addColumn('priced_at', 'bigint', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_run_prices').ifExists().execute();
    },
  },
  '0007_decisions': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_decisions')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('status', 'text', (column) => column.notNull())
        .addColumn('instructions', 'text', (column) => column.notNull())
        .addColumn('input', 'text', (column) => column.notNull())
        .addColumn('value', 'text', (column) => column.notNull())
        .addColumn('confidence', 'double precision', (column) => column.notNull())
        .addColumn('reason', 'text')
        .addColumn('choices', 'text')
        .addColumn('cache_key', 'text')
        .addColumn('run_id', 'text')
        .addColumn('started_run_id', 'text')
        .addColumn('on_resolve', 'text', (column) => column.notNull())
        .addColumn('events', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('decided_at', 'bigint')
        .addColumn('decided_by', 'text')
        .addColumn('schema_version', 'integer', (column) => column.notNull())
        .execute();
      await db.schema
        .createIndex('keel_decisions_status')
        .ifNotExists()
        .on('keel_decisions')
        .columns(['status', 'created_at'])
        .execute();
      await db.schema
        .createIndex('keel_decisions_cache')
        .ifNotExists()
        .on('keel_decisions')
        .columns(['cache_key', 'created_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_decisions').ifExists().execute();
    },
  },
  '0008_run_browser': runBrowserMigration,
  '0009_approver_roles': approverRolesMigration,
  '0010_mcp_pins': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_mcp_pins')
        .ifNotExists()
        .addColumn('server', 'text', (column) => column.notNull())
        .addColumn('tool', 'text', (column) => column.notNull())
        .addColumn('pinned_fingerprint', 'text')
        .addColumn('pinned_definition', 'text')
        .addColumn('pinned_by', 'text')
        .addColumn('pinned_at', 'bigint')
        .addColumn('pending_fingerprint', 'text')
        .addColumn('pending_definition', 'text')
        .addColumn('pending_at', 'bigint')
        .addColumn('schema_version', 'integer', (column) => column.notNull())
        .addPrimaryKeyConstraint('keel_mcp_pins_pk', ['server', 'tool'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_mcp_pins').ifExists().execute();
    },
  },
  '0011_context_results_words': {
    // PostgreSQL's parser keeps `PR-12` as `pr` and `-12`, `v2.1` and `3.5` whole, `a7/b3` as a
    // path: identifiers a search spells `pr 12` or `v2` went unfound. Punctuation now splits
    // words before parsing, as FTS5's tokenizer (and the search) always did. The text's length,
    // which ranking reads, is kept too: reading it from the text would unpack every stored
    // result a search touches. SQLite is unchanged.
    async up(db: Kysely<unknown>) {
      if (!db.getExecutor().adapter.supportsTransactionalDdl) return;
      await sql`alter table keel_context_results add column if not exists content_chars integer generated always as (length(content)) stored`.execute(
        db,
      );
      await sql`alter table keel_context_results drop column if exists search`.execute(db);
      await sql`alter table keel_context_results add column search tsvector generated always as (to_tsvector('simple', translate(content, ${sql.lit(ASCII_PUNCTUATION)}, ${sql.lit(' '.repeat(ASCII_PUNCTUATION.length))}))) stored`.execute(
        db,
      );
      await sql`create index if not exists keel_context_results_search on keel_context_results using gin (search)`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>) {
      if (!db.getExecutor().adapter.supportsTransactionalDdl) return;
      await sql`alter table keel_context_results drop column if exists content_chars`.execute(db);
      await sql`alter table keel_context_results drop column if exists search`.execute(db);
      await sql`alter table keel_context_results add column search tsvector generated always as (to_tsvector('simple', content)) stored`.execute(
        db,
      );
      await sql`create index if not exists keel_context_results_search on keel_context_results using gin (search)`.execute(
        db,
      );
    },
  },
  '0012_eval_runs': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_eval_runs')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('suite', 'text', (column) => column.notNull())
        .addColumn('sources', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('passed', 'integer', (column) => column.notNull())
        .addColumn('failed', 'integer', (column) => column.notNull())
        .addColumn('k', 'integer', (column) => column.notNull())
        .addColumn('pass_at_1', 'double precision', (column) => column.notNull())
        .addColumn('pass_hat_k', 'double precision', (column) => column.notNull())
        .addColumn('cost_usd', 'double precision', (column) => column.notNull())
        .addColumn('duration_ms', 'bigint', (column) => column.notNull())
        .addColumn('rescore_of', 'text')
        .addColumn('report', 'text', (column) => column.notNull())
        .execute();
      await db.schema
        .createIndex('keel_eval_runs_suite')
        .ifNotExists()
        .on('keel_eval_runs')
        .columns(['suite', 'created_at'])
        .execute();
      await db.schema
        .createTable('keel_eval_attempts')
        .ifNotExists()
        .addColumn('eval_run_id', 'text', (column) =>
          column.notNull().references('keel_eval_runs.id').onDelete('cascade'),
        )
        .addColumn('case_name', 'text', (column) => column.notNull())
        .addColumn('attempt', 'integer', (column) => column.notNull())
        .addColumn('run_id', 'text', (column) => column.notNull())
        .addColumn('passed', 'integer', (column) => column.notNull())
        .addColumn('result', 'text', (column) => column.notNull())
        .addColumn('journal', 'text', (column) => column.notNull())
        .addPrimaryKeyConstraint('keel_eval_attempts_pk', ['eval_run_id', 'case_name', 'attempt'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_eval_attempts').ifExists().execute();
      await db.schema.dropTable('keel_eval_runs').ifExists().execute();
    },
  },
  '0013_shadow_and_versions': {
    // Agent versions and shadow runs on the runs table (older rows keep null: unknown version,
    // production run), the shadows' configurations and their pairs of runs.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keel_runs').addColumn('agent_version', 'text').execute();
      await db.schema.alterTable('keel_runs').addColumn('shadow_of', 'text').execute();
      await db.schema
        .createIndex('keel_runs_shadow_of')
        .ifNotExists()
        .on('keel_runs')
        .column('shadow_of')
        .execute();
      await db.schema
        .createTable('keel_shadows')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('agent', 'text', (column) => column.notNull())
        .addColumn('candidate_version', 'text', (column) => column.notNull())
        .addColumn('candidate_module', 'text')
        .addColumn('share', 'double precision', (column) => column.notNull())
        .addColumn('max_concurrent', 'integer', (column) => column.notNull())
        .addColumn('max_cost_usd', 'double precision')
        .addColumn('allow_live_reads', 'integer', (column) => column.notNull())
        .addColumn('started_at', 'bigint', (column) => column.notNull())
        .addColumn('stopped_at', 'bigint')
        .addColumn('stop_reason', 'text')
        .execute();
      await db.schema
        .createTable('keel_shadow_pairs')
        .ifNotExists()
        .addColumn('shadow_id', 'text', (column) =>
          column.notNull().references('keel_shadows.id').onDelete('cascade'),
        )
        .addColumn('run_id', 'text', (column) => column.notNull())
        .addColumn('candidate_run_id', 'text', (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addPrimaryKeyConstraint('keel_shadow_pairs_pk', ['shadow_id', 'run_id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_shadow_pairs').ifExists().execute();
      await db.schema.dropTable('keel_shadows').ifExists().execute();
      await db.schema.dropIndex('keel_runs_shadow_of').ifExists().execute();
      await db.schema.alterTable('keel_runs').dropColumn('shadow_of').execute();
      await db.schema.alterTable('keel_runs').dropColumn('agent_version').execute();
    },
  },
  '0014_provider_budgets': {
    // Shared pacing of a model provider's requests and tokens per minute across workers. Times
    // are fractional milliseconds: a 6,000-RPM budget spaces requests 10 ms apart exactly.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_provider_budgets')
        .ifNotExists()
        .addColumn('key', 'text', (column) => column.primaryKey())
        .addColumn('next_request_at', 'double precision', (column) => column.notNull())
        .addColumn('next_token_at', 'double precision', (column) => column.notNull())
        .addColumn('paused_until', 'double precision', (column) => column.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('keel_provider_budgets').ifExists().execute();
    },
  },
  '0016_approver_lifecycle': approverLifecycleMigration,
  '0018_edited_input': {
    // An approver's edit as the call runs with it, secrets included; `edited_args` keeps what
    // people are shown (secrets as digests), like `args`.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('keel_approvals').addColumn('edited_input', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('keel_approvals').dropColumn('edited_input').execute();
    },
  },
  '0017_audit_checkpoints': {
    // Heads of the audit chain, signed with the audit key when there is one: `keel audit
    // verify` checks the rows still match them, and a pruned prefix starts from one.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('keel_audit_checkpoints')
        .ifNotExists()
        .addColumn('id', 'text', (column) => column.primaryKey())
        .addColumn('kind', 'text', (column) => column.notNull())
        .addColumn('seq', 'bigint', (column) => column.notNull())
        .addColumn('head_hash', 'text', (column) => column.notNull())
        .addColumn('at', 'bigint', (column) => column.notNull())
        .addColumn('signature', 'text')
        .execute();
      // Retention selects finished runs by when they finished.
      await db.schema
        .createIndex('keel_runs_finished')
        .ifNotExists()
        .on('keel_runs')
        .columns(['finished_at'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('keel_runs_finished').ifExists().execute();
      await db.schema.dropTable('keel_audit_checkpoints').ifExists().execute();
    },
  },
  '0015_journal_notify': {
    // PostgreSQL tells listeners which runs' journals grew (channel `keel_run_events`, payload
    // the run id), whichever path appended: a stream served by one process follows a run
    // executed by another without polling. One notification per run and transaction; SQLite
    // readers poll instead.
    async up(db: Kysely<unknown>) {
      if (!db.getExecutor().adapter.supportsTransactionalDdl) return;
      await sql`create or replace function keel_notify_run_events() returns trigger language plpgsql as $$ begin perform pg_notify('keel_run_events', run_id) from (select distinct run_id from keel_new_events) as grown; return null; end $$`.execute(
        db,
      );
      await sql`drop trigger if exists keel_events_notify on keel_events`.execute(db);
      await sql`create trigger keel_events_notify after insert on keel_events referencing new table as keel_new_events for each statement execute function keel_notify_run_events()`.execute(
        db,
      );
    },
    async down(db: Kysely<unknown>) {
      if (!db.getExecutor().adapter.supportsTransactionalDdl) return;
      await sql`drop trigger if exists keel_events_notify on keel_events`.execute(db);
      await sql`drop function if exists keel_notify_run_events()`.execute(db);
    },
  },
};

/** The characters `0011_context_results_words` turns into spaces before PostgreSQL parses. */
const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** Every migration's name, in order: a store whose bookkeeping lists exactly these is current. */
export const MIGRATION_NAMES: readonly string[] = Object.freeze(Object.keys(migrations).sort());

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
