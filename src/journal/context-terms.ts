import type { Provenance } from '../core/index.js';
import type { ModelUsage } from './conversation.js';

/** Token count and item count of one section of an assembled context. */
export type ContextSection = {
  readonly tokens: number;
  readonly items: number;
  /** Items labelled untrusted. */
  readonly untrusted: number;
};

/** The sections of an assembled context, in the order the model sees them. */
export const CONTEXT_SECTIONS = ['pinned', 'summaries', 'window', 'recalled'] as const;
/** One section of an assembled context. */
export type ContextSectionName = (typeof CONTEXT_SECTIONS)[number];

/** What one assembly put in front of the model: journaled before the call, plain JSON. */
export type ContextAssembly = {
  /** The input budget: window minus output reserve minus safety margin (or a retry's cut). */
  readonly budgetTokens: number;
  /** Sum of the sections: an upper bound of the request's input tokens. */
  readonly totalTokens: number;
  /** False when the whole conversation fitted and was sent as it is. */
  readonly compressed: boolean;
  readonly sections: Readonly<Record<ContextSectionName, ContextSection>>;
  /** Steps shown only as summaries. */
  readonly summarisedSteps: number;
  /** Tool results shown as a reference plus preview (the full text stays in the journal). */
  readonly storedResults: number;
  /** References of the stored results recalled in full for this step, most relevant first. */
  readonly recalled: readonly string[];
  /** `store`: the recalled results were chosen by the store's full-text search. */
  readonly recallSource?: 'store' | undefined;
};

/** What summarising one step produced: plain JSON, journaled as `step_summarised`. */
export type SummaryOutcome = {
  readonly by: 'model' | 'custom' | 'deterministic';
  readonly text: string;
  /** The label of everything the step held: a summary of untrusted content is untrusted. */
  readonly provenance: Provenance;
  /** The summariser model's reported usage and cost (model summaries only). */
  readonly usage?: ModelUsage | undefined;
  readonly costUsd?: number | null | undefined;
  readonly model?: string | undefined;
  /** Set when the summariser failed and the deterministic line stands in for it. */
  readonly fallback?: { readonly errorType: string; readonly message: string } | undefined;
};
