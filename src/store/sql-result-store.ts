import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import type { Trust } from '../core/index.js';
import { enginePieces } from './hot-statements.js';
import type { ContextResultsTable, Database } from './schema.js';
import type { SqlContext } from './sql-context.js';
import {
  searchTerms,
  type ResultStore,
  type SearchTerm,
  type StoredToolResult,
  type ToolResultMatch,
  type ToolResultSearch,
} from './result-store.js';

/** Rows per insert on PostgreSQL: well under its bound-parameter limit (9 columns a row). */
const POSTGRES_ROWS = 100;

/** The `ResultStore` over Kysely: FTS5 on SQLite, `tsvector` on PostgreSQL. */
export class SqlResultStore implements ResultStore {
  readonly #db: Kysely<Database>;
  readonly #kind: 'sqlite' | 'postgres';
  readonly #guarded: SqlContext['guarded'];
  readonly #transaction: SqlContext['transaction'];

  constructor(context: Pick<SqlContext, 'db' | 'kind' | 'guarded' | 'transaction'>) {
    this.#db = context.db;
    this.#kind = context.kind;
    this.#guarded = context.guarded;
    this.#transaction = context.transaction;
  }

  async put(results: readonly StoredToolResult[]): Promise<void> {
    // In the pieces the journal's inserts take (so SQLite keeps few shapes of it prepared),
    // in one transaction: all of them or none.
    const pieces = enginePieces(this.#kind, results.map(toRow), POSTGRES_ROWS);
    const insert = (db: Kysely<Database>, rows: ContextResultsTable[]) =>
      db
        .insertInto('keel_context_results')
        .values(rows)
        .onConflict((conflict) => conflict.columns(['run_id', 'ref']).doNothing())
        .execute();
    const [first] = pieces;
    if (pieces.length === 1 && first) await this.#guarded(() => insert(this.#db, first));
    else if (pieces.length > 1) {
      await this.#transaction(async (db) => {
        for (const piece of pieces) await insert(db, piece);
      });
    }
  }

  async search({ runId, terms, limit = 20 }: ToolResultSearch): Promise<ToolResultMatch[]> {
    const searched = searchTerms(terms);
    if (searched.length === 0 || limit <= 0) return [];
    const rows = await this.#guarded(() =>
      this.#kind === 'sqlite'
        ? this.#searchSqlite(runId, searched, limit)
        : this.#searchPostgres(runId, searched, limit),
    );
    return rows.map((row) => ({ ...toStored(row), rank: asNumber(row.rank) }));
  }

  async get(runId: string, ref: string): Promise<StoredToolResult | undefined> {
    const row = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_context_results')
        .selectAll()
        .where('run_id', '=', runId)
        .where('ref', '=', ref)
        .executeTakeFirst(),
    );
    return row ? toStored(row) : undefined;
  }

  async #searchSqlite(
    runId: string,
    terms: readonly SearchTerm[],
    limit: number,
  ): Promise<(Selectable<ContextResultsTable> & { rank: number })[]> {
    // Quoted: each term is a plain phrase to FTS5, never an operator.
    const queries = JSON.stringify(
      terms.map((term, at) => [at, `"${term.words.join(' ')}"`, term.weight]),
    );
    const { rows } = await sql<Selectable<ContextResultsTable> & { rank: number }>`
      with terms(term, query, weight) as (
        select json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')
        from json_each(${queries})
      ),
      -- CROSS JOIN fixes the order: each term's full-text lookup first, then its rows.
      hits as materialized (
        select t.term, t.weight, r.ref
        from terms t
        cross join keel_context_results_fts
        cross join keel_context_results r
        where keel_context_results_fts match t.query
          and r.rowid = keel_context_results_fts.rowid and r.run_id = ${runId}
      ),
      ${ranked(runId, limit, sql`length(r.content)`)}`.execute(this.#db);
    return rows;
  }

  async #searchPostgres(
    runId: string,
    terms: readonly SearchTerm[],
    limit: number,
  ): Promise<(Selectable<ContextResultsTable> & { rank: number })[]> {
    // Only letters and digits reach the query text (see `searchTerms`).
    const queries = JSON.stringify(
      terms.map((term, at) => [at, term.words.join(' <-> '), term.weight]),
    );
    const { rows } = await sql<Selectable<ContextResultsTable> & { rank: number }>`
      with terms as (
        select (value->>0)::int as term, to_tsquery('simple', value->>1) as query,
          (value->>2)::float8 as weight
        from jsonb_array_elements(${queries}::jsonb)
      ),
      hits as materialized (
        select t.term, t.weight, r.ref
        from terms t join keel_context_results r on r.search @@ t.query
        where r.run_id = ${runId}
      ),
      ${ranked(runId, limit, sql`r.content_chars`)}`.execute(this.#db);
    return rows;
  }
}

/**
 * The part both engines share, after each found its `hits(term, weight, ref)`: every hit adds
 * weight × idf, where idf = ln(1 + (N - n + 0.5) / (n + 0.5)) over the run's N results of which
 * n hold the term (BM25's, never negative); ties go to more terms held, then the shorter text
 * (`length`), then the later step. The terms travel as one JSON parameter, so the statement
 * text is the same for every search.
 */
function ranked(runId: string, limit: number, length: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`documents(n) as (
        select cast(count(*) as double precision) from keel_context_results where run_id = ${runId}
      ),
      frequencies as (
        select term, cast(count(*) as double precision) as n from hits group by term
      ),
      scored as (
        select h.ref, count(*) as matched,
          sum(h.weight * ln(1 + (d.n - f.n + 0.5) / (f.n + 0.5))) as rank
        from hits h join frequencies f on f.term = h.term cross join documents d
        group by h.ref
      )
      select r.run_id, r.ref, r.step, r.call_id, r.tool_name, r.content, r.trust, r.source,
        r.created_at, s.rank
      from scored s join keel_context_results r on r.run_id = ${runId} and r.ref = s.ref
      order by s.rank desc, s.matched desc, ${length}, r.step desc, r.ref desc
      limit ${limit}`;
}

function toRow(result: StoredToolResult): ContextResultsTable {
  return {
    run_id: result.runId,
    ref: result.ref,
    step: result.step,
    call_id: result.callId,
    tool_name: result.toolName,
    content: result.content,
    trust: result.trust,
    source: result.source,
    created_at: result.createdAt,
  };
}

function toStored(row: Selectable<ContextResultsTable>): StoredToolResult {
  return {
    runId: row.run_id,
    ref: row.ref,
    step: asNumber(row.step),
    callId: row.call_id,
    toolName: row.tool_name,
    content: row.content,
    // Anything but an explicit `trusted` reads back as untrusted: a label never upgrades.
    trust: (row.trust === 'trusted' ? 'trusted' : 'untrusted') satisfies Trust,
    source: row.source,
    createdAt: asNumber(row.created_at),
  };
}

/** Drivers may hand back numeric columns as strings (PostgreSQL `bigint`, `real`). */
function asNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
