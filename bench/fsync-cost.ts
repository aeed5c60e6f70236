import Database from 'libsql';
import { summarize, type Timing } from './stats.js';

/**
 * The disk's price for one durable commit: single-row `begin immediate; insert; commit`
 * transactions on a libsql file in WAL mode with synchronous=FULL (what Keel's default SQLite
 * store does per journal write), without Keel, Kysely or anything else around it. Commits are
 * taken in small batches between the per-step blocks, so they see the same disk load.
 */
export interface FsyncProbe {
  /** Times `count` commits. */
  commit(count: number): void;
  summary(): Timing;
  close(): void;
}

export function openFsyncProbe(path: string): FsyncProbe {
  const database = new Database(path);
  database.exec('pragma journal_mode = wal');
  database.exec('pragma synchronous = full');
  database.exec('create table journal (id integer primary key, data text not null)');
  const insert = database.prepare('insert into journal (data) values (?)');
  // About the size of one journal event.
  const row = JSON.stringify({ type: 'tool_finished', content: 'x'.repeat(300) });
  const samples: number[] = [];

  function commitOnce(): number {
    const startedAt = performance.now();
    database.exec('begin immediate');
    insert.run(row);
    database.exec('commit');
    return performance.now() - startedAt;
  }
  // The first commits pay for creating the WAL file.
  for (let index = 0; index < 10; index++) commitOnce();

  return {
    commit(count) {
      for (let index = 0; index < count; index++) samples.push(commitOnce());
    },
    summary: () => summarize(samples),
    close() {
      database.close();
    },
  };
}
