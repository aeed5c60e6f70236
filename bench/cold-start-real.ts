// Cold start on the real path: a fresh process runs one 6-call tool agent against the fake
// OpenAI-compatible server and prints, as JSON, ms from the process's start to the result.
// `keel` imports Keel, opens a new SQLite file store and runs an agent whose model is the
// string `openai-compatible:<url>#bench`; `bare` is the loop one would write by hand on the
// `openai` client (zod-validated tool input, no journal). Given the path of the SDK bundled
// into one ES module (as Keel bundles its own copy), `bare` imports that instead of the package.
// Usage: node cold-start-real.js keel|bare <baseURL> <path of a new .db file> [bundled SDK]
import { pathToFileURL } from 'node:url';

const processStartToCodeMs = performance.now();
const [mode, baseURL, dbPath, bundledSdk] = process.argv.slice(2);
if ((mode !== 'keel' && mode !== 'bare') || baseURL === undefined || dbPath === undefined)
  throw new Error('usage: cold-start-real.js keel|bare <baseURL> <db path> [bundled SDK]');

const INSTRUCTIONS = 'Look up each item with the lookup tool, then answer.';
const TASK = 'Look up the items';

/** When the first result was in hand (ms from process start) and the CPU used until then. */
let resultAt: { ms: number; cpuMs: number } | undefined;

function resultInHand(): { ms: number; cpuMs: number } {
  resultAt = { ms: performance.now(), cpuMs: cpuSoFarMs() };
  return resultAt;
}

async function runKeel(url: string, path: string): Promise<string> {
  const keel = await import('../src/index.js');
  const { z } = await import('zod');
  const store = await keel.openStore(`sqlite:${path}`);
  const lookup = keel.defineTool({
    name: 'lookup',
    description: 'Look up an item by its id.',
    input: z.object({ query: z.string() }),
    effect: 'read',
    run: ({ query }) => Promise.resolve({ query, item: null }),
  });
  const agent = keel.defineAgent({
    name: 'cold',
    model: `openai-compatible:${url}#bench`,
    instructions: INSTRUCTIONS,
    tools: [lookup],
    guard: keel.defineGuard(),
    limits: { maxCostUsd: 'tokens-only' },
  });
  const runtime = keel.createRuntime({ store, agents: [agent] });
  const result = await runtime.run('cold', TASK);
  // The clock stops at the result; closing (~2 ms: the shadow check after a finished run, the
  // observers' flush) is teardown, as the loop has none.
  resultInHand();
  await runtime.close();
  await store.close();
  return result.status === 'succeeded' && result.steps === 6 ? 'succeeded' : result.status;
}

async function runBare(url: string, sdk: string | undefined): Promise<string> {
  const { default: OpenAI } = (await (sdk === undefined
    ? import('openai')
    : import(pathToFileURL(sdk).href))) as typeof import('openai');
  const { z } = await import('zod');
  const input = z.object({ query: z.string() });
  const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'lookup',
        description: 'Look up an item by its id.',
        parameters: z.toJSONSchema(input),
      },
    },
  ];
  const messages: Parameters<typeof client.chat.completions.create>[0]['messages'] = [
    { role: 'system', content: INSTRUCTIONS },
    { role: 'user', content: TASK },
  ];
  for (let calls = 0; calls < 25; calls++) {
    const completion = await client.chat.completions.create({ model: 'bench', messages, tools });
    const message = completion.choices[0]?.message;
    if (!message) return 'failed';
    const toolCalls = message.tool_calls ?? [];
    if (toolCalls.length === 0) {
      resultInHand();
      return calls === 5 ? 'succeeded' : 'failed';
    }
    messages.push({ role: 'assistant', content: message.content, tool_calls: toolCalls });
    for (const call of toolCalls) {
      if (call.type !== 'function') return 'failed';
      const { query } = input.parse(JSON.parse(call.function.arguments));
      messages.push({
        role: 'tool',
        tool_call_id: call.id,
        content: JSON.stringify({ query, item: null }),
      });
    }
  }
  return 'failed';
}

/** This process's CPU time (user + system) from its start, in ms. */
function cpuSoFarMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

const status =
  mode === 'keel' ? await runKeel(baseURL, dbPath) : await runBare(baseURL, bundledSdk);
// A run that never answered is timed at its end.
const at = resultAt ?? resultInHand();
process.stdout.write(
  `${JSON.stringify({ mode, processStartToCodeMs, firstResultMs: at.ms, cpuMs: at.cpuMs, status })}\n`,
);
