import { JOURNAL_SCHEMA_VERSION } from '../journal/index.js';
import type { ApprovalStore } from './approval-store.js';
import type { AuditLog } from './audit-log.js';
import type { DecisionStore } from './decision-store.js';
import type { EvalStore } from './eval-store.js';
import type { PriceStore } from './price-store.js';
import type { ResultStore } from './result-store.js';
import type { RunJournalStore } from './run-journal.js';
import type { ToolStateStore } from './tool-records.js';
import type { RunBrowser } from './run-browser.js';
import type { McpPinStore } from './mcp-pin-store.js';
import type { ProviderBudgets } from './provider-budgets.js';
import type { ShadowStore } from './shadow-store.js';

/**
 * Persisted format version of runs and events: the journal's format. A change ships as a new
 * version, never an edit.
 */
export const STORE_SCHEMA_VERSION = JOURNAL_SCHEMA_VERSION;

/**
 * Where runs and everything derived from them live. The store is the run journal (with its
 * leases) plus one narrow port per concern; a part depends on the port it uses. Two
 * implementations share one query codebase: SQLite (embedded default) and PostgreSQL (many
 * workers on many machines). Each port has one contract suite run against both.
 *
 * ```ts
 * const store = await openStore('sqlite:.keel/keel.db');
 * const run = await store.getRun(runId);
 * const pending = await store.approvals.list({ states: ['pending'] });
 * ```
 */
export interface Store extends RunJournalStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Where it is, without credentials. */
  readonly location: string;
  /** Approval records, approvers and the decision log. */
  readonly approvals: ApprovalStore;
  /** Schema-validated decisions and the review queue. */
  readonly decisions: DecisionStore;
  /** Large tool results, full-text indexed for recall. */
  readonly results: ResultStore;
  /** The tool layer's shared state: circuit breakers and the result cache. */
  readonly tools: ToolStateStore;
  /** The hash-chained audit log. */
  readonly audit: AuditLog;
  /** Runs' costs re-computed with later prices. */
  readonly prices: PriceStore;
  /** Runs filtered, searched and paged for people browsing them. */
  readonly browse: RunBrowser;
  /** Pinned MCP tool definitions and changed ones waiting for approval. */
  readonly mcpPins: McpPinStore;
  /** Model providers' requests/tokens-per-minute budgets, shared by every worker. */
  readonly providerBudgets: ProviderBudgets;
  /** Stored evaluations: reports and every attempt's journal. */
  readonly evals: EvalStore;
  /** Shadows (candidate agent versions repeating production runs) and their pairs of runs. */
  readonly shadows: ShadowStore;
  close(): Promise<void>;
}
