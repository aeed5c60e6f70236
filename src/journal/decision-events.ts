import type { ModelErrorType, ModelUsage } from './conversation.js';

/**
 * One entry of a decision's journal: every attempt (with the error fed back when it failed),
 * vote, cache hit, review and fallback. Plain JSON, discriminated on `type`.
 */
export type DecisionEvent =
  | {
      readonly type: 'decision_started';
      readonly model: string;
      readonly votes: number;
      readonly retries: number;
      readonly minConfidence: number;
      readonly cacheKey: string | null;
      readonly at: number;
    }
  | {
      readonly type: 'decision_cache_hit';
      readonly cacheKey: string;
      readonly decisionId: string;
      /** The cached value and its confidence (absent in records written before they were kept). */
      readonly value?: unknown;
      readonly confidence?: number | undefined;
    }
  | {
      /** One model call. `error` is set when its output was rejected; it is fed back. */
      readonly type: 'decision_attempt';
      readonly vote: number;
      readonly attempt: number;
      readonly output: string;
      readonly usage: ModelUsage | null;
      readonly costUsd: number | null;
      readonly latencyMs: number;
      readonly error?: string | undefined;
      /** Set when the model call itself failed: its type (retried only when retryable). */
      readonly errorType?: ModelErrorType | undefined;
      readonly retryAfterMs?: number | undefined;
    }
  | {
      readonly type: 'decision_vote';
      readonly vote: number;
      /** `null` when every attempt of this vote failed validation. */
      readonly value: unknown;
      readonly confidence: number;
    }
  | {
      readonly type: 'decision_made';
      readonly value: unknown;
      readonly confidence: number;
      /** Votes that agreed with the value, of all votes cast. */
      readonly agreement: readonly [number, number];
      /** The model's own reason for the value, when it gave one. */
      readonly reasoning?: string | undefined;
    }
  | {
      readonly type: 'decision_review_requested';
      /** The model's confidence in its value (the last `decision_made`). */
      readonly confidence: number;
      readonly minConfidence: number;
      /** The value that stands in until a human chooses (absent in older records). */
      readonly fallback?: unknown;
    }
  | {
      readonly type: 'decision_resolved';
      readonly value: unknown;
      readonly decidedBy: string;
      readonly at: number;
    }
  | {
      readonly type: 'decision_fallback';
      readonly reason: string;
      /** The model's confidence when it fell back for low confidence; else 0. */
      readonly confidence: number;
    };
