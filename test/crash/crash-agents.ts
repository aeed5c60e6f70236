import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { z } from 'zod';
import {
  defineAgent,
  defineTool,
  simulator,
  type Agent,
  type ToolContext,
} from '../../src/index.js';

/**
 * The agent the crash test drives, shared by the worker process (which executes runs) and the
 * test process (which submits them and checks the outcome).
 *
 * Each run asks for `TOOL_STEPS` steps of two parallel tool calls (a read and an idempotent
 * write), then answers with every tool result it saw, so a run's output proves that the results
 * recorded before a crash were replayed into the conversation intact.
 */
export const CRASH_AGENT = 'crash_kit';
export const TOOL_STEPS = 6;

/** One line of the side-effect log, appended (and fsynced) by the tools and the worker. */
export interface SideEffectLine {
  readonly key: string;
  /**
   * `begin` before a side effect, `end` after it; `replay` when a re-issued call found its
   * effect already done under the same key and returned the recorded result instead;
   * `committed` once the worker saw the call's `tool_finished` event commit.
   */
  readonly phase: 'begin' | 'end' | 'replay' | 'committed';
  readonly pid: number;
  readonly tool: string;
}

export function crashTask(index: number): string {
  return `Assemble kit k${String(index).padStart(2, '0')}`;
}

/** The output a run of `task` must end with: a pure function of the task. */
export function expectedOutput(task: string): string {
  const contents: string[] = [];
  for (let step = 0; step < TOOL_STEPS; step++) {
    const part = partFor(task, step);
    contents.push(JSON.stringify(stockOf(part)), JSON.stringify(reservationOf(part)));
  }
  return finalAnswer(contents);
}

/** Append one line to the side-effect log and make it durable before returning. */
export function appendSideEffect(logPath: string, line: SideEffectLine): void {
  const fd = openSync(logPath, 'a');
  try {
    writeSync(fd, `${JSON.stringify(line)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function readSideEffects(logPath: string): SideEffectLine[] {
  if (!existsSync(logPath)) return [];
  return readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SideEffectLine);
}

/**
 * The crash agent. `logPath` is where its tools record their side effects; the test process
 * never executes a tool, so any path will do there.
 */
export function createCrashAgents({ logPath }: { logPath: string }): Agent[] {
  /**
   * Perform a side effect once per idempotency key, as a real idempotent API would: a key
   * whose effect already ended returns the same result without doing it again.
   */
  async function once<T>(toolName: string, context: ToolContext, effect: () => T): Promise<T> {
    const line = { key: context.idempotencyKey, pid: process.pid, tool: toolName };
    const done = readSideEffects(logPath).some(
      (entry) => entry.key === context.idempotencyKey && entry.phase === 'end',
    );
    if (done) {
      appendSideEffect(logPath, { ...line, phase: 'replay' });
      return effect();
    }
    appendSideEffect(logPath, { ...line, phase: 'begin' });
    await workFor(context);
    const result = effect();
    appendSideEffect(logPath, { ...line, phase: 'end' });
    return result;
  }

  const lookupPart = defineTool({
    name: 'lookup_part',
    description: 'Look up how many of a part are in stock',
    input: z.object({ part: z.string() }),
    effect: 'read',
    run: ({ part }, context) => once('lookup_part', context, () => stockOf(part)),
  });

  const reservePart = defineTool({
    name: 'reserve_part',
    description: 'Reserve one unit of a part for the kit',
    input: z.object({ part: z.string() }),
    effect: 'write',
    idempotent: true,
    run: ({ part }, context) => once('reserve_part', context, () => reservationOf(part)),
  });

  const model = simulator({
    seed: 7,
    script({ step, task, request, random }) {
      const latencyMs = 10 + Math.floor(random() * 20);
      if (step < TOOL_STEPS) {
        const part = partFor(task, step);
        return {
          latencyMs,
          toolCalls: [
            { name: 'lookup_part', args: { part } },
            { name: 'reserve_part', args: { part } },
          ],
        };
      }
      const contents = request.messages.flatMap((message) =>
        message.parts.flatMap((part) => (part.type === 'tool_result' ? [part.content] : [])),
      );
      return { latencyMs, text: finalAnswer(contents) };
    },
  });

  return [
    defineAgent({
      name: CRASH_AGENT,
      model,
      instructions: 'Assemble the kit: look up and reserve each part, then report.',
      tools: [lookupPart, reservePart],
    }),
  ];
}

function partFor(task: string, step: number): string {
  const kit = /k\d+/.exec(task)?.[0] ?? 'k??';
  return `${kit}-p${step}`;
}

function stockOf(part: string): { part: string; inStock: number } {
  return { part, inStock: hash(`stock:${part}`) % 100 };
}

function reservationOf(part: string): { part: string; reservation: string } {
  return { part, reservation: `R-${(hash(`reserve:${part}`) % 1_000_000).toString(36)}` };
}

function finalAnswer(toolResults: readonly string[]): string {
  return `Kit ready. ${toolResults.join(' | ')}`;
}

/** 20–60 ms of "work" that stops when the call is aborted. */
function workFor(context: ToolContext): Promise<void> {
  const ms = 20 + (hash(`${context.idempotencyKey}:${context.attempt}`) % 41);
  return new Promise((resolve, reject) => {
    const { signal } = context;
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal.reason as Error);
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** FNV-1a, 32-bit. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  return value;
}
