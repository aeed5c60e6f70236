import type { Provenance } from '../core/index.js';
import type { ToolEffect } from '../journal/index.js';
import type { Guard, GuardVerdict } from './action-policy.js';
import type { MonitorAction, MonitorFlag, MonitorFlagKind } from './output-monitor.js';

/** One tool call under review, before anything runs. */
export interface ReviewedCall {
  readonly runId: string;
  readonly agent: string;
  readonly step: number;
  readonly index: number;
  readonly toolName: string;
  /** The tool's description: its first word is one a task asking for it may say. */
  readonly toolDescription?: string | undefined;
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
  /**
   * Values of the run's private tool results (`privateValues`): the guard keeps them from
   * destinations the task did not name.
   */
  readonly privateValues?: readonly string[] | undefined;
  /**
   * The consequential tools the trusted task asks for, as a planning step read them before
   * any untrusted content entered the run (`intent_planned`). Once the run is tainted, a
   * consequential call to a tool outside it needs a human (rule `outside_intent`). Absent: the
   * run has no plan (the tools' `intent` words decide, or the guard derives them from each
   * tool's name and description).
   */
  readonly plannedTools?: readonly string[] | undefined;
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
/** The policy name under which the output monitor's flags hold or refuse a call. */
export const MONITOR_POLICY = 'monitor';

const STRENGTH: readonly GuardVerdict[] = ['allow', 'confirm', 'deny'];

/** What reviewCall weighs besides the call. */
export interface ReviewInputs {
  readonly guard?: Guard | undefined;
  /** An injection signal reached its threshold earlier in the run. */
  readonly signalled: boolean;
  /** The output monitor's flags on this call. */
  readonly flags?: readonly MonitorFlag[] | undefined;
  /** What each kind of flag does (`untrusted.monitor`); absent: flags only record. */
  readonly monitor?: Readonly<Record<MonitorFlagKind, MonitorAction>> | false | undefined;
}

/**
 * Review one call before it can run: the agent's guard (provenance of each argument, rules),
 * then the run's injection signal, which once over its threshold asks a human for every
 * `irreversible` and `egress` call, then the output monitor's flags that its setting makes act
 * (`confirm` or `deny`). Checks only ever tighten: deny beats confirm beats allow.
 * A call the guard allows still goes through the approval gates after this.
 *
 * ```ts
 * const review = reviewCall(call, { guard, signalled: state.signalled });
 * if (review.verdict === 'deny') refuse(review.reason);
 * ```
 */
export function reviewCall(
  call: ReviewedCall,
  { guard, signalled, flags = [], monitor }: ReviewInputs,
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
  if (monitor)
    for (const flag of flags) {
      const action = monitor[flag.kind];
      if (action === 'flag') continue;
      consider(
        { policy: MONITOR_POLICY, rule: flag.kind, verdict: action },
        `the output monitor flagged ${flag.argument ?? call.toolName}: ${flag.detail}`,
      );
    }
  return { verdict, reason, records };
}
