import { allFieldsOf, KeelError, refuseUnknownFields } from '../core/index.js';
import type { CallReview, ReviewedCall } from '../guard/index.js';
import type { ApprovalExpiry, GateReason } from '../journal/index.js';
import { TOOL_EFFECTS, type ToolEffect } from '../tools/index.js';

export type { GateReason };

/** One tool call as a gate sees it, before anything runs (as the guard reviewed it). */
export type GateCall = ReviewedCall;

/**
 * What a policy wants journaled about its verdict (a `guard_verdict` event): the rule that
 * fired and, per argument path, where the value came from. Plain JSON.
 */
export interface PolicyRecord {
  readonly policy: string;
  readonly rule: string;
  readonly origins?: Readonly<Record<string, string>> | undefined;
}

/** What one policy says of one call. */
export type PolicyVerdict = (
  | { readonly type: 'allow' }
  | { readonly type: 'confirm'; readonly reason: GateReason }
  | { readonly type: 'deny'; readonly reason: GateReason }
) & {
  /** Set by policies whose verdicts are journaled (a guard's): the gate reports it back. */
  readonly record?: PolicyRecord | undefined;
};

/**
 * A policy that feeds the gate: `confirm` routes the call to a human approval, `deny` refuses
 * it with a typed error fed back to the model. Must be pure and fast (it runs before a step's
 * calls are committed).
 *
 * ```ts
 * const noExternalEmail: GatePolicy = (call) =>
 *   call.toolName === 'send_email' && call.tainted
 *     ? { type: 'confirm', reason: { type: 'policy', policy: 'taint', message: 'tainted run' } }
 *     : { type: 'allow' };
 * ```
 */
export type GatePolicy = (call: GateCall) => PolicyVerdict;

/**
 * The gate's combined decision for one call: deny beats confirm beats allow. `records` lists
 * what policies asked to journal about this call (present only when some did).
 */
export type GateDecision = (
  | { readonly type: 'allow' }
  | { readonly type: 'deny'; readonly reason: GateReason }
  | {
      readonly type: 'confirm';
      readonly reason: GateReason;
      /** Every reason a human is asked for (`reason` is the first). */
      readonly reasons: readonly GateReason[];
      readonly approverGroup: string;
      readonly expiresAfterMs: number;
      readonly onExpiry: ApprovalExpiry;
    }
) & { readonly records?: readonly (PolicyRecord & { readonly verdict: PolicyVerdict['type'] })[] };

/** What happens when nobody decides in time. */
export type ExpiryOption =
  | 'deny'
  | 'end_run'
  | {
      readonly escalateTo: string;
      /** How long the second group has; defaults to the first group's time. */
      readonly expiresAfterMs?: number;
      /** When the second group does not decide either. Default `deny`. */
      readonly then?: 'deny' | 'end_run';
    };

export interface ApprovalRouting {
  /** Who may decide. Default `approvers`. */
  readonly approverGroup?: string;
  /** Default 24 hours. */
  readonly expiresAfterMs?: number;
  /** Default `deny`. */
  readonly onExpiry?: ExpiryOption;
}

/** Per-tool gate options: always confirm, never, or by effect; a confidence floor; who decides and by when. */
export interface ToolGateOptions extends ApprovalRouting {
  /** `confirm`: always ask; `allow`: never for its effect; `effect` (default): by effect. */
  readonly when?: 'confirm' | 'allow' | 'effect';
  /** Ask when the numeric argument `field` is missing or below `floor`. */
  readonly confidence?: { readonly field: string; readonly floor: number };
}

/** Which calls wait for a human: by effect, per tool, on a confidence floor, on scope, or by policy; and who decides. */
export interface GateOptions extends ApprovalRouting {
  /**
   * Effects that need a human. Default `irreversible` and `egress`; none for an agent with a
   * guard, which decides those calls by where their arguments came from.
   */
  readonly effects?: readonly ToolEffect[];
  /** Per tool: `confirm`, `allow`, or options that override the defaults. */
  readonly tools?: Readonly<Record<string, 'confirm' | 'allow' | ToolGateOptions>>;
  /** Returns why a call is outside the agent's declared scope, or `undefined` when inside. */
  readonly scope?: (call: GateCall) => string | undefined;
  /** Further policies (`allow | confirm | deny`), applied after the built-in ones. */
  readonly policies?: readonly GatePolicy[];
}

/**
 * A validated gate: decides, per call, allow / confirm / deny, after the guard reviewed it.
 * The guard's verdict counts like a policy's: deny beats confirm beats allow.
 */
