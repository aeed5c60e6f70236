import { forTerminal, oneLine, pc, print } from './terminal.js';
import {
  approvalJson,
  createApprovals,
  describeGateReason,
  requireDecider,
  type Approvals,
  type GateReason,
} from '../approval/index.js';
import { canonicalJson, KeelError } from '../core/index.js';
import {
  APPROVAL_STATES,
  type ApprovalDecisionEntry,
  type ApprovalRecord,
  type ApprovalState,
  type ApproverRecord,
} from '../store/index.js';
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
  confirm: Confirmation = terminalConfirmation(),
): Promise<void> {
  await withApprovals(globals, editedArgs !== undefined, async (approvals) => {
    // Who asks comes first: a stranger or a viewer learns nothing of the arguments.
    requireDecider(await approvals.authenticate(options.token));
    const current = await approvals.get(id);
    let argsHash = options.hash;
    if (argsHash === undefined) {
      if (decision === 'deny') argsHash = current.argsHash;
      else if (!confirm.interactive)
        throw usageError(
          `--hash is required: name the arguments hash you reviewed (\`keel approvals\` shows ${current.id}'s), or run \`keel approve\` in a terminal to confirm the arguments`,
        );
      else argsHash = await confirmArguments(current, confirm);
    }
    const decided = await approvals.decide({
      token: options.token,
      id,
      decision,
      argsHash,
      reason: options.reason,
      editedArgs,
    });
    if (options.json) printJson(approvalJson(decided));
    else {
      // What was decided on, exactly (shown before the decision when it was confirmed here).
      if (options.hash !== undefined) print(describeBinding(current));
      const edited =
        decided.editedArgs === undefined ? '' : ` with ${canonicalJson(decided.editedArgs)}`;
      print(
        `${decided.id} ${colorState(decided.state)} by ${decided.decidedBy ?? '?'}${edited}; run ${decided.runId} resumes on the next free worker`,
      );
    }
  });
}

/** How `keel approve` without `--hash` asks the person at the terminal. */
export interface Confirmation {
  /** Whether there is a person to ask (stdin and stdout are a terminal). */
  readonly interactive: boolean;
  /** Show `text` and return the line typed. */
  ask(text: string): Promise<string>;
}

function terminalConfirmation(): Confirmation {
  return {
    interactive: process.stdin.isTTY && process.stdout.isTTY,
    async ask(text) {
      const { createInterface } = await import('node:readline/promises');
      const lines = createInterface({ input: process.stdin, output: process.stdout });
      try {
        return await lines.question(forTerminal(text));
      } finally {
        lines.close();
      }
    },
  };
}

/** What an approval binds to: the call and its exact arguments, and their hash. */
export function describeBinding(approval: ApprovalRecord): string {
  return [
    `${pc.bold(approval.id)}  ${oneLine(approval.toolName)}  (run ${approval.runId}, group ${approval.approverGroup})`,
    `why: ${oneLine(describeGateReason(approval.gateReason as GateReason))}`,
    'arguments, exactly:',
    JSON.stringify(approval.args, null, 2),
    `hash ${approval.argsHash}`,
  ].join('\n');
}

/**
 * Show the exact arguments and their hash, and bind to that hash only when the person types
 * `yes`; anything else cancels (a usage error, nothing decided).
 */
export async function confirmArguments(
  approval: ApprovalRecord,
  confirm: Confirmation,
): Promise<string> {
  const answer = await confirm.ask(
    `${describeBinding(approval)}\nApprove exactly these arguments? Type yes to approve: `,
  );
  if (answer.trim().toLowerCase() !== 'yes')
    throw usageError(`not approved: ${approval.id} is unchanged`);
  return approval.argsHash;
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
        `${pc.bold(approval.id)}  ${colorState(approval.state)}  ${oneLine(approval.toolName)} ${args.length > 80 ? `${args.slice(0, 79)}…` : args}`,
        `  run ${approval.runId} (${oneLine(approval.agent)}), group ${approval.approverGroup}, expires ${new Date(approval.expiresAt).toISOString()}`,
        `  why: ${oneLine(describeGateReason(approval.gateReason as GateReason))}; hash ${approval.argsHash}`,
      ];
      if (approval.decidedBy)
        lines.push(
          `  decided by ${oneLine(approval.decidedBy)}${approval.decidedById ? ` (${approval.decidedById})` : ''}${approval.decisionReason ? `: ${oneLine(approval.decisionReason)}` : ''}`,
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

/** The JSON shape of an approver in `--json` output: never its token or the token's hash. */
export function approverJson(approver: ApproverRecord) {
  const iso = (at: number | null) => (at === null ? null : new Date(at).toISOString());
  return {
    id: approver.id,
    name: approver.name,
    role: approver.role,
    groups: approver.groups,
    createdAt: iso(approver.createdAt),
    expiresAt: iso(approver.expiresAt),
    revokedAt: iso(approver.revokedAt),
  };
}

export function formatApprovers(list: readonly ApproverRecord[], now = Date.now()): string {
  if (list.length === 0) return pc.gray('no approvers (keel approvers add <name> --group <group>)');
  return list
    .map((approver) => {
      const groups = approver.role === 'admin' ? 'all groups' : approver.groups.join(', ');
      const status =
        approver.revokedAt !== null
          ? pc.red(`revoked ${new Date(approver.revokedAt).toISOString()}`)
          : approver.expiresAt === null
            ? pc.green('active')
            : approver.expiresAt <= now
              ? pc.red(`expired ${new Date(approver.expiresAt).toISOString()}`)
              : pc.green(`active until ${new Date(approver.expiresAt).toISOString()}`);
      return `${pc.bold(oneLine(approver.name))}  ${approver.id}  ${approver.role}  ${oneLine(groups)}  ${status}`;
    })
    .join('\n');
}

/** Print a token just issued (add, rotate): shown once. */
export function printToken(
  issued: { token: string; approver: ApproverRecord },
  json: boolean,
  printJson: (value: unknown) => void,
  tokenEnv: string,
): void {
  const { token, approver } = issued;
  if (json) {
    printJson({ ...approverJson(approver), token });
    return;
  }
  const groups = approver.role === 'admin' ? 'all groups' : `groups ${approver.groups.join(', ')}`;
  const until =
    approver.expiresAt === null ? '' : `, until ${new Date(approver.expiresAt).toISOString()}`;
  print(`${approver.role} ${approver.name} ${approver.id} (${groups}${until})`);
  print(`token: ${token}`);
  print(
    pc.gray(
      `shown once; sign in to the dashboard (keel serve) with it${approver.role === 'viewer' ? '' : `, or set ${tokenEnv} or pass --token to decide`}`,
    ),
  );
}

export function formatDecisions(list: readonly ApprovalDecisionEntry[]): string {
  if (list.length === 0) return pc.gray('  no decisions yet');
  return list
    .map(
      (entry) =>
        `  ${new Date(entry.at).toISOString()} ${entry.decision} ${entry.outcome} by ${oneLine(entry.actor)}${entry.actorId ? ` (${entry.actorId})` : ''}${entry.reason ? `: ${oneLine(entry.reason)}` : ''}`,
    )
    .join('\n');
}
