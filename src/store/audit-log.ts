import { createHmac, hash, timingSafeEqual } from 'node:crypto';

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
  /** Whether rows are HMAC-ed and checkpoints signed with a key kept outside the store. */
  readonly keyed: boolean;
  /**
   * Record the chain's head as a checkpoint (signed when keyed) and return it. `verify` checks
   * that the row at its `seq` still has its `headHash`: removing rows up to and past it, or
   * editing any row before it, is detected. Export it (a file, a webhook) so that deleting the
   * stored checkpoints along with the rows is detected too.
   */
  checkpoint(options: { at: number }): Promise<AuditCheckpoint>;
  /** Stored checkpoints, oldest first. */
  checkpoints(): Promise<AuditCheckpoint[]>;
  /**
   * Remove rows up to `throughSeq` (at most `limit` of them per call, oldest first), after
   * storing a `prune` checkpoint of row `throughSeq`: verification starts from it. Returns how
   * many rows were removed; call again until 0. Each call is its own short transaction.
   */
  prune(options: { throughSeq: number; at: number; limit?: number }): Promise<number>;
}

/** What a checkpoint marks: the head at a moment (`head`), or where a pruned prefix ended (`prune`). */
export const AUDIT_CHECKPOINT_KINDS = ['head', 'prune'] as const;
export type AuditCheckpointKind = (typeof AUDIT_CHECKPOINT_KINDS)[number];

/** The chain's head at one moment: the row `seq` had hash `headHash`. */
export interface AuditCheckpoint {
  readonly kind: AuditCheckpointKind;
  readonly seq: number;
  readonly headHash: string;
  readonly at: number;
  /** HMAC-SHA256 (hex) of the other fields with the audit key; null when made without a key. */
  readonly signature: string | null;
}

/**
 * The signature of a checkpoint with `key`.
 *
 * ```ts
 * const ok = checkpoint.signature === signCheckpoint(checkpoint, key);
 * ```
 */
export function signCheckpoint(
  checkpoint: Omit<AuditCheckpoint, 'signature'>,
  key: string,
): string {
  return createHmac('sha256', key)
    .update(
      [
        'keel-audit-checkpoint',
        checkpoint.kind,
        String(checkpoint.seq),
        checkpoint.headHash,
        String(checkpoint.at),
      ].join('\n'),
    )
    .digest('hex');
}

