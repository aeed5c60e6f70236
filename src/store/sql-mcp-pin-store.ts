import { sql, type Kysely, type Selectable } from 'kysely';
import type { McpDefinitionEntry, McpPinRecord, McpPinStore } from './mcp-pin-store.js';
import type { Database, McpPinsTable } from './schema.js';
import { STORE_SCHEMA_VERSION } from './store.js';

/** The `McpPinStore` over Kysely, sharing the run store's connections. */
export class SqlMcpPinStore implements McpPinStore {
  readonly #db: Kysely<Database>;
  readonly #guarded: <T>(work: () => Promise<T>) => Promise<T>;

  constructor(options: {
    db: Kysely<Database>;
    guarded: <T>(work: () => Promise<T>) => Promise<T>;
  }) {
    this.#db = options.db;
    this.#guarded = options.guarded;
  }

  async list(options: { readonly server?: string } = {}): Promise<McpPinRecord[]> {
    const rows = await this.#guarded(() => {
      let query = this.#db.selectFrom('keel_mcp_pins').selectAll();
      if (options.server !== undefined) query = query.where('server', '=', options.server);
      return query.orderBy('server').orderBy('tool').execute();
    });
    return rows.map(toRecord);
  }

  async pin(
    entry: McpDefinitionEntry & { readonly by: string; readonly onlyIfUnpinned?: boolean },
  ): Promise<boolean> {
    const row: McpPinsTable = {
      ...emptyRow(entry),
      pinned_fingerprint: entry.fingerprint,
      pinned_definition: JSON.stringify(entry.definition ?? null),
      pinned_by: entry.by,
      pinned_at: entry.at,
    };
    // A waiting definition the new pin matches is settled by it; any other keeps waiting.
    const settled = sql<boolean>`keel_mcp_pins.pending_fingerprint = excluded.pinned_fingerprint`;
    const result = await this.#guarded(() =>
      this.#db
        .insertInto('keel_mcp_pins')
        .values(row)
        .onConflict((conflict) => {
          const update = conflict.columns(['server', 'tool']).doUpdateSet((eb) => ({
            pinned_fingerprint: eb.ref('excluded.pinned_fingerprint'),
            pinned_definition: eb.ref('excluded.pinned_definition'),
            pinned_by: eb.ref('excluded.pinned_by'),
            pinned_at: eb.ref('excluded.pinned_at'),
            pending_fingerprint: sql`case when ${settled} then null else keel_mcp_pins.pending_fingerprint end`,
            pending_definition: sql`case when ${settled} then null else keel_mcp_pins.pending_definition end`,
            pending_at: sql`case when ${settled} then null else keel_mcp_pins.pending_at end`,
            schema_version: eb.ref('excluded.schema_version'),
          }));
          return entry.onlyIfUnpinned
            ? update.where('keel_mcp_pins.pinned_fingerprint', 'is', null)
            : update;
        })
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async recordPending(entry: McpDefinitionEntry): Promise<boolean> {
    const row: McpPinsTable = {
      ...emptyRow(entry),
      pending_fingerprint: entry.fingerprint,
      pending_definition: JSON.stringify(entry.definition ?? null),
      pending_at: entry.at,
    };
    const result = await this.#guarded(() =>
      this.#db
        .insertInto('keel_mcp_pins')
        .values(row)
        .onConflict((conflict) =>
          conflict
            .columns(['server', 'tool'])
            .doUpdateSet((eb) => ({
              pending_fingerprint: eb.ref('excluded.pending_fingerprint'),
              pending_definition: eb.ref('excluded.pending_definition'),
              pending_at: eb.ref('excluded.pending_at'),
            }))
            // Already waiting with this fingerprint, or it is the pin: nothing new to tell.
            .where(
              sql<boolean>`(keel_mcp_pins.pending_fingerprint is null or keel_mcp_pins.pending_fingerprint <> excluded.pending_fingerprint)`,
            )
            .where(
              sql<boolean>`(keel_mcp_pins.pinned_fingerprint is null or keel_mcp_pins.pinned_fingerprint <> excluded.pending_fingerprint)`,
            ),
        )
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async approve(options: {
    readonly server: string;
    readonly tool: string;
    readonly fingerprint: string;
    readonly by: string;
    readonly at: number;
  }): Promise<McpPinRecord | undefined> {
    // Compare-and-set on the waiting fingerprint: a definition that changed again since it was
    // reviewed is not approved.
    const result = await this.#guarded(() =>
      this.#db
        .updateTable('keel_mcp_pins')
        .set((eb) => ({
          pinned_fingerprint: eb.ref('pending_fingerprint'),
          pinned_definition: eb.ref('pending_definition'),
          pinned_by: options.by,
          pinned_at: options.at,
          pending_fingerprint: null,
          pending_definition: null,
          pending_at: null,
        }))
        .where('server', '=', options.server)
        .where('tool', '=', options.tool)
        .where('pending_fingerprint', '=', options.fingerprint)
        .executeTakeFirst(),
    );
    if (Number(result.numUpdatedRows) === 0) return undefined;
    const row = await this.#guarded(() =>
      this.#db
        .selectFrom('keel_mcp_pins')
        .selectAll()
        .where('server', '=', options.server)
        .where('tool', '=', options.tool)
        .executeTakeFirst(),
    );
    return row ? toRecord(row) : undefined;
  }
}

function emptyRow({ server, tool }: { server: string; tool: string }): McpPinsTable {
  return {
    server,
    tool,
    pinned_fingerprint: null,
    pinned_definition: null,
    pinned_by: null,
    pinned_at: null,
    pending_fingerprint: null,
    pending_definition: null,
    pending_at: null,
    schema_version: STORE_SCHEMA_VERSION,
  };
}

function toRecord(row: Selectable<McpPinsTable>): McpPinRecord {
  return {
    server: row.server,
    tool: row.tool,
    pinned:
      row.pinned_fingerprint === null
        ? null
        : {
            fingerprint: row.pinned_fingerprint,
            definition: JSON.parse(row.pinned_definition ?? 'null') as unknown,
            by: row.pinned_by ?? '',
            at: row.pinned_at ?? 0,
          },
    pending:
      row.pending_fingerprint === null
        ? null
        : {
            fingerprint: row.pending_fingerprint,
            definition: JSON.parse(row.pending_definition ?? 'null') as unknown,
            at: row.pending_at ?? 0,
          },
  };
}
