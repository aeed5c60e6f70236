import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeelError } from '../core/index.js';
import {
  SelectQueryNode,
  SqliteDialect,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDatabase,
} from 'kysely';

/**
 * `synchronous = full` for a SQLite file in WAL mode, without stopping the thread at each
 * commit. The connection runs `synchronous = normal` (a commit writes its WAL frames and
 * returns; checkpoints still sync the WAL before copying it and the database after), and a
 * commit is reported to its caller only once an `fdatasync` of the WAL file that started
 * after it has ended — what `full` does inside the commit, here on libuv's thread pool while
 * the event loop goes on. One sync covers every commit made before it started, so commits
 * that come while one is running share the next.
 *
 * Until its sync ends, a commit is visible to readers but not yet reported: a process crash
 * loses nothing either way (the frames are in the page cache), and a power loss can only
 * lose commits nobody was told had happened. A sync that fails leaves the page cache's state
 * unknown, so every later commit fails too, as PostgreSQL stops at a failed fsync.
 */
export class WalSync {
  readonly #databasePath: string;
  readonly #walPath: string;
  #fd: number | undefined;
  /** Commits made on the connection, and how many of them a finished sync covers. */
  #committed = 0;
  #synced = 0;
  #running: Promise<void> | undefined;
  #failure: Error | undefined;
  #syncs = 0;

  constructor(databasePath: string) {
    this.#databasePath = databasePath;
    this.#walPath = `${databasePath}-wal`;
  }

  /** How many syncs have ended (one covers every commit made before it started). */
  get syncs(): number {
    return this.#syncs;
  }

  /** A commit has just been made on the connection. */
  noteCommit(): void {
    this.#committed += 1;
  }

  /** Resolves once every commit noted so far is on disk. */
  async durable(): Promise<void> {
    const target = this.#committed;
    while (this.#synced < target) {
      if (this.#failure) throw this.#failure;
      this.#running ??= this.#sync();
      await this.#running;
    }
    if (this.#failure) throw this.#failure;
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #sync(): Promise<void> {
    const target = this.#committed;
    return new Promise<void>((resolve) => {
      let fd: number;
      try {
        fd = this.#open();
      } catch (error) {
        this.#fail(error);
        this.#running = undefined;
        resolve();
        return;
      }
      fdatasync(fd, (error) => {
        this.#running = undefined;
        this.#syncs += 1;
        if (error) this.#fail(error);
        else if (target > this.#synced) this.#synced = target;
        resolve();
      });
    });
  }

  /**
   * The WAL file, opened at the first sync (SQLite has made it by then: a commit wrote to it).
   * It keeps its inode while the connection is open — a checkpoint truncates or rewrites it,
   * only the last connection's close removes it — and its directory entry is synced once.
   */
  #open(): number {
    if (this.#fd !== undefined) return this.#fd;
    const fd = openSync(this.#walPath, 'r+');
    try {
      const directory = openSync(dirname(this.#walPath), 'r');
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    this.#fd = fd;
    return fd;
  }

  #fail(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    this.#failure ??= new KeelError(
      'store_unavailable',
      `the SQLite store at ${this.#databasePath} could not sync ${this.#walPath} to disk (${reason}): commits since the last sync may not be on disk, so it takes no more writes; reopen it`,
      { cause: error },
    );
  }
}

/**
 * Kysely's SQLite dialect with a statement that commits (an autocommit write, or `commit`)
 * reported only once it is on disk. Reads (`select`) never wait.
 */
export class DurableSqliteDialect extends SqliteDialect {
  readonly #inTransaction: () => boolean;
  readonly #sync: WalSync;

  constructor(database: SqliteDatabase, inTransaction: () => boolean, sync: WalSync) {
    super({ database });
    this.#inTransaction = inTransaction;
    this.#sync = sync;
  }

  override createDriver(): Driver {
    const driver = super.createDriver();
    const inTransaction = this.#inTransaction;
    const sync = this.#sync;
    // SQLite has one connection: whether a statement committed while it was held.
    let committed = false;
    const connections = new WeakMap<DatabaseConnection, DatabaseConnection>();
    const durable = (connection: DatabaseConnection): DatabaseConnection => {
      let wrapped = connections.get(connection);
      if (wrapped) return wrapped;
      wrapped = {
        async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
          const result = await connection.executeQuery<R>(query);
          if (!inTransaction() && mayWrite(query)) {
            sync.noteCommit();
            committed = true;
          }
          return result;
        },
        streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
      };
      connections.set(connection, wrapped);
      return wrapped;
    };
    return {
      init: () => driver.init(),
      acquireConnection: async () => durable(await driver.acquireConnection()),
      beginTransaction: (connection, settings) => driver.beginTransaction(connection, settings),
      commitTransaction: (connection) => driver.commitTransaction(connection),
      rollbackTransaction: (connection) => driver.rollbackTransaction(connection),
      // The connection goes to the next caller at once; this one hears back once its commits
      // are on disk (Kysely awaits the release before it returns a query's result).
      releaseConnection: async (connection) => {
        const mustSync = committed;
        committed = false;
        await driver.releaseConnection(connection);
        if (mustSync) await sync.durable();
      },
      ...(driver.savepoint && { savepoint: driver.savepoint.bind(driver) }),
      ...(driver.rollbackToSavepoint && {
        rollbackToSavepoint: driver.rollbackToSavepoint.bind(driver),
      }),
      ...(driver.releaseSavepoint && { releaseSavepoint: driver.releaseSavepoint.bind(driver) }),
      destroy: async () => {
        await driver.destroy();
        sync.close();
      },
    };
  }
}

/** Whether a statement may have written: anything but a `select`. */
function mayWrite(query: CompiledQuery): boolean {
  return !SelectQueryNode.is(query.query) && !/^\s*select\b/i.test(query.sql);
}