export interface Gates {
  readonly options: GateOptions;
  decide(call: GateCall, review?: CallReview): GateDecision;
}

export const DEFAULT_APPROVER_GROUP = 'approvers';
export const DEFAULT_APPROVAL_EXPIRY_MS = 24 * 60 * 60 * 1000;
const GROUP_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

/** The fields of `GateOptions` and of one tool's setting: any other is refused, as a misspelt option. */
const GATE_FIELDS = allFieldsOf<GateOptions>()([
  'approverGroup',
  'expiresAfterMs',
  'onExpiry',
  'effects',
  'tools',
  'scope',
  'policies',
]);
const TOOL_GATE_FIELDS = allFieldsOf<ToolGateOptions>()([
  'approverGroup',
  'expiresAfterMs',
  'onExpiry',
  'when',
  'confidence',
]);

/**
 * Define an agent's gates. Invalid options throw `invalid_definition` naming the field.
 *
 * ```ts
 * const gates = defineGates({
 *   tools: { issue_refund: { approverGroup: 'finance', expiresAfterMs: 3_600_000,
 *     onExpiry: { escalateTo: 'finance-leads' } } },
 * });
 * ```
 */
export function defineGates(options: GateOptions, where = 'gates'): Gates {
  const fail = (field: string, problem: string): never => {
    throw new KeelError('invalid_definition', `${where}: "${field}" ${problem}`);
  };
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options))
    throw new KeelError('invalid_definition', `${where}: the gate options must be an object`);
  refuseUnknownFields(options, GATE_FIELDS, fail);
  const effects: readonly ToolEffect[] = options.effects ?? ['irreversible', 'egress'];
  if (
    !Array.isArray(effects) ||
    effects.some((effect: ToolEffect) => !TOOL_EFFECTS.includes(effect))
  )
    fail('effects', `must be a list of ${TOOL_EFFECTS.join(', ')}`);
  const defaults = resolveRouting(options, 'gates', fail, {
    approverGroup: DEFAULT_APPROVER_GROUP,
    expiresAfterMs: DEFAULT_APPROVAL_EXPIRY_MS,
    onExpiry: { type: 'deny' },
  });
  const perTool = new Map<
    string,
    { when: 'confirm' | 'allow' | 'effect'; tool: ToolGateOptions }
  >();
  for (const [name, setting] of Object.entries(options.tools ?? {})) {
    const field = `tools.${name}`;
    if (setting === 'confirm' || setting === 'allow') {
      perTool.set(name, { when: setting, tool: {} });
      continue;
    }
    if (typeof setting !== 'object' || (setting as unknown) === null)
      fail(field, "must be 'confirm', 'allow' or an options object");
    refuseUnknownFields(setting, TOOL_GATE_FIELDS, fail, `${field}.`);
    const when = setting.when ?? 'effect';
    if (!['confirm', 'allow', 'effect'].includes(when))
      fail(`${field}.when`, "must be 'confirm', 'allow' or 'effect'");
    if (setting.confidence !== undefined) {
      const { field: argument, floor } = setting.confidence;
      if (typeof argument !== 'string' || argument === '')
        fail(`${field}.confidence.field`, 'must name an argument');
      if (typeof floor !== 'number' || !(floor >= 0 && floor <= 1))
        fail(`${field}.confidence.floor`, 'must be a number from 0 to 1');
    }
    resolveRouting(setting, field, fail, defaults);
    perTool.set(name, { when, tool: setting });
  }
  if (options.scope !== undefined && typeof options.scope !== 'function')
    fail('scope', 'must be a function');
  const policies = options.policies ?? [];
  if (!Array.isArray(policies) || policies.some((policy) => typeof policy !== 'function'))
    fail('policies', 'must be a list of functions');

  return Object.freeze({
    options,
    decide(call: GateCall, review?: CallReview): GateDecision {
      const setting = perTool.get(call.toolName);
      const verdicts: PolicyVerdict[] = [];
      const when = setting?.when ?? 'effect';
      if (when === 'confirm') {
        verdicts.push({
          type: 'confirm',
          reason: { type: 'tool', message: `${call.toolName} always needs approval` },
        });
      } else if (when === 'effect' && effects.includes(call.effect)) {
        verdicts.push({ type: 'confirm', reason: { type: 'effect', effect: call.effect } });
      }
      const confidence = setting?.tool.confidence;
      if (confidence) {
        const value = argument(call.input, confidence.field);
        if (typeof value !== 'number' || !(value >= confidence.floor)) {
          verdicts.push({
            type: 'confirm',
            reason: {
              type: 'low_confidence',
              confidence: typeof value === 'number' ? value : null,
              floor: confidence.floor,
            },
          });
        }
      }
      const outside = options.scope?.(call);
      if (outside !== undefined)
        verdicts.push({ type: 'confirm', reason: { type: 'out_of_scope', message: outside } });
      const records: (PolicyRecord & { verdict: PolicyVerdict['type'] })[] = [];
      for (const policy of policies) {
        const verdict = policy(call);
        verdicts.push(verdict);
        if (verdict.record) records.push({ ...verdict.record, verdict: verdict.type });
      }
      if (review) {
        records.push(...review.records);
        if (review.verdict !== 'allow') {
          const { policy, message } = review.reason ?? { policy: 'guard', message: review.verdict };
          verdicts.push({ type: review.verdict, reason: { type: 'policy', policy, message } });
        }
      }
      const recorded = records.length > 0 ? { records } : {};

      const denied = verdicts.find((verdict) => verdict.type === 'deny');
      if (denied?.type === 'deny') return { type: 'deny', reason: denied.reason, ...recorded };
      const confirm = verdicts.find((verdict) => verdict.type === 'confirm');
      if (confirm?.type !== 'confirm') return { type: 'allow', ...recorded };
      const routing = setting
        ? resolveRouting(setting.tool, `tools.${call.toolName}`, fail, defaults)
        : defaults;
      const reasons = verdicts.flatMap((verdict) =>
        verdict.type === 'confirm' ? [verdict.reason] : [],
      );
      return { type: 'confirm', reason: confirm.reason, reasons, ...routing, ...recorded };
    },
  });
}

