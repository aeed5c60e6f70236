import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { usageError } from './exit-codes.js';

/** One file `keel init` writes, relative to the project's folder. */
export interface ScaffoldFile {
  readonly path: string;
  readonly text: string;
}

/** What `keel init` did. */
export interface InitResult {
  readonly written: readonly string[];
  /** `.gitignore` existed: `.keel/` was appended to it (or it was already there). */
  readonly gitignore: 'written' | 'appended' | 'unchanged';
}

const CONFIG = `import { assistant } from './agents/assistant.js';

/** The agents \`keel\` runs from this folder: \`keel agents\` lists them. */
export const agents = [assistant];
`;

const AGENT = `import { defineAgent, simulator, type ScriptContext, type SimulatedTurn } from 'keel';
import { lookupOrder } from '../tools/lookup-order.js';

/**
 * The simulator's script: a deterministic stand-in for a model, so the agent runs with no
 * provider and no key. It looks the order up, then answers from what the tool returned.
 */
function orderDeskScript({ task, lastToolResults }: ScriptContext): SimulatedTurn {
  const orderId = /\\bA-\\d+\\b/.exec(task)?.[0];
  if (orderId === undefined) return { text: 'Which order? Give me its id, like A-1001.' };
  const result = lastToolResults.find((part) => part.toolName === 'lookup_order');
  if (result === undefined) return { toolCalls: [{ name: 'lookup_order', args: { orderId } }] };
  if (result.isError) {
    const { error } = JSON.parse(result.content) as { error: { type: string; message: string } };
    return { text: \`I could not look up order \${orderId}: \${error.message} (\${error.type}).\` };
  }
  const order = JSON.parse(result.content) as { status: string; eta: string };
  return { text: \`Order \${orderId} is \${order.status}; expected \${order.eta}.\` };
}

export const assistant = defineAgent({
  name: 'assistant',
  description: 'Answers questions about orders.',
  // A real model per run: keel run assistant --model openai:gpt-4.1-mini --task "..."
  model: simulator({ script: orderDeskScript }),
  instructions:
    'You answer questions about orders. Look the order up first and never guess its status.',
  tools: [lookupOrder],
  limits: { maxIterations: 6, maxCostUsd: 0.05, timeoutMs: 60_000 },
});
`;

const TOOL = `import { z } from 'zod';
import { ToolError, defineTool } from 'keel';

const ORDERS: Record<string, { status: string; eta: string }> = {
  'A-1001': { status: 'shipped', eta: 'Thursday' },
  'A-1002': { status: 'packing', eta: 'next week' },
};

/** Reads an order. A missing order is a typed \`not_found\`, which the model is told. */
export const lookupOrder = defineTool({
  name: 'lookup_order',
  description: 'Look up an order by its id (A-1001): its status and expected delivery.',
  input: z.object({ orderId: z.string().describe('the order id, like A-1001') }),
  effect: 'read',
  async run({ orderId }) {
    const order = ORDERS[orderId];
    if (!order) throw new ToolError('not_found', \`no order \${orderId}\`);
    return order;
  },
});
`;

// Plain data, so it can be read by any runner; assertion names follow promptfoo's.
const EVAL_CASE = `${JSON.stringify(
  {
    agent: 'assistant',
    // The order lookup only reads: it may run live. Anything that writes would be suppressed.
    liveReads: true,
    cases: [
      {
        name: 'a shipped order is looked up, not guessed',
        task: 'Where is my order A-1001?',
        expect: [
          { type: 'status', status: 'succeeded' },
          { type: 'tool-called', tool: 'lookup_order', args: { orderId: 'A-1001' } },
          { type: 'icontains', value: 'shipped' },
        ],
      },
    ],
  },
  null,
  2,
)}
`;

const GITIGNORE_LINE = '.keel/';

/** The files `keel init` writes (`.gitignore` aside). */
export const SCAFFOLD: readonly ScaffoldFile[] = [
  { path: 'keel.config.ts', text: CONFIG },
  { path: 'agents/assistant.ts', text: AGENT },
  { path: 'tools/lookup-order.ts', text: TOOL },
  { path: 'evals/assistant.json', text: EVAL_CASE },
];

/**
 * Scaffold a project in `cwd`: a config, one agent, one tool, one eval case, and `.keel/` (the
 * local store) in `.gitignore`. Writes nothing when any file it would write exists.
 */
export function initProject(cwd: string): InitResult {
  const taken = SCAFFOLD.filter((file) => existsSync(join(cwd, file.path)));
  if (taken.length > 0) {
    throw usageError(
      `init would overwrite ${taken.map((file) => file.path).join(', ')}; nothing was written`,
    );
  }
  for (const file of SCAFFOLD) {
    const path = join(cwd, file.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, file.text, { flag: 'wx' });
  }
  return { written: SCAFFOLD.map((file) => file.path), gitignore: ignoreStore(cwd) };
}

function ignoreStore(cwd: string): InitResult['gitignore'] {
  const path = join(cwd, '.gitignore');
  if (!existsSync(path)) {
    writeFileSync(path, `${GITIGNORE_LINE}\nnode_modules/\n`, { flag: 'wx' });
    return 'written';
  }
  const text = readFileSync(path, 'utf8');
  if (text.split(/\r?\n/).some((line) => line.trim() === GITIGNORE_LINE)) return 'unchanged';
  writeFileSync(
    path,
    `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${GITIGNORE_LINE}\n`,
  );
  return 'appended';
}

/** What `keel init` prints: what it wrote and the next commands. */
export function formatInit(result: InitResult): string {
  const lines = result.written.map((path) => `  wrote ${path}`);
  if (result.gitignore === 'written') lines.push('  wrote .gitignore (.keel/, the local store)');
  if (result.gitignore === 'appended') lines.push('  added .keel/ (the local store) to .gitignore');
  return [
    'keel project ready:',
    ...lines,
    '',
    'next:',
    '  npx keel agents',
    '  npx keel run assistant --task "Where is my order A-1001?"',
    '  npx keel serve        # the dashboard (create a token first: keel approvers add you --role admin)',
  ].join('\n');
}
