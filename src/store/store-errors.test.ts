import { describe, expect, it } from 'vitest';
import { isPassingStoreFault, storeFault } from './store-errors.js';

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

  it('counts a restart as passing and a wrong password or missing database as not', () => {
    const at = 'postgres://db:5432/keel';
    const passing = [
      driverError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'),
      driverError('57P03', 'the database system is starting up'),
      driverError('57P01', 'terminating connection due to administrator command'),
      new Error('Connection terminated unexpectedly'),
    ];
    const lasting = [
      driverError('28P01', 'password authentication failed for user "keel"'),
      driverError('3D000', 'database "keel" does not exist'),
      driverError('ENOTFOUND', 'getaddrinfo ENOTFOUND db'),
      driverError('SQLITE_BUSY', 'database is locked'),
    ];
    expect(passing.map((error) => isPassingStoreFault(storeFault(error, at)))).toEqual(
      passing.map(() => true),
    );
    expect(lasting.map((error) => isPassingStoreFault(storeFault(error, at)))).toEqual(
      lasting.map(() => false),
    );
    expect(isPassingStoreFault(new Error('connect ECONNREFUSED'))).toBe(false);
  });
});
