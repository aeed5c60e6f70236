import { pc, print } from './terminal.js';
import {
  approvalJson,
  createApprovals,
  describeGateReason,
  type Approvals,
  type GateReason,
} from '../approval/index.js';
import { canonicalJson, KeelError } from '../core/index.js';
import { APPROVAL_STATES, type ApprovalRecord, type ApprovalState } from '../store/index.js';
import { usageError } from './exit-codes.js';
import type { CliGlobals } from './open-runtime.js';

export { approvalJson };

export interface DecisionFlags {
  reason?: string;
  hash?: string;
  token?: string;
  json?: boolean;
}

export async function decideCommand(
  globals: CliGlobals,
  printJson: (value: unknown) => void,
  id: string,
  decision: 'approve' | 'deny',
  options: DecisionFlags,
  editedArgs: unknown,
): Promise<void> {
  await withApprovals(globals, editedArgs !== undefined, async (approvals) => {
    const current = await approvals.get(id);
    const decided = await approvals.decide({
      token: options.token,
      id,
      decision,
      argsHash: options.hash ?? current.argsHash,
      reason: options.reason,
      editedArgs,
    });
    if (options.json) printJson(approvalJson(decided));
    else {
      const edited =
        decided.editedArgs === undefined ? '' : ` with ${canonicalJson(decided.editedArgs)}`;
      print(
        `${decided.id} ${colorState(decided.state)} by ${decided.decidedBy ?? '?'}${edited}; run ${decided.runId} resumes on the next free worker`,
      );
    }
  });
}

/** Approvals over the store; with `needsTools`, over a runtime whose agents validate edits. */
export async function withApprovals(
  globals: CliGlobals,
  needsTools: boolean,
  work: (approvals: Approvals) => Promise<void>,
): Promise<void> {
  if (needsTools) {
    const { openRuntime } = await import('./open-runtime.js');
    const { runtime, close } = await openRuntime(globals);
    try {
      await work(runtime.approvals);
    } finally {
      await close();
    }
    return;
  }
  const { openStoreFromOptions } = await import('./open-runtime.js');
  const store = await openStoreFromOptions(globals);
  try {
    await work(createApprovals({ store }));
  } finally {
    await store.close();
  }
}

export function formatApprovals(list: readonly ApprovalRecord[]): string {
  if (list.length === 0) return pc.gray('no approvals');
  return list
    .map((approval) => {
      const args = canonicalJson(approval.args);
      const lines = [
        `${pc.bold(approval.id)}  ${colorState(approval.state)}  ${approval.toolName} ${args.length > 80 ? `${args.slice(0, 79)}…` : args}`,
        `  run ${approval.runId} (${approval.agent}), group ${approval.approverGroup}, expires ${new Date(approval.expiresAt).toISOString()}`,
        `  why: ${describeGateReason(approval.gateReason as GateReason)}; hash ${approval.argsHash}`,
      ];
      if (approval.decidedBy)
        lines.push(
          `  decided by ${approval.decidedBy}${approval.decisionReason ? `: ${approval.decisionReason}` : ''}`,
        );
      return lines.join('\n');
    })
    .join('\n');
}

function colorState(state: ApprovalState): string {
  switch (state) {
    case 'pending':
      return pc.yellow(state);
    case 'approved':
      return pc.green(state);
    case 'denied':
    case 'expired':
      return pc.red(state);
    case 'escalated':
      return pc.magenta(state);
    default:
      state satisfies never;
      return state;
  }
}

export function parseState(value: string): ApprovalState {
  if (!(APPROVAL_STATES as readonly string[]).includes(value))
    throw usageError(`--state must be one of ${APPROVAL_STATES.join(', ')}`);
  return value as ApprovalState;
}

export function parseJson(text: string, flag: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new KeelError('invalid_input', `${flag} is not valid JSON`);
  }
}