/** Whether a checkpoint's signature is `key`'s. */
export function checkpointSigned(checkpoint: AuditCheckpoint, key: string): boolean {
  if (checkpoint.signature === null) return false;
  const expected = Buffer.from(signCheckpoint(checkpoint, key), 'hex');
  const actual = Buffer.from(checkpoint.signature, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** The `prevHash` of the first row. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64);

/**
 * The hash of one row over its stored text and the previous row's hash: SHA-256 hex, or
 * HMAC-SHA256 hex with the audit key.
 *
 * ```ts
 * const ok = auditHash(row, process.env.KEEL_AUDIT_KEY) === row.hash;
 * ```
 */
export function auditHash(entry: Omit<AuditEntry, 'hash'>, key?: string): string {
  const text = `${entry.prevHash}\n${String(entry.seq)}\n${String(entry.at)}\n${entry.kind}\n${entry.runId ?? ''}\n${entry.payload}`;
  // Unkeyed, the one-shot hash: no Hash object per entry, and every journal commit has one.
  return key === undefined
    ? hash('sha256', text, 'hex')
    : createHmac('sha256', key).update(text).digest('hex');
}

/** Why verification failed. */
export type AuditProblem =
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'seq_gap'
  | 'checkpoint_mismatch'
  | 'truncated'
  | 'checkpoint_forged';

/** What `verifyAuditChain` found. */
export type AuditVerification =
  | {
      readonly ok: true;
      readonly entries: number;
      readonly headHash: string;
      /** Whether rows were checked against the audit key. */
      readonly keyed: boolean;
      /** Checkpoints the chain was checked against. */
      readonly checkpoints: number;
    }
  | {
      readonly ok: false;
      readonly entries: number;
      /** The first row that does not link: its `seq` (or the seq expected there). */
      readonly brokenAt: number;
      readonly problem: AuditProblem;
      readonly message: string;
    };

/** Where verification stands between pages. Make one with `startAuditVerification`. */
export interface AuditVerificationState {
  prevHash: string;
  nextSeq: number;
  count: number;
  readonly key: string | undefined;
  /** Rows at or before this seq may carry a plain hash: a signed checkpoint pins them. */
  readonly plainThrough: number;
  /** Head checkpoints by seq, not yet reached. */
  readonly pending: Map<number, AuditCheckpoint>;
  checked: number;
}

/**
 * Where verification of a chain starts: after the latest `prune` checkpoint (or at genesis),
 * with every later checkpoint to check on the way. With `key`, only checkpoints it signed
 * count, and an unsigned or forged one is a failure.
 */
export function startAuditVerification(
  options: { key?: string | undefined; checkpoints?: readonly AuditCheckpoint[] } = {},
): AuditVerificationState | Extract<AuditVerification, { ok: false }> {
  const { key } = options;
  // With a key, an unsigned checkpoint (made before the key was set) proves nothing: skipped.
  const checkpoints = (options.checkpoints ?? []).filter(
    (checkpoint) => key === undefined || checkpoint.signature !== null,
  );
  for (const checkpoint of checkpoints) {
    if (key !== undefined && !checkpointSigned(checkpoint, key))
      return {
        ok: false,
        entries: 0,
        brokenAt: checkpoint.seq,
        problem: 'checkpoint_forged',
        message: `the ${checkpoint.kind} checkpoint at row ${checkpoint.seq} is not signed with the audit key`,
      };
  }
  const base = checkpoints
    .filter((checkpoint) => checkpoint.kind === 'prune')
    .reduce<AuditCheckpoint | undefined>(
      (latest, checkpoint) => (latest && latest.seq >= checkpoint.seq ? latest : checkpoint),
      undefined,
    );
  const pending = new Map<number, AuditCheckpoint>();
  for (const checkpoint of checkpoints)
    if (checkpoint.kind === 'head' && checkpoint.seq > (base?.seq ?? 0))
      pending.set(checkpoint.seq, checkpoint);
  const signedSeqs = key === undefined ? [] : checkpoints.map((checkpoint) => checkpoint.seq);
  return {
    prevHash: base?.headHash ?? AUDIT_GENESIS_HASH,
    nextSeq: (base?.seq ?? 0) + 1,
    count: 0,
    key,
    plainThrough: Math.max(0, ...signedSeqs),
    pending,
    checked: base ? 1 : 0,
  };
}

/**
 * Recompute the chain over rows in `seq` order; report the first broken link. Feed it pages
 * in order through `state` to verify a log larger than memory, then call `finishAuditVerification`.
 *
 * ```ts
 * const state = startAuditVerification();
 * const result = 'ok' in state ? state : verifyAuditChain(await store.audit.read(), state);
 * ```
 */
export function verifyAuditChain(
  entries: Iterable<AuditEntry>,
  state: AuditVerificationState = startAuditVerification() as AuditVerificationState,
): AuditVerification {
  for (const entry of entries) {
    // Rows a pruning left behind (it was interrupted): the prune checkpoint stands for them.
    if (entry.seq < state.nextSeq && state.count === 0) continue;
    const broken = (problem: AuditProblem, message: string) =>
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
    const matches =
      auditHash(entry, state.key) === entry.hash ||
      // A row written before the key was set, pinned by a signed checkpoint after it.
      (state.key !== undefined &&
        entry.seq <= state.plainThrough &&
        auditHash(entry) === entry.hash);
    if (!matches) {
      return broken(
        'hash_mismatch',
        state.key === undefined
          ? `row ${entry.seq} does not match its hash (content edited)`
          : `row ${entry.seq} does not match its keyed hash (content edited, or the chain re-hashed without the key)`,
      );
    }
    const checkpoint = state.pending.get(entry.seq);
    if (checkpoint) {
      if (checkpoint.headHash !== entry.hash)
        return broken(
          'checkpoint_mismatch',
          `row ${entry.seq} is not the row a checkpoint of ${new Date(checkpoint.at).toISOString()} recorded (the chain was rewritten)`,
        );
      state.pending.delete(entry.seq);
      state.checked += 1;
    }
    state.prevHash = entry.hash;
    state.nextSeq += 1;
    state.count += 1;
  }
  return {
    ok: true,
    entries: state.count,
    headHash: state.prevHash,
    keyed: state.key !== undefined,
    checkpoints: state.checked,
  };
}

/** After the last page: a checkpoint past the end means rows were removed from the tail. */
export function finishAuditVerification(
  result: AuditVerification,
  state: AuditVerificationState,
): AuditVerification {
  if (!result.ok || state.pending.size === 0) return result;
  const missing = Math.min(...state.pending.keys());
  return {
    ok: false,
    entries: state.count,
    brokenAt: state.nextSeq,
    problem: 'truncated',
    message: `a checkpoint recorded row ${missing}, but the log ends at row ${state.nextSeq - 1} (rows removed from the end${state.count === 0 ? ', or every row' : ''})`,
  };
}
