import { sql, type Kysely, type Selectable } from 'kysely';
import type { Trust } from '../core/index.js';
import type { ContextResultsTable, Database } from './schema.js';
import {
  searchWords,
  type ResultStore,
  type StoredToolResult,
  type ToolResultMatch,
  type ToolResultSearch,
} from './result-store.js';

/** Rows per insert: well under both engines' bound-parameter limits (9 columns a row). */
const INSERT_CHUNK = 100;

/** The `ResultStore` over Kysely: FTS5 on SQLite, `tsvector` on PostgreSQL. */
export class SqlResultStore implements ResultStore {
  readonly #db: Kysely<Database>;
  readonly #kind: 'sqlite' | 'postgres';
  readonly #guarded: <T>(work: () => Promise<T>) => Promise<T>;

  constructor(options: {
    db: Kysely<Database>;
    kind: 'sqlite' | 'postgres';
    guarded: <T>(work: () => Promise<T>) => Promise<T>;
  }) {
    this.#db = options.db;
    this.#kind = options.kind;
    this.#guarded = options.guarded;
  }

  async put(results: readonly StoredToolResult[]): Promise<void> {
    for (let at = 0; at < results.length; at += INSERT_CHUNK) {
      const rows = results.slice(at, at + INSERT_CHUNK).map(toRow);
      await this.#guarded(() =>
        this.#db
          .insertInto('keel_context_results')
          .values(rows)
          .onConflict((conflict) => conflict.columns(['run_id', 'ref']).doNothing())
          .execute(),
      );
    }
  }

  async search({ runId, terms, limit = 20 }: ToolResultSearch): Promise<ToolResultMatch[]> {
    const words = searchWords(terms);
    if (words.length === 0 || limit <= 0) return [];
    const rows = await this.#guarded(() =>
      this.#kind === 'sqlite'
        ? this.#searchSqlite(runId, words, limit)
        : this.#searchPostgres(runId, words, limit),
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
    words: readonly string[],
    limit: number,
  ): Promise<(Selectable<ContextResultsTable> & { rank: number })[]> {
    // Quoted: every word is a plain term to FTS5, never an operator. BM25 is lower-is-better.
    const match = words.map((word) => `"${word}"`).join(' OR ');
    const { rows } = await sql<Selectable<ContextResultsTable> & { rank: number }>`
      select r.run_id, r.ref, r.step, r.call_id, r.tool_name, r.content, r.trust, r.source,
        r.created_at, -bm25(keel_context_results_fts) as rank
      from keel_context_results_fts
      join keel_context_results r on r.rowid = keel_context_results_fts.rowid
      where keel_context_results_fts match ${match} and r.run_id = ${runId}
      order by rank desc, r.step desc, r.ref desc
      limit ${limit}`.execute(this.#db);
    return rows;
  }

  async #searchPostgres(
    runId: string,
    words: readonly string[],
    limit: number,
  ): Promise<(Selectable<ContextResultsTable> & { rank: number })[]> {
    // Only letters and digits reach the query text (see `searchWords`).
    const query = words.join(' | ');
    const { rows } = await sql<Selectable<ContextResultsTable> & { rank: number }>`
      select run_id, ref, step, call_id, tool_name, content, trust, source, created_at,
        ts_rank(search, to_tsquery('simple', ${query})) as rank
      from keel_context_results
      where run_id = ${runId} and search @@ to_tsquery('simple', ${query})
      order by rank desc, step desc, ref desc
      limit ${limit}`.execute(this.#db);
    return rows;
  }
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
