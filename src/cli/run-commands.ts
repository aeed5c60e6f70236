import { print, writeErr, writeOut } from './terminal.js';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { ApprovalRecord } from '../store/index.js';
import { EXIT, usageError } from './exit-codes.js';
import type { CliGlobals } from './open-runtime.js';

interface Helpers {
  readonly globals: () => CliGlobals;
  readonly printJson: (value: unknown) => void;
}

interface TaskFlags {
  readonly task?: string;
  readonly taskFile?: string;
}

interface RunFlags extends TaskFlags {
  readonly model?: string;
  readonly json?: boolean;
  readonly stream?: boolean;
}

/** The model strings every command with `--model` accepts. */
export const MODEL_FORMS =
  'simulator, anthropic:<model>, openai:<model>, openai-compatible:<baseURL>#<model>; a,b for a fallback chain';
const MODEL_HELP = `override the model: ${MODEL_FORMS}`;

/** The model flag `run`, `submit` and `fork` share, so their help lists the same forms. */
export function modelOption(): Option {
  return new Option('--model <model>', MODEL_HELP).env('KEEL_MODEL');
}

/**
 * `keel run` (execute here and print the result) and `keel submit` (queue for any `keel worker`).
 * The task comes from `--task`, `--task-file <path>` or `--task-file -` (stdin).
 */
export function registerRunCommands(program: Command, { globals, printJson }: Helpers): void {
  program
    .command('run')
    .description('run an agent on a task in this process and print the result')
    .argument('<agent>', 'agent name (see `keel agents`)')
    .option('--task <text>', 'the task')
    .option('--task-file <path>', 'read the task from a file ("-" reads stdin)')
    .addOption(modelOption())
    .option('--json', 'print one JSON document (with --stream: one JSON event per line)')
    .option(
      '--stream',
      "print the model's text as it arrives (stdout) and the run's events as they happen (stderr)",
    )
    .action(async (agentName: string, options: RunFlags) => {
      const task = await readTask(options);
      if (options.stream) {
        await streamRun(agentName, task, options, globals);
        return;
      }
      const { openRuntime } = await import('./open-runtime.js');
      const { formatRunResult, runJson } = await import('./format.js');
      const { runtime, close } = await openRuntime(globals());
      const waitedOn: ApprovalRecord[] = [];
      try {
        if (!runtime.agent(agentName)) {
          throw usageError(`unknown agent "${agentName}"; see \`keel agents\``);
        }
        const controller = new AbortController();
        const onSignal = (): void => {
          controller.abort();
        };
        process.once('SIGINT', onSignal);
        let result;
        try {
          result = await runtime.run(agentName, task, {
            model: options.model,
            signal: controller.signal,
            onWaiting(approvals) {
              waitedOn.push(...approvals);
              for (const approval of approvals) writeErr(waitingNotice(approval));
            },
          });
        } catch (error) {
          const parked = waitedOn[0];
          if (!controller.signal.aborted || parked === undefined) throw error;
          // Interrupted while parked: the run is durable and waits for its decision elsewhere.
          if (options.json)
            printJson({
              id: parked.runId,
              status: 'waiting',
              approvals: waitedOn.map(approvalRef),
            });
          writeErr(
            `stopped waiting; run ${parked.runId} stays parked until its approval is decided, then any \`keel worker\` resumes it\n`,
          );
          process.exitCode = EXIT.failed;
          return;
        } finally {
          process.off('SIGINT', onSignal);
        }
        if (options.json) printJson({ ...runJson(result), approvals: waitedOn.map(approvalRef) });
        else print(formatRunResult(result));
        process.exitCode = result.status === 'succeeded' ? EXIT.ok : EXIT.failed;
      } finally {
        await close();
      }
    });

  program
    .command('submit')
    .description('queue a run for any `keel worker` and print its id (does not wait)')
    .argument('<agent>', 'agent name (see `keel agents`)')
    .option('--task <text>', 'the task')
    .option('--task-file <path>', 'read the task from a file ("-" reads stdin)')
    .addOption(modelOption())
    .option('--json', 'print one JSON document')
    .action(async (agentName: string, options: TaskFlags & { model?: string; json?: boolean }) => {
      const task = await readTask(options);
      const { openRuntime } = await import('./open-runtime.js');
      const { runtime, close } = await openRuntime(globals());
      try {
        if (!runtime.agent(agentName)) {
          throw usageError(`unknown agent "${agentName}"; see \`keel agents\``);
        }
        const record = await runtime.submit(agentName, task, { model: options.model });
        if (options.json) printJson({ id: record.id, agent: record.agent, status: record.status });
        else {
          print(record.id);
          writeErr(
            `queued; a \`keel worker\` runs it — follow it with \`keel show ${record.id}\`\n`,
          );
        }
      } finally {
        await close();
      }
    });
}

