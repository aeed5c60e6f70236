import fs from 'node:fs';

/**
 * A SQLite WAL file made durable off the main thread. Under `synchronous = full` SQLite fsyncs
 * the WAL inside each commit, and the process can do nothing else for that time (~0.3–0.5 ms on
 * a typical disk). A journal write instead commits under `synchronous = normal` (its frames
 * written to the WAL, in order, as at any commit) and then calls `sync()`, which fsyncs the WAL
 * on a thread of libuv's pool: the write resolves only once that fsync has, so nothing acts on
 * it before it is durable, and meanwhile the process serves other runs. An fsync covers every
 * write made to the file before it (through any descriptor), so one also covers the commits of
 * other connections. A commit whose fsync had not finished at a power loss is rolled back on
 * recovery, as under `normal`; one whose fsync finished is kept, as under `full`.
 */
export interface WalSync {
  /** Resolves once every commit made before the call is on disk. */
  sync(): Promise<void>;
  /** Closes the descriptor, once the fsyncs in flight have finished. */
  close(): void;
}

/**
 * The WAL of an open WAL-mode database (`<file>-wal`, which exists while a connection is open).
 * `undefined` when it cannot be opened: its commits then stay `synchronous = full`.
 */
export function walSync(databaseFile: string): WalSync | undefined {
  let descriptor: number;
  try {
    descriptor = fs.openSync(`${databaseFile}-wal`, 'r+');
  } catch {
    return undefined;
  }
  let inFlight = 0;
  let closing = false;
  const closeNow = (): void => {
    try {
      fs.closeSync(descriptor);
    } catch {
      // Already gone with the process's descriptors; nothing is left to release.
    }
  };
  return {
    sync: () =>
      new Promise<void>((resolve, reject) => {
        if (closing) {
          reject(new Error('the store is closed'));
          return;
        }
        inFlight += 1;
        fs.fdatasync(descriptor, (error) => {
          inFlight -= 1;
          if (closing && inFlight === 0) closeNow();
          // Named as SQLite names its own failed sync, so it reads as any store fault does.
          if (error)
            reject(
              Object.assign(new Error(`syncing its WAL to disk failed (${error.message})`), {
                code: 'SQLITE_IOERR_FSYNC',
                cause: error,
              }),
            );
          else resolve();
        });
      }),
    close() {
      if (closing) return;
      closing = true;
      if (inFlight === 0) closeNow();
    },
  };
}
