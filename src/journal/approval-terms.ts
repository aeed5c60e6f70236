import type { ToolEffect } from './tool-terms.js';

/** Why a call was gated. Plain JSON: it is journaled and stored on the approval record. */
export type GateReason =
  | { readonly type: 'effect'; readonly effect: ToolEffect }
  | { readonly type: 'tool'; readonly message: string }
  | { readonly type: 'low_confidence'; readonly confidence: number | null; readonly floor: number }
  | { readonly type: 'out_of_scope'; readonly message: string }
  | { readonly type: 'policy'; readonly policy: string; readonly message: string };

/** What happens to an approval nobody decided in time. */
export type ApprovalExpiry =
  | { readonly type: 'deny' }
  /** A new approval for a second group; `then` applies when that one expires too. */
  | {
      readonly type: 'escalate';
      readonly approverGroup: string;
      readonly expiresAfterMs: number;
      readonly then: { readonly type: 'deny' } | { readonly type: 'end_run' };
    }
  /** The run ends `escalated`: handed to people, outside the agent. */
  | { readonly type: 'end_run' };
