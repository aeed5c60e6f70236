import { describe, expect, it } from 'vitest';
import {
  insertAudit,
  insertEvents,
  insertRuns,
  selectGuardRows,
  statementPieces,
  type AuditInsertRow,
  type EventInsertRow,
} from './hot-statements.js';
import type { RunsTable } from './schema.js';

const PIECE_LENGTHS = new Set([...Array.from({ length: 16 }, (_, index) => index + 1), 32, 64]);

function event(index: number): EventInsertRow {
  return {
    run_id: `run-${index % 7}`,
    seq: index,
    type: 'model_called',
    at: index,
    schema_version: 1,
    data: `{"n":${index}}`,
  };
}

function auditRow(index: number): AuditInsertRow {
  return {
    seq: index,
    at: index,
    kind: 'tool_call',
    run_id: null,
    payload: '{}',
    prev_hash: `p${index}`,
    hash: `h${index}`,
  };
}

function runRow(index: number): RunsTable {
  return { id: `run-${index}` } as RunsTable;
}

describe('statementPieces', () => {
  it('keeps every item once, in order, in pieces of a few lengths', () => {
    for (let count = 0; count <= 300; count++) {
      const items = Array.from({ length: count }, (_, index) => index);
      const pieces = statementPieces(items);
      expect(pieces.flat()).toEqual(items);
      for (const piece of pieces) expect(PIECE_LENGTHS.has(piece.length)).toBe(true);
      // Up to 16 items go as one statement: a run's write alone is not split.
      if (count > 0 && count <= 16) expect(pieces).toHaveLength(1);
      // More in at most ⌈count / 64⌉ + 2 statements.
      expect(pieces.length).toBeLessThanOrEqual(Math.ceil(count / 64) + 2);
    }
  });
});

describe('multi-row statements', () => {
  // Each SQL text is a statement SQLite keeps prepared, at ~0.6 KB of native memory per row:
  // group commits of every size must not each make a shape of their own.
  const indexes = (count: number): number[] => Array.from({ length: count }, (_, index) => index);
  it.each([
    ['events', (count: number) => insertEvents('sqlite', indexes(count).map(event)), 6],
    ['audit', (count: number) => insertAudit('postgres', indexes(count).map(auditRow)), 7],
    ['runs', (count: number) => insertRuns('sqlite', indexes(count).map(runRow)), 20],
    [
      'guard reads',
      (count: number) =>
        selectGuardRows(
          'postgres',
          indexes(count).map((index) => `run-${index}`),
        ),
      1,
    ],
  ])('%s of 1 to 600 rows take at most 18 shapes and carry every row once', (_, build, columns) => {
    const texts = new Set<string>();
    for (let count = 1; count <= 600; count++) {
      const statements = build(count);
      for (const statement of statements) texts.add(statement.sql);
      const parameters = statements.flatMap((statement) => [...statement.parameters]);
      expect(parameters).toHaveLength(count * columns);
    }
    expect(texts.size).toBeLessThanOrEqual(PIECE_LENGTHS.size);
  });

  it('puts the rows of the events insert in order, every column', () => {
    const rows = Array.from({ length: 75 }, (_, index) => event(index));
    const parameters = insertEvents('sqlite', rows).flatMap((statement) => [
      ...statement.parameters,
    ]);
    expect(parameters).toEqual(
      rows.flatMap((row) => [row.run_id, row.seq, row.type, row.at, row.schema_version, row.data]),
    );
  });
});
