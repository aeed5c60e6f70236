/** One stored evaluation: its report and totals. */
export interface StoredEvalRun {
  readonly id: string;
  /** The suites' names, as the report gives them. */
  readonly suite: string;
  /** The suite files it ran (what a re-score loads again). */
  readonly sources: readonly string[];
  readonly createdAt: number;
  readonly passed: number;
  readonly failed: number;
  readonly k: number;
  readonly passAt1: number;
  readonly passHatK: number;
  readonly costUsd: number;
  readonly durationMs: number;
  /** Set on a re-score: the eval run whose journals it judged again. */
  readonly rescoreOf?: string | undefined;
  /** The whole report (plain JSON). */
  readonly report: unknown;
}

/** One attempt of one case of a stored evaluation, with the run's journal. */
export interface StoredEvalAttempt {
  readonly evalRunId: string;
  /** `<suite> › <case>`. */
  readonly caseName: string;
  readonly attempt: number;
  readonly runId: string;
  readonly passed: boolean;
  /** The attempt's result without its journal (plain JSON). */
  readonly result: unknown;
  /** The run's journal entries, `{ at, event }`. */
  readonly journal: readonly unknown[];
}

/**
 * Evaluations kept for regression gating (`keel eval --baseline`) and re-scoring
 * (`keel eval rescore`): each one's report, and every attempt's journal.
 *
 * ```ts
 * await store.evals.save(run, attempts);
 * const [latest] = await store.evals.list({ suite: 'refunds', limit: 1 });
 * ```
 */
export interface EvalStore {
  /** Store an evaluation with its attempts, all or nothing. */
  save(run: StoredEvalRun, attempts: readonly StoredEvalAttempt[]): Promise<void>;
  get(id: string): Promise<StoredEvalRun | undefined>;
  /** Newest first. */
  list(options?: { suite?: string; limit?: number }): Promise<StoredEvalRun[]>;
  /** An evaluation's attempts, by case then attempt. */
  attempts(evalRunId: string): Promise<StoredEvalAttempt[]>;
}
