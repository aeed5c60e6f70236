import { describe, expect, it } from 'vitest';
import { storeFault } from './store-errors.js';

function driverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('store faults', () => {
  it('names a full SQLite store as full, in one line, unavailable rather than corrupt', () => {
    const fault = storeFault(
      driverError('SQLITE_FULL', 'database or disk is full'),
      '/data/keel.db',
    );
    expect([fault.code, fault.message]).toEqual([
      'store_unavailable',
      'the SQLite store at /data/keel.db is full: no room on its disk for this write (nothing of it was written; free space and Keel carries on)',
    ]);
  });

  it('leaves other SQLite failures to their own messages', () => {
    const fault = storeFault(driverError('SQLITE_IOERR', 'disk I/O error'), '/data/keel.db');
    expect([fault.code, fault.message]).toEqual([
      'store_unavailable',
      'the SQLite store at /data/keel.db failed: disk I/O error',
    ]);
  });
});
