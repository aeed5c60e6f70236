import { print } from './terminal.js';
import { Option, type Command } from 'commander';
import type { DecisionFlags } from './approval-actions.js';
import { KeelError, MAX_LIST_LIMIT, parseDuration } from '../core/index.js';
import { usageError } from './exit-codes.js';
import type { CliGlobals } from './open-runtime.js';
import { host, limit, port } from './option-parsers.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

const TOKEN_ENV = 'KEEL_APPROVER_TOKEN';

/**
 * `keel approvals [show]`, `keel approve`, `keel deny`, `keel approvers add|list|revoke|rotate` and `keel serve` (the
 * dashboard and the approval API): the human side of gated calls. Decisions need an approver
 * token (`--token` or `KEEL_APPROVER_TOKEN`).
 */
export function registerApprovalCommands(program: Command, { globals, printJson }: Helpers): void {
  const approvalsCommand = program
    .command('approvals')
    .description(
      "list approvals (gated calls waiting for, or decided by, a human); with a token, only the token's groups (an admin sees all)",
    )
    .option('--json', 'print one JSON document')
    .option('--state <state>', 'only this state: pending, approved, denied, expired, escalated')
    .option('--run <runId>', "only this run's approvals")
    .option('--limit <n>', `how many (at most ${MAX_LIST_LIMIT})`, (value) => limit(value), 50)
    .addOption(new Option('--token <token>', 'approver token: list its groups only').env(TOKEN_ENV))
    .action(
      async (options: {
        json?: boolean;
        state?: string;
        run?: string;
        limit: number;
        token?: string;
      }) => {
        const { approvalJson, formatApprovals, parseState, withApprovals } =
          await import('./approval-actions.js');
        const { visibleGroups } = await import('../approval/index.js');
        const state = options.state === undefined ? undefined : parseState(options.state);
        await withApprovals(globals(), false, async (approvals) => {
          const viewer =
            options.token === undefined ? undefined : await approvals.authenticate(options.token);
          // Apply due expiries first, so what is listed as pending can still be decided.
          await approvals.expireDue();
          const list = await approvals.list({
            ...(state ? { states: [state] } : {}),
            ...(options.run ? { runId: options.run } : {}),
            ...(viewer ? { groups: visibleGroups(viewer) } : {}),
            limit: options.limit,
          });
          if (options.json) printJson({ approvals: list.map(approvalJson) });
          else print(formatApprovals(list));
        });
      },
    );
  approvalsCommand
    .command('show')
    .description(
      "one approval with its decision log; with a token, only if the token's groups decide it",
    )
    .argument('<approvalId>')
    .option('--json', 'print one JSON document')
    .addOption(new Option('--token <token>', 'approver token').env(TOKEN_ENV))
    .action(async (id: string, own: { json?: boolean; token?: string }) => {
      // `--json` and `--token` after `show` may be read by `approvals` itself: take either.
      const options = { ...approvalsCommand.opts<{ json?: boolean; token?: string }>(), ...own };
      const { approvalJson, formatApprovals, formatDecisions, withApprovals } =
        await import('./approval-actions.js');
      const { approverSees } = await import('../approval/index.js');
      await withApprovals(globals(), false, async (approvals) => {
        const viewer =
          options.token === undefined ? undefined : await approvals.authenticate(options.token);
        const approval = await approvals.get(id);
        if (viewer && !approverSees(viewer, approval.approverGroup))
          // Like the HTTP API: an approval of another group does not exist for this token.
          throw new KeelError(
            'forbidden',
            `${viewer.name} is not in group "${approval.approverGroup}", which decides approval ${approval.id}`,
          );
        const decisions = await approvals.decisions(approval.id);
        if (options.json) printJson({ approval: approvalJson(approval), decisions });
        else print(`${formatApprovals([approval])}\n${formatDecisions(decisions)}`);
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

  const approvers = program
    .command('approvers')
    .description(
      'manage approvers, viewers and admins (tokens for deciding and the dashboard); whoever can open the store manages them',
    );
  approvers
    .command('add')
    .description(
      'create an approver and print its token (shown once, stored hashed); names are unique',
    )
    .argument('<name>')
    .option(
      '--group <group...>',
      'groups whose runs and approvals it sees (required unless admin; an admin has every group)',
    )
    .addOption(
      new Option(
        '--role <role>',
        'viewer: reads; approver: also decides, replays, forks; admin: every group',
      )
        .choices(['viewer', 'approver', 'admin'])
        .default('approver'),
    )
    .option('--expires-in <duration>', 'the token stops working after this long (30d, 12h, 15m)')
    .option('--json', 'print one JSON document')
    .action(
      async (
        name: string,
        options: {
          group?: string[];
          role: 'viewer' | 'approver' | 'admin';
          expiresIn?: string;
          json?: boolean;
        },
      ) => {
        const { withApprovals, printToken } = await import('./approval-actions.js');
        if (options.group === undefined && options.role !== 'admin') {
          throw usageError('--group is required (unless --role admin)');
        }
        // Stored groups would be listed as the admin's, yet it sees and decides for every group.
        if (options.group !== undefined && options.role === 'admin') {
          throw usageError('--group does not apply to --role admin: an admin has every group');
        }
        const expiresInMs = lifetime(options.expiresIn);
        await withApprovals(globals(), false, async (approvals) => {
          const added = await approvals.addApprover({
            name,
            groups: options.group ?? [],
            role: options.role,
            expiresInMs,
          });
          printToken(added, options.json === true, printJson, TOKEN_ENV);
        });
      },
    );
  approvers
    .command('list')
    .description('list approvers: id, role, groups, expiry, revocation (never tokens)')
    .option('--json', 'print one JSON document')
    .action(async (options: { json?: boolean }) => {
      const { withApprovals, formatApprovers, approverJson } =
        await import('./approval-actions.js');
      await withApprovals(globals(), false, async (approvals) => {
        const list = await approvals.listApprovers();
        if (options.json) printJson({ approvers: list.map(approverJson) });
        else print(formatApprovers(list));
      });
    });
  approvers
    .command('revoke')
    .description('revoke an approver: its token stops working at once (its name stays taken)')
    .argument('<name>')
    .option('--json', 'print one JSON document')
    .action(async (name: string, options: { json?: boolean }) => {
      const { withApprovals, approverJson } = await import('./approval-actions.js');
      await withApprovals(globals(), false, async (approvals) => {
        const revoked = await approvals.revokeApprover(name);
        if (options.json) printJson(approverJson(revoked));
        else print(`revoked ${revoked.name} (${revoked.id}): its token no longer works`);
      });
    });
  approvers
    .command('rotate')
    .description(
      'issue a new token for an approver (shown once); the old one stops working at once',
    )
    .argument('<name>')
    .option('--expires-in <duration>', 'the new token stops working after this long (30d, 12h)')
    .option('--json', 'print one JSON document')
    .action(async (name: string, options: { expiresIn?: string; json?: boolean }) => {
      const { withApprovals, printToken } = await import('./approval-actions.js');
      const expiresInMs = lifetime(options.expiresIn);
      await withApprovals(globals(), false, async (approvals) => {
        const rotated = await approvals.rotateApprover(name, { expiresInMs });
        printToken(rotated, options.json === true, printJson, TOKEN_ENV);
      });
    });

  program
    .command('serve')
    .description(
      'serve the dashboard at / (sign in with a token), the approval API at /approvals and the run stream API at /runs (bearer tokens)',
    )
    .option('--port <port>', 'port (0: any free port)', (value) => port(value), 4600)
    .option('--host <host>', 'interface to listen on', (value) => host(value), '127.0.0.1')
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

/** The longest token lifetime `--expires-in` gives: 100 years (no `--expires-in`: no expiry). */
const MAX_LIFETIME_DAYS = 36_500;

function lifetime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text, '--expires-in');
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
  if (ms > MAX_LIFETIME_DAYS * 86_400_000)
    throw usageError(
      `--expires-in is at most ${MAX_LIFETIME_DAYS}d (100 years; leave it out for a token that never expires)`,
    );
  return ms;
}
