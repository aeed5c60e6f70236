import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AUDIT_GENESIS_HASH, auditHash, verifyAuditChain, type AuditEntry } from './index.js';

/** A valid chain over the given payloads. */
function chain(payloads: readonly string[]): AuditEntry[] {
  let prevHash = AUDIT_GENESIS_HASH;
  return payloads.map((payload, index) => {
    const row = {
      seq: index + 1,
      at: 1_700_000_000_000 + index,
      kind: index % 2 === 0 ? 'tool_call' : 'approval_decision',
      runId: index % 3 === 0 ? null : `run_${index}`,
      payload,
      prevHash,
    };
    prevHash = auditHash(row);
    return { ...row, hash: prevHash };
  });
}

const payloads = fc.array(fc.json(), { minLength: 2, maxLength: 12 });

describe('verifyAuditChain', () => {
  it('accepts an untouched chain of any length', () => {
    fc.assert(
      fc.property(payloads, (texts) => {
        const rows = chain(texts);
        expect(verifyAuditChain(rows)).toEqual({
          ok: true,
          entries: rows.length,
          headHash: rows.at(-1)?.hash,
          keyed: false,
          checkpoints: 0,
        });
      }),
    );
  });

  it('finds an edit of any field of any row at that row', () => {
    const fields = ['at', 'kind', 'runId', 'payload', 'prevHash', 'hash'] as const;
    fc.assert(
      fc.property(payloads, fc.nat(), fc.constantFrom(...fields), (texts, pick, field) => {
        const rows = chain(texts);
        const at = pick % rows.length;
        const row = rows[at] as AuditEntry;
        const edited: AuditEntry = {
          ...row,
          [field]: field === 'at' ? row.at + 1 : `${String(row[field])}x`,
        };
        rows[at] = edited;
        const result = verifyAuditChain(rows);
        expect(result).toMatchObject({ ok: false, brokenAt: row.seq, entries: at });
      }),
    );
  });

  it('finds an edit even when the editor recomputes that row hash: at the next row', () => {
    fc.assert(
      fc.property(payloads, fc.nat(), (texts, pick) => {
        const rows = chain(texts);
        const at = pick % (rows.length - 1);
        const row = rows[at] as AuditEntry;
        const forged = { ...row, payload: `${row.payload} ` };
        rows[at] = { ...forged, hash: auditHash(forged) };
        expect(verifyAuditChain(rows)).toMatchObject({
          ok: false,
          brokenAt: row.seq + 1,
          problem: 'prev_hash_mismatch',
        });
      }),
    );
  });

  it('finds two rows swapped, with or without their seq numbers, and a removed row', () => {
    fc.assert(
      fc.property(payloads, fc.nat(), fc.boolean(), (texts, pick, renumber) => {
        const rows = chain(texts);
        const at = pick % (rows.length - 1);
        const [first, second] = [rows[at] as AuditEntry, rows[at + 1] as AuditEntry];
        rows[at] = renumber ? { ...second, seq: first.seq } : second;
        rows[at + 1] = renumber ? { ...first, seq: second.seq } : first;
        expect(verifyAuditChain(rows)).toMatchObject({ ok: false, brokenAt: at + 1 });

        const removed = chain(texts);
        removed.splice(at, 1);
        expect(verifyAuditChain(removed)).toMatchObject({
          ok: false,
          brokenAt: at + 1,
          problem: 'seq_gap',
        });
      }),
    );
  });
});
