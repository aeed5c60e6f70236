import { print } from './terminal.js';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { DecisionFlags } from './approval-actions.js';
import { usageError } from './exit-codes.js';
import type { CliGlobals } from './open-runtime.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

const TOKEN_ENV = 'KEEL_APPROVER_TOKEN';

/**
 * `keel approvals`, `keel approve`, `keel deny`, `keel approvers add` and `keel serve` (the
 * dashboard and the approval API): the human side of gated calls. Decisions need an approver
 * token (`--token` or `KEEL_APPROVER_TOKEN`).
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
        else print(formatApprovals(list));
      });
    });

  const decide = (name: 'approve' | 'deny') =>
    program
      .command(name)
      .description(
        name === 'approve'
          ? 'approve a gated call, bound to the arguments hash you reviewed (optionally with edited arguments); its run resumes on any worker'
          : 'deny a gated call: it never runs and the model is told it was denied',
      )
      .argument('<approvalId>')
      .option('--reason <text>', 'why (recorded with the decision)')
      .option(
        '--hash <argsHash>',
        name === 'approve'
          ? 'the arguments hash you reviewed (`keel approvals` shows it); required unless you confirm the exact arguments at the terminal'
          : "the arguments hash you reviewed (default: the approval's current one)",
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
    .description('manage approvers, viewers and admins (tokens for deciding and the dashboard)')
    .command('add')
    .description('create an approver and print its token (shown once, stored hashed)')
    .argument('<name>')
    .option('--group <group...>', 'groups whose runs and approvals it sees (required unless admin)')
    .addOption(
      new Option(
        '--role <role>',
        'viewer: reads; approver: also decides, replays, forks; admin: every group',
      )
        .choices(['viewer', 'approver', 'admin'])
        .default('approver'),
    )
    .option('--json', 'print one JSON document')
    .action(
      async (
        name: string,
        options: { group?: string[]; role: 'viewer' | 'approver' | 'admin'; json?: boolean },
      ) => {
        const { withApprovals } = await import('./approval-actions.js');
        const { pc } = await import('./terminal.js');
        if (options.group === undefined && options.role !== 'admin') {
          throw usageError('--group is required (unless --role admin)');
        }
        await withApprovals(globals(), false, async (approvals) => {
          const { token, approver } = await approvals.addApprover({
            name,
            groups: options.group ?? [],
            role: options.role,
          });
          if (options.json)
            printJson({ name: approver.name, groups: approver.groups, role: approver.role, token });
          else {
            const groups =
              approver.groups.length === 0 ? 'all groups' : `groups ${approver.groups.join(', ')}`;
            print(`${approver.role} ${approver.name} (${groups})`);
            print(`token: ${token}`);
            print(
              pc.gray(
                `shown once; sign in to the dashboard (keel serve) with it${approver.role === 'viewer' ? '' : `, or set ${TOKEN_ENV} or pass --token to decide`}`,
              ),
            );
          }
        });
      },
    );

  program
    .command('serve')
    .description(
      'serve the dashboard at / (sign in with a token), the approval API at /approvals and the run stream API at /runs (bearer tokens)',
    )
    .option('--port <port>', 'port (0: any free port)', (value) => port(value), 4600)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--worker',
      'also execute queued runs in this process (a decision made here resumes its run at once)',
    )
    .action(async (options: { port: number; host: string; worker?: boolean }) => {
      const { serveKeel } = await import('../server/index.js');
      const { openRuntime } = await import('./open-runtime.js');
      const { runtime, close } = await openRuntime(globals());
      const worker = options.worker ? runtime.startWorker() : undefined;
      const server = await serveKeel({ runtime, port: options.port, host: options.host });
      print(
        `Keel on ${server.url}: dashboard at ${server.url}/, approval API at ${server.url}/approvals, run streams at ${server.url}/runs/<id>/events (store ${runtime.store.location}${worker ? '; executing queued runs here' : ''})`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      await worker?.stop();
      await close();
    });
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return parsed;
}

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}
