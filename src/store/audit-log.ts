import { createHash } from 'node:crypto';

/** An entry to append to the audit log. `data` is plain JSON, stored as canonical JSON text. */
export interface NewAuditEntry {
  /** What is audited, e.g. `tool_call` or `approval_decision`. */
  readonly kind: string;
  readonly at: number;
  readonly runId?: string | undefined;
  readonly data: unknown;
}

/**
 * One row of the hash-chained audit log. `hash` covers the row's fields and `prevHash`, which
 * is the previous row's `hash`: editing, removing or reordering any row breaks the chain.
 */
export interface AuditEntry {
  readonly seq: number;
  readonly at: number;
  readonly kind: string;
  readonly runId: string | null;
  /** The entry's data as stored (canonical JSON text). */
  readonly payload: string;
  readonly prevHash: string;
  readonly hash: string;
}

/**
 * The hash-chained audit log: every tool attempt and every approval decision, one chain
 * across processes. Entries that record journal events are committed with those events
 * (`JournalWrite.audit`); others are appended here.
 *
 * ```ts
 * const rows = await store.audit.read({ afterSeq: 0, limit: 100 });
 * ```
 */
export interface AuditLog {
  /**
   * Append entries to the end of the chain, in order; resolves with the stored rows once
   * durable. Concurrent appends (from any process) share commits and stay one chain. Each
   * append is its own short transaction: never call it inside another.
   */
  append(entries: readonly NewAuditEntry[]): Promise<AuditEntry[]>;
  /** Rows in `seq` order. */
  read(options?: { afterSeq?: number; limit?: number }): Promise<AuditEntry[]>;
}

/** The `prevHash` of the first row. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/**
 * The hash of one row (SHA-256 hex) over its stored text and the previous row's hash.
 *
 * ```ts
 * const ok = auditHash(row) === row.hash;
 * ```
 */
export function auditHash(entry: Omit<AuditEntry, 'hash'>): string {
  return createHash('sha256')
    .update(
      [
        entry.prevHash,
        String(entry.seq),
        String(entry.at),
        entry.kind,
        entry.runId ?? '',
        entry.payload,
      ].join('\n'),
    )
    .digest('hex');
}

/** What `verifyAuditChain` found. */
export type AuditVerification =
  | { readonly ok: true; readonly entries: number; readonly headHash: string }
  | {
      readonly ok: false;
      readonly entries: number;
      /** The first row that does not link: its `seq` (or the seq expected there). */
      readonly brokenAt: number;
      readonly problem: 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap';
      readonly message: string;
    };

/**
 * Recompute the chain over rows in `seq` order; report the first broken link. Feed it pages
 * in order through `state` to verify a log larger than memory.
 *
 * ```ts
 * const result = verifyAuditChain(await store.audit.read());
 * if (!result.ok) console.error(`broken at ${result.brokenAt}: ${result.message}`);
 * ```
 */
export function verifyAuditChain(
  entries: Iterable<AuditEntry>,
  state: { prevHash: string; nextSeq: number; count: number } = {
    prevHash: AUDIT_GENESIS_HASH,
    nextSeq: 1,
    count: 0,
  },
): AuditVerification {
  for (const entry of entries) {
    const broken = (problem: 'hash_mismatch' | 'prev_hash_mismatch' | 'seq_gap', message: string) =>
      ({ ok: false, entries: state.count, brokenAt: entry.seq, problem, message }) as const;
    if (entry.seq !== state.nextSeq) {
      return {
        ...broken('seq_gap', `expected row ${state.nextSeq}, found row ${entry.seq}`),
        brokenAt: state.nextSeq,
      };
    }
    if (entry.prevHash !== state.prevHash) {
      return broken(
        'prev_hash_mismatch',
        `row ${entry.seq} does not link to the row before it (order changed or a row removed)`,
      );
    }
    if (auditHash(entry) !== entry.hash) {
      return broken('hash_mismatch', `row ${entry.seq} does not match its hash (content edited)`);
    }
    state.prevHash = entry.hash;
    state.nextSeq += 1;
    state.count += 1;
  }
  return { ok: true, entries: state.count, headHash: state.prevHash };
}
