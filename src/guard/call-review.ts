import type { Provenance } from '../core/index.js';
import type { ToolEffect } from '../journal/index.js';
import type { Guard, GuardVerdict } from './action-policy.js';

/** One tool call under review, before anything runs. */
export interface ReviewedCall {
  readonly runId: string;
  readonly agent: string;
  readonly step: number;
  readonly index: number;
  readonly toolName: string;
  readonly effect: ToolEffect;
  /** The arguments exactly as the model sent them (already schema-valid). */
  readonly input: unknown;
  /** True once untrusted content entered the run's conversation. */
  readonly tainted: boolean;
  /**
   * What the run has seen before this step, each piece with its provenance: the agent's
   * instructions, the task, earlier model turns and tool results. The guard grounds arguments
   * in it. Absent when a call is reviewed outside a run.
   */
  readonly context?: readonly ContextText[] | undefined;
}

/** One piece of a run's context as plain text, with where it came from. */
export interface ContextText {
  readonly text: string;
  readonly provenance: Provenance;
}

/**
 * One check's verdict on one call, as journaled (`guard_verdict`) and audited: the policy, the
 * rule that fired and, per argument path, where the value came from. Plain JSON.
 */
export interface ReviewRecord {
  readonly policy: string;
  readonly rule: string;
  readonly verdict: GuardVerdict;
  readonly origins?: Readonly<Record<string, string>> | undefined;
}

/** The guard's answer for one call: the strongest verdict of its checks, and what they said. */
export interface CallReview {
  readonly verdict: GuardVerdict;
  /** Set unless the verdict is `allow`: the check that decided and why. */
  readonly reason?: { readonly policy: string; readonly message: string } | undefined;
  /** Every check that asks to be journaled, in order. */
  readonly records: readonly ReviewRecord[];
}

/** The policy name the guard's verdicts are journaled under. */
export const GUARD_POLICY = 'guard';
/** The policy name under which an injection signal over its threshold asks a human. */
export const INJECTION_SIGNAL_POLICY = 'injection_signal';

const STRENGTH: readonly GuardVerdict[] = ['allow', 'confirm', 'deny'];

/**
 * Review one call before it can run: the agent's guard (provenance of each argument, rules),
 * then the run's injection signal, which once over its threshold asks a human for every
 * `irreversible` and `egress` call. Checks only ever tighten: deny beats confirm beats allow.
 * A call the guard allows still goes through the approval gates after this.
 *
 * ```ts
 * const review = reviewCall(call, { guard, signalled: state.signalled });
 * if (review.verdict === 'deny') refuse(review.reason);
 * ```
 */
export function reviewCall(
  call: ReviewedCall,
  { guard, signalled }: { readonly guard?: Guard | undefined; readonly signalled: boolean },
): CallReview {
  const records: ReviewRecord[] = [];
  let verdict: GuardVerdict = 'allow';
  let reason: CallReview['reason'];
  const consider = (record: ReviewRecord, message: string): void => {
    records.push(record);
    if (STRENGTH.indexOf(record.verdict) > STRENGTH.indexOf(verdict)) {
      verdict = record.verdict;
      reason = { policy: record.policy, message };
    }
  };
  if (guard) {
    const decision = guard.evaluate(call);
    consider(
      {
        policy: GUARD_POLICY,
        rule: decision.rule,
        verdict: decision.verdict,
        origins: decision.origins,
      },
      decision.message,
    );
  }
  if (signalled && (call.effect === 'irreversible' || call.effect === 'egress')) {
    consider(
      { policy: INJECTION_SIGNAL_POLICY, rule: 'signal_threshold', verdict: 'confirm' },
      `an injection signal reached its threshold earlier in this run; ${call.effect} calls need a human`,
    );
  }
  return { verdict, reason, records };
}
