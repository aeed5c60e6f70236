import type { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  enginePieces,
  insertAudit,
  insertEvents,
  insertRuns,
  selectGuardRows,
  statementPieces,
  type AuditInsertRow,
  type EventInsertRow,
} from './hot-statements.js';
import type { RunsTable } from './schema.js';
import { sqliteDriver } from './sqlite-driver.js';

const PIECE_LENGTHS = new Set([...Array.from({ length: 16 }, (_, index) => index + 1), 32, 64]);

const indexes = (count: number): number[] => Array.from({ length: count }, (_, index) => index);

function event(index: number): EventInsertRow {
  return {
    run_id: `run-${index % 7}`,
    seq: index,
    type: `type-${index}`,
    at: 1_000 + index,
    schema_version: 1 + (index % 3),
    data: `{"n":${index}}`,
  };
}

function auditRow(index: number): AuditInsertRow {
  return {
    seq: index,
    at: 2_000 + index,
    kind: `kind-${index}`,
    run_id: index % 2 === 0 ? null : `run-${index}`,
    payload: `{"p":${index}}`,
    prev_hash: `prev-${index}`,
    hash: `hash-${index}`,
  };
}

function runRow(index: number): RunsTable {
  return {
    id: `run-${index}`,
    agent: `agent-${index}`,
    task: `task ${index}`,
    status: index % 2 === 0 ? 'running' : 'queued',
    reason: null,
    output: `output ${index}`,
    lease_owner: `worker-${index}`,
    lease_until: 3_000 + index,
    claims: index,
    cancel_requested: 0,
    input_tokens: index * 2,
    output_tokens: index * 3,
    cost_usd: index / 100,
    steps: index,
    created_at: 4_000 + index,
    updated_at: 5_000 + index,
    finished_at: null,
    schema_version: 1,
    agent_version: `v${index}`,
    shadow_of: null,
  };
}

const EVENT_VALUES = (row: EventInsertRow): unknown[] => [
  row.run_id,
  row.seq,
  row.type,
  row.at,
  row.schema_version,
  row.data,
];
const AUDIT_VALUES = (row: AuditInsertRow): unknown[] => [
  row.seq,
  row.at,
  row.kind,
  row.run_id,
  row.payload,
  row.prev_hash,
  row.hash,
];

/** How many values a statement's text takes: `?` marks, or the highest `$n`. */
function marks(statement: CompiledQuery): number {
  const numbered = [...statement.sql.matchAll(/\$(\d+)/g)].map((match) => Number(match[1]));
  if (numbered.length > 0) return Math.max(...numbered);
  return [...statement.sql.matchAll(/\?/g)].length;
}

describe('statementPieces', () => {
  it('keeps every item once, in order, in pieces of a few lengths', () => {
    for (let count = 0; count <= 300; count++) {
      const items = indexes(count);
      const pieces = statementPieces(items);
      expect(pieces.flat()).toEqual(items);
      for (const piece of pieces) expect(PIECE_LENGTHS.has(piece.length)).toBe(true);
      // Up to 16 items go as one statement.
      if (count > 0 && count <= 16) expect(pieces).toHaveLength(1);
      // More in at most ⌈count / 64⌉ + 2 statements.
      expect(pieces.length).toBeLessThanOrEqual(Math.ceil(count / 64) + 2);
    }
  });

  it('splits on PostgreSQL only at its limit: it keeps nothing prepared', () => {
    expect(enginePieces('postgres', indexes(1_200), 500).map((piece) => piece.length)).toEqual([
      500, 500, 200,
    ]);
    expect(enginePieces('postgres', indexes(40), Number.POSITIVE_INFINITY)).toEqual([indexes(40)]);
    expect(enginePieces('sqlite', indexes(40), 500)).toEqual(statementPieces(indexes(40)));
    expect(enginePieces('postgres', [], 500)).toEqual([]);
  });
});