/** The task from exactly one of `--task` and `--task-file` (a path, or `-` for stdin). */
export async function readTask(
  options: TaskFlags,
  stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean } = process.stdin,
): Promise<string> {
  if (options.task !== undefined && options.taskFile !== undefined) {
    throw usageError('give either --task or --task-file, not both');
  }
  let task: string;
  if (options.task !== undefined) task = options.task;
  else if (options.taskFile === undefined) {
    throw usageError('a task is required: --task <text> or --task-file <path> ("-" for stdin)');
  } else if (options.taskFile === '-') {
    if (stdin.isTTY) throw usageError('--task-file - reads stdin, but stdin is a terminal');
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Uint8Array));
    task = Buffer.concat(chunks).toString('utf8');
  } else {
    try {
      task = await readFile(options.taskFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw usageError(`cannot read --task-file ${options.taskFile}: ${code}`);
    }
  }
  if (task.trim() === '') throw usageError('the task is empty');
  return task;
}

function approvalRef(approval: ApprovalRecord) {
  return {
    id: approval.id,
    group: approval.approverGroup,
    tool: approval.toolName,
    argsHash: approval.argsHash,
    approve: approveCommand(approval),
  };
}

function approveCommand(approval: ApprovalRecord): string {
  return `keel approve ${approval.id} --hash ${approval.argsHash} --token <approver token>`;
}

/** What `keel run` prints (stderr) when its run parks for a human. */
export function waitingNotice(approval: ApprovalRecord): string {
  return [
    `waiting for approval ${approval.id}: ${approval.toolName} needs a decision from group "${approval.approverGroup}"`,
    `  approve: ${approveCommand(approval)}   (or \`keel deny ${approval.id}\`; see \`keel approvals\`)`,
    '  Ctrl-C stops waiting here; the run stays parked and any `keel worker` resumes it after the decision.',
    '',
  ].join('\n');
}

/**
 * `keel run --stream`: the run executes here as with `keel run`; its text goes to stdout as it
 * arrives and its other events to stderr, one line each (with `--json`, every event is one JSON
 * line on stdout). Ctrl-C cancels the run.
 */
async function streamRun(
  agentName: string,
  task: string,
  options: RunFlags,
  globals: () => CliGlobals,
): Promise<void> {
  const { openRuntime } = await import('./open-runtime.js');
  const { describeStreamEvent } = await import('./stream-format.js');
  const { runtime, close } = await openRuntime(globals());
  try {
    if (!runtime.agent(agentName)) {
      throw usageError(`unknown agent "${agentName}"; see \`keel agents\``);
    }
    const controller = new AbortController();
    const onSignal = (): void => {
      controller.abort();
    };
    process.once('SIGINT', onSignal);
    let status: string | undefined;
    /** Text printed since the last line break, so events start on a line of their own. */
    let midLine = false;
    const streamed = new Set<number>();
    try {
      const stream = runtime.stream(agentName, task, {
        ...(options.model === undefined ? {} : { model: options.model }),
        signal: controller.signal,
      });
      for await (const event of stream) {
        if (event.type === 'run_finished') status = event.result.status;
        if (options.json) {
          writeOut(`${JSON.stringify(event)}\n`);
          continue;
        }
        if (event.type === 'text_delta') {
          streamed.add(event.step);
          writeOut(event.text);
          midLine = !event.text.endsWith('\n');
          continue;
        }
        if (event.type === 'text_completed') {
          // A model that does not stream: its text comes whole.
          if (!streamed.has(event.step)) writeOut(`${event.text}\n`);
          else if (midLine) writeOut('\n');
          midLine = false;
          continue;
        }
        if (midLine) {
          writeOut('\n');
          midLine = false;
        }
        writeErr(`${describeStreamEvent(event)}\n`);
      }
    } finally {
      process.off('SIGINT', onSignal);
    }
    process.exitCode = status === 'succeeded' ? EXIT.ok : EXIT.failed;
  } finally {
    await close();
  }
}
