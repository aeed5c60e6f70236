import { InvalidArgumentError, Option, type Command } from 'commander';
import type { DecisionFlags } from './approval-actions.js';
import type { CliGlobals } from './open-runtime.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

const TOKEN_ENV = 'KEEL_APPROVER_TOKEN';

/**
 * `keel approvals`, `keel approve`, `keel deny`, `keel approvers add` and `keel serve`: the
 * human side of gated calls. Decisions need an approver token (`--token` or
 * `KEEL_APPROVER_TOKEN`).
 */
export function registerApprovalCommands(program: Command, { globals, printJson }: Helpers): void {
  program
    .command('approvals')
    .description('list approvals (gated calls waiting for, or decided by, a human)')
    .option('--json', 'print one JSON document')
    .option('--state <state>', 'only this state: pending, approved, denied, expired, escalated')
    .option('--run <runId>', "only this run's approvals")
    .option('--limit <n>', 'how many', (value) => positiveInt(value), 50)
    .action(async (options: { json?: boolean; state?: string; run?: string; limit: number }) => {
      const { approvalJson, formatApprovals, parseState, withApprovals } =
        await import('./approval-actions.js');
      const state = options.state === undefined ? undefined : parseState(options.state);
      await withApprovals(globals(), false, async (approvals) => {
        // Apply due expiries first, so what is listed as pending can still be decided.
        await approvals.expireDue();
        const list = await approvals.list({
          ...(state ? { states: [state] } : {}),
          ...(options.run ? { runId: options.run } : {}),
          limit: options.limit,
        });
        if (options.json) printJson({ approvals: list.map(approvalJson) });
        else console.log(formatApprovals(list));
      });
    });

  const decide = (name: 'approve' | 'deny') =>
    program
      .command(name)
      .description(
        name === 'approve'
          ? 'approve a gated call (optionally with edited arguments); its run resumes on any worker'
          : 'deny a gated call: it never runs and the model is told it was denied',
      )
      .argument('<approvalId>')
      .option('--reason <text>', 'why (recorded with the decision)')
      .option(
        '--hash <argsHash>',
        "the arguments hash you reviewed (default: the approval's current one, shown by `keel approvals`)",
      )
      .addOption(new Option('--token <token>', 'approver token').env(TOKEN_ENV))
      .option('--json', 'print one JSON document');

  decide('approve')
    .option(
      '--edit <json>',
      "approve with these arguments instead (validated against the tool's schema)",
    )
    .action(async (id: string, options: DecisionFlags & { edit?: string }) => {
      const { decideCommand, parseJson } = await import('./approval-actions.js');
      const editedArgs = options.edit === undefined ? undefined : parseJson(options.edit, '--edit');
      await decideCommand(globals(), printJson, id, 'approve', options, editedArgs);
    });
  decide('deny').action(async (id: string, options: DecisionFlags) => {
    const { decideCommand } = await import('./approval-actions.js');
    await decideCommand(globals(), printJson, id, 'deny', options, undefined);
  });

  program
    .command('approvers')
    .description('manage approvers')
    .command('add')
    .description('create an approver and print its token (shown once, stored hashed)')
    .argument('<name>')
    .requiredOption('--group <group...>', 'groups the approver decides for')
    .option('--json', 'print one JSON document')
    .action(async (name: string, options: { group: string[]; json?: boolean }) => {
      const { withApprovals } = await import('./approval-actions.js');
      const { default: pc } = await import('picocolors');
      await withApprovals(globals(), false, async (approvals) => {
        const { token, approver } = await approvals.addApprover({ name, groups: options.group });
        if (options.json) printJson({ name: approver.name, groups: approver.groups, token });
        else {
          console.log(`approver ${approver.name} (groups ${approver.groups.join(', ')})`);
          console.log(`token: ${token}`);
          console.log(pc.gray(`shown once; set ${TOKEN_ENV} or pass --token to decide`));
        }
      });
    });

  program
    .command('serve')
    .description('serve the approval API over HTTP (list, get, decide; bearer approver tokens)')
    .option('--port <port>', 'port', (value) => positiveInt(value), 4600)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (options: { port: number; host: string }) => {
      const { serveApprovals } = await import('../server/index.js');
      const { openRuntime } = await import('./open-runtime.js');
      const { runtime, close } = await openRuntime(globals());
      const server = await serveApprovals({
        approvals: runtime.approvals,
        port: options.port,
        host: options.host,
      });
      console.log(`approval API on ${server.url} (store ${runtime.store.location})`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      await close();
    });
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}