describe('multi-row statements', () => {
  // Each SQL text is a statement SQLite keeps prepared, at ~0.1 KB of native memory per value
  // it binds: group commits of every size must not each make a shape of their own.
  it.each([
    ['events', (count: number) => insertEvents('sqlite', indexes(count).map(event))],
    ['audit', (count: number) => insertAudit('sqlite', indexes(count).map(auditRow))],
    ['runs', (count: number) => insertRuns('sqlite', indexes(count).map(runRow))],
    [
      'guard reads',
      (count: number) =>
        selectGuardRows(
          'sqlite',
          indexes(count).map((index) => `run-${index}`),
        ),
    ],
  ])('%s of 1 to 600 rows take at most 18 shapes on SQLite', (_, build) => {
    const texts = new Set<string>();
    for (let count = 1; count <= 600; count++) {
      for (const statement of build(count)) texts.add(statement.sql);
    }
    expect(texts.size).toBeLessThanOrEqual(PIECE_LENGTHS.size);
  });

  it.each(['sqlite', 'postgres'] as const)(
    'bind every row once, in order, every column, as many values as marks (%s)',
    (kind) => {
      for (const count of [1, 5, 16, 17, 75, 130, 600]) {
        const events = indexes(count).map(event);
        const audit = indexes(count).map(auditRow);
        const runs = indexes(count).map(runRow);
        const ids = runs.map((run) => run.id);
        const built = {
          events: insertEvents(kind, events),
          audit: insertAudit(kind, audit),
          runs: insertRuns(kind, runs),
          guard: selectGuardRows(kind, ids),
        };
        const bound = (statements: CompiledQuery[]) =>
          statements.flatMap((statement) => [...statement.parameters]);
        expect(bound(built.events)).toEqual(events.flatMap(EVENT_VALUES));
        expect(bound(built.audit)).toEqual(audit.flatMap(AUDIT_VALUES));
        expect(bound(built.runs)).toEqual(
          runs.flatMap((run) =>
            Object.keys(runRow(0)).map((column) => run[column as keyof RunsTable]),
          ),
        );
        // PostgreSQL locks the runs in id order (as a lease heartbeat does).
        expect(bound(built.guard)).toEqual(kind === 'postgres' ? [...ids].sort() : ids);
        for (const statement of Object.values(built).flat()) {
          expect(marks(statement)).toBe(statement.parameters.length);
        }
        // PostgreSQL reads and locks the group's runs in one statement, as before pieces.
        if (kind === 'postgres') {
          expect(built.guard).toHaveLength(1);
          expect(built.guard[0]?.sql).toMatch(/order by id for update$/);
        }
      }
    },
  );

  it('write and read back every row on a real SQLite database', () => {
    const database = new (sqliteDriver())(':memory:');
    try {
      database.exec(
        'create table keel_events (run_id text, seq integer, type text, at integer, schema_version integer, data text);' +
          'create table keel_audit (seq integer, at integer, kind text, run_id text, payload text, prev_hash text, hash text);' +
          `create table keel_runs (${Object.keys(runRow(0)).join(', ')})`,
      );
      const run = (statement: CompiledQuery) =>
        database.prepare(statement.sql).run([...statement.parameters]);
      const events = indexes(130).map(event);
      const audit = indexes(75).map(auditRow);
      const runs = indexes(75).map(runRow);
      for (const statement of insertEvents('sqlite', events)) run(statement);
      for (const statement of insertAudit('sqlite', audit)) run(statement);
      for (const statement of insertRuns('sqlite', runs)) run(statement);
      expect(database.prepare('select * from keel_events order by rowid').all([])).toEqual(events);
      expect(database.prepare('select * from keel_audit order by rowid').all([])).toEqual(audit);
      expect(database.prepare('select * from keel_runs order by rowid').all([])).toEqual(runs);
      const found = selectGuardRows(
        'sqlite',
        [...runs].reverse().map((row) => row.id),
      ).flatMap((statement) => database.prepare(statement.sql).all([...statement.parameters]));
      expect(new Set(found.map((row) => (row as { id: string }).id))).toEqual(
        new Set(runs.map((row) => row.id)),
      );
    } finally {
      database.close();
    }
  });
});
