import { KeelError } from '../core/index.js';

/**
 * Translate a driver error into a fault with a message a person can act on. Errors that are
 * already `KeelError`s pass through.
 */
export function storeFault(error: unknown, location: string): KeelError {
  if (KeelError.isInstance(error)) return error;
  const code =
    typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const message = error instanceof Error ? error.message : String(error);
  const options = { cause: error };
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT')) {
    return new KeelError(
      'store_corrupt',
      `the SQLite store at ${location} is not a valid Keel database (${message})`,
      options,
    );
  }
  if (code.startsWith('SQLITE_CONSTRAINT') || code === '23505') {
    return new KeelError(
      'conflict',
      `the store at ${location} already holds that record (${message})`,
      options,
    );
  }
  if (['ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'ENOSPC'].includes(code)) {
    return new KeelError(
      'store_unavailable',
      `cannot open the SQLite store at ${location} (${message})`,
      options,
    );
  }
  if (code === 'SQLITE_FULL') {
    // A full disk (or the database's size limit): SQLite rolled the write back, the file is
    // intact. Unavailable, not corrupt: once there is room, workers carry on.
    return new KeelError(
      'store_unavailable',
      `the SQLite store at ${location} is full: no room on its disk for this write (nothing of it was written; free space and Keel carries on)`,
      options,
    );
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new KeelError(
      'store_unavailable',
      `the SQLite store at ${location} is locked by another process (${message})`,
      options,
    );
  }
  if (code.startsWith('SQLITE_CANTOPEN') || message.includes('Unable to open connection')) {
    return new KeelError(
      'store_unavailable',
      `cannot open the SQLite store at ${location} (${message})`,
      options,
    );
  }
  if (code.startsWith('SQLITE_')) {
    return new KeelError(
      'store_unavailable',
      `the SQLite store at ${location} failed: ${message}`,
      options,
    );
  }
  if (
    ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(
      code,
    )
  ) {
    return new KeelError(
      'store_unavailable',
      `cannot reach PostgreSQL at ${location} (${message})`,
      options,
    );
  }
  if (code === '3D000' || code === '28P01' || code === '28000' || code === '57P03') {
    return new KeelError(
      'store_unavailable',
      `PostgreSQL at ${location} refused the connection (${message})`,
      options,
    );
  }
  if (
    code === '57P01' || // terminating connection due to administrator command (a shutdown)
    code === '57P02' || // crash shutdown
    message.includes('Connection terminated') ||
    message.includes('timeout exceeded when trying to connect')
  ) {
    return new KeelError(
      'store_unavailable',
      `lost the connection to PostgreSQL at ${location} (${message})`,
      options,
    );
  }
  return new KeelError('internal', `store error at ${location}: ${message}`, options);
}

/** Causes that pass on their own: the server is down for a restart, starting up or cut off. */
const PASSING = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  '57P01', // terminating connection due to administrator command
  '57P02', // crash shutdown
  '57P03', // the database system is starting up
]);

/**
 * Whether a `store_unavailable` fault may pass if one waits — a server restarting or starting
 * up — as opposed to one that will not (a wrong password, a database that does not exist).
 */
export function isPassingStoreFault(error: unknown): boolean {
  if (!KeelError.isInstance(error) || error.code !== 'store_unavailable') return false;
  const cause: unknown = error.cause;
  const code =
    typeof cause === 'object' && cause !== null && 'code' in cause ? String(cause.code) : '';
  if (PASSING.has(code)) return true;
  const message = cause instanceof Error ? cause.message : '';
  return (
    message.includes('Connection terminated') ||
    message.includes('timeout exceeded when trying to connect')
  );
}