/** One line that says why a call was gated, for people. */
export function describeGateReason(reason: GateReason): string {
  switch (reason.type) {
    case 'effect':
      return `the tool's effect is ${reason.effect}`;
    case 'tool':
      return reason.message;
    case 'low_confidence':
      return `confidence ${reason.confidence ?? 'missing'} is below the floor ${reason.floor}`;
    case 'out_of_scope':
      return `outside the agent's scope: ${reason.message}`;
    case 'policy':
      return `policy ${reason.policy}: ${reason.message}`;
    default:
      reason satisfies never;
      return 'gated';
  }
}

interface Routing {
  readonly approverGroup: string;
  readonly expiresAfterMs: number;
  readonly onExpiry: ApprovalExpiry;
}

function resolveRouting(
  options: ApprovalRouting,
  field: string,
  fail: (field: string, problem: string) => never,
  defaults: Routing,
): Routing {
  const approverGroup = options.approverGroup ?? defaults.approverGroup;
  if (typeof approverGroup !== 'string' || !GROUP_NAME.test(approverGroup))
    fail(`${field}.approverGroup`, 'must be a group name (letters, digits, _ . -)');
  const expiresAfterMs = options.expiresAfterMs ?? defaults.expiresAfterMs;
  if (!Number.isFinite(expiresAfterMs) || expiresAfterMs <= 0)
    fail(`${field}.expiresAfterMs`, 'must be a positive number of milliseconds');
  let onExpiry: ApprovalExpiry = defaults.onExpiry;
  const option = options.onExpiry;
  if (option === 'deny') onExpiry = { type: 'deny' };
  else if (option === 'end_run') onExpiry = { type: 'end_run' };
  else if (typeof option === 'object') {
    if (typeof option.escalateTo !== 'string' || !GROUP_NAME.test(option.escalateTo))
      fail(`${field}.onExpiry.escalateTo`, 'must be a group name');
    const after = option.expiresAfterMs ?? expiresAfterMs;
    if (!Number.isFinite(after) || after <= 0)
      fail(`${field}.onExpiry.expiresAfterMs`, 'must be a positive number of milliseconds');
    const then = option.then ?? 'deny';
    if (then !== 'deny' && then !== 'end_run')
      fail(`${field}.onExpiry.then`, "must be 'deny' or 'end_run'");
    onExpiry = {
      type: 'escalate',
      approverGroup: option.escalateTo,
      expiresAfterMs: after,
      then: { type: then },
    };
  } else if (option !== undefined)
    fail(`${field}.onExpiry`, "must be 'deny', 'end_run' or { escalateTo }");
  return { approverGroup, expiresAfterMs, onExpiry };
}

function argument(input: unknown, field: string): unknown {
  return typeof input === 'object' && input !== null
    ? (input as Record<string, unknown>)[field]
    : undefined;
}
