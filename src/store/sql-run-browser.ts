import { sql, type Expression, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { enginePieces } from './hot-statements.js';
import { parseEvent, toRecord } from './rows.js';
import { searchTerms } from './result-store.js';
import {
  RUN_LIST_DEFAULT_LIMIT,
  RUN_LIST_MAX_LIMIT,
  type RunBrowser,
  type RunListPage,
  type RunListQuery,
} from './run-browser.js';
import { POSTGRES_RUN_SEARCH_DOCUMENT, type Database } from './schema.js';
import type { StoredEvent } from '../journal/index.js';

/** Runs' derived column (migration 0008): not part of the write paths' row type. */
type BrowseDatabase = Database & { keel_runs: { reason_type: string | null } };

/** Ids per `in (...)` list on PostgreSQL: under its bound-parameter limit. */
const ID_CHUNK = 500;
/** Below this many matching runs, a SQLite search reads the matches first. */
const FEW_MATCHES = 500;
/** Search words used at most (the rest are ignored). */
const MAX_SEARCH_WORDS = 8;

/** The `RunBrowser` over Kysely: one query for both engines except the full-text match. */
export class SqlRunBrowser implements RunBrowser {
  readonly #db: Kysely<BrowseDatabase>;
  readonly #kind: 'sqlite' | 'postgres';
  readonly #guarded: <T>(work: () => Promise<T>) => Promise<T>;
  readonly #location: string;

  constructor(options: {
    db: Kysely<Database>;
    kind: 'sqlite' | 'postgres';
    location: string;
    guarded: <T>(work: () => Promise<T>) => Promise<T>;
  }) {
    this.#db = options.db.withTables<{ keel_runs: { reason_type: string | null } }>();
    this.#kind = options.kind;
    this.#location = options.location;
    this.#guarded = options.guarded;
  }

  async list(query: RunListQuery = {}): Promise<RunListPage> {
    const limit = Math.min(
      RUN_LIST_MAX_LIMIT,
      Math.max(1, Math.floor(query.limit ?? RUN_LIST_DEFAULT_LIMIT)),
    );
    if (query.visibleAgents?.length === 0) return { items: [], next: null };
    const words = [
      ...new Set(
        searchTerms(query.search === undefined ? [] : [query.search]).flatMap((term) => term.words),
      ),
    ].slice(0, MAX_SEARCH_WORDS);
    const match = words.map((word) => `"${word}"`).join(' ');
    // SQLite: a search matching few runs reads them and sorts them; one matching many walks the
    // runs newest first and checks each against the index (the unary `+` keeps the planner
    // from driving the query by the matches).
    const fewMatches =
      this.#kind === 'sqlite' &&
      words.length > 0 &&
      (await this.#few(sql`select rowid from keel_runs_fts where keel_runs_fts match ${match}`));
    // SQLite: a cost threshold few runs pass reads them by the cost index and sorts them; one
    // many pass walks the runs newest first (without statistics the planner cannot tell).
    const fewCostly =
      this.#kind === 'sqlite' &&
      query.costAbove !== undefined &&
      (await this.#few(sql`select 1 from keel_runs where cost_usd > ${query.costAbove}`));
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_runs')
        .selectAll()
        .where((eb) => {
          const conditions: Expression<SqlBool>[] = [];
          if (query.visibleAgents) conditions.push(eb('agent', 'in', [...query.visibleAgents]));
          if (query.agent !== undefined) conditions.push(eb('agent', '=', query.agent));
          if (query.version !== undefined) conditions.push(eb('agent_version', '=', query.version));
          if (query.shadows === 'exclude') conditions.push(eb('shadow_of', 'is', null));
          if (query.shadows === 'only') conditions.push(eb('shadow_of', 'is not', null));
          if (query.statuses && query.statuses.length > 0)
            conditions.push(eb('status', 'in', [...query.statuses]));
          if (query.reasonTypes && query.reasonTypes.length > 0)
            conditions.push(eb('reason_type', 'in', [...query.reasonTypes]));
          if (query.createdFrom !== undefined)
            conditions.push(eb('created_at', '>=', query.createdFrom));
          if (query.createdBefore !== undefined)
            conditions.push(eb('created_at', '<', query.createdBefore));
          if (query.costAbove !== undefined) conditions.push(eb('cost_usd', '>', query.costAbove));
          if (query.hasApprovals !== undefined) {
            const approvals = eb
              .selectFrom('keel_approvals')
              .select(sql<number>`1`.as('one'))
              .whereRef('keel_approvals.run_id', '=', 'keel_runs.id');
            conditions.push(
              query.hasApprovals ? eb.exists(approvals) : eb.not(eb.exists(approvals)),
            );
          }
          if (words.length > 0 && this.#kind === 'sqlite') {
            const matches = sql`(select rowid from keel_runs_fts where keel_runs_fts match ${match})`;
            conditions.push(
              fewMatches
                ? sql<SqlBool>`keel_runs.rowid in ${matches}`
                : sql<SqlBool>`+keel_runs.rowid in ${matches}`,
            );
          } else if (words.length > 0) {
            const tsquery = words.join(' & ');
            conditions.push(
              sql<SqlBool>`${POSTGRES_RUN_SEARCH_DOCUMENT} @@ to_tsquery('simple', ${tsquery})`,
            );
          }
          if (query.after) {
            const { createdAt, id } = query.after;
            conditions.push(
              eb.and([
                eb('created_at', '<=', createdAt),
                eb.or([eb('created_at', '<', createdAt), eb('id', '<', id)]),
              ]),
            );
          }
          return eb.and(conditions);
        })
        .orderBy(fewCostly ? sql`+created_at` : sql.ref('created_at'), 'desc')
        .orderBy('id', 'desc')
        .limit(limit + 1)
        .execute(),
    );
    const page = rows.slice(0, limit);
    const counts = await this.#approvalCounts(page.map((row) => row.id));
    const last = page.at(-1);
    return {
      items: page.map((row) => ({
        run: toRecord(row),
        approvals: counts.get(row.id)?.total ?? 0,
        pendingApprovals: counts.get(row.id)?.pending ?? 0,
      })),
      next: rows.length > limit && last ? { createdAt: last.created_at, id: last.id } : null,
    };
  }

  async readJournals(
    runIds: readonly string[],
    { types }: { types?: readonly string[] | undefined } = {},
  ): Promise<Map<string, StoredEvent[]>> {
    const journals = new Map<string, StoredEvent[]>();
    // In pieces on SQLite, so it keeps few shapes of the statement prepared.
    for (const chunk of enginePieces(this.#kind, runIds, ID_CHUNK)) {
      const rows = await this.#guarded(() => {
        let query = this.#db
          .selectFrom('keel_events')
          .selectAll()
          .where('run_id', 'in', chunk)
          .orderBy('run_id')
          .orderBy('seq');
        if (types) query = query.where('type', 'in', types.length > 0 ? [...types] : ['']);
        return query.execute();
      });
      for (const row of rows) {
        let journal = journals.get(row.run_id);
        if (!journal) journals.set(row.run_id, (journal = []));
        journal.push({
          runId: row.run_id,
          seq: row.seq,
          at: row.at,
          schemaVersion: row.schema_version,
          event: parseEvent(row.data, row.schema_version, this.#location, row.run_id, row.seq),
        });
      }
    }
    return journals;
  }

  /** Whether `rows` (a select) has fewer than `FEW_MATCHES` rows, counting no further. */
  async #few(rows: RawBuilder<unknown>): Promise<boolean> {
    const result = await this.#guarded(() =>
      sql<{ found: number }>`select count(*) as found from (${rows} limit ${FEW_MATCHES})`.execute(
        this.#db,
      ),
    );
    return (result.rows[0]?.found ?? 0) < FEW_MATCHES;
  }

  async #approvalCounts(
    runIds: readonly string[],
  ): Promise<Map<string, { total: number; pending: number }>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_approvals')
        .select((eb) => [
          'run_id',
          eb.fn.countAll<number | string>().as('total'),
          eb.fn
            .sum<number | string>(eb.case().when('state', '=', 'pending').then(1).else(0).end())
            .as('pending'),
        ])
        .where('run_id', 'in', [...runIds])
        .groupBy('run_id')
        .execute(),
    );
    return new Map(
      rows.map((row) => [row.run_id, { total: Number(row.total), pending: Number(row.pending) }]),
    );
  }
}
