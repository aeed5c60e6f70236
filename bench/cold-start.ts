// Cold start: a fresh process imports Keel, opens a new SQLite file store, runs one simulated
// run (a tool call, then an answer) and prints, as JSON, ms since the process's time origin
// (its start) at each point. Usage: node cold-start.js <path of a new .db file>
const processStartToCodeMs = performance.now();
const dbPath = process.argv[2];
if (dbPath === undefined) throw new Error('usage: cold-start.js <db path>');

const keel = await import('../src/index.js');
const { z } = await import('zod');
const importedMs = performance.now();

const store = await keel.openStore(`sqlite:${dbPath}`);
const storeOpenedMs = performance.now();
const lookup = keel.defineTool({
  name: 'lookup',
  description: 'Look up an item by its id.',
  input: z.object({ query: z.string() }),
  effect: 'read',
  run: ({ query }) => Promise.resolve({ query, item: { sku: 'SKU-1000' } }),
});
const agent = keel.defineAgent({
  name: 'cold',
  model: keel.simulator({
    script: [{ toolCalls: [{ name: 'lookup', args: { query: 'item-1' } }] }, { text: 'done' }],
  }),
  instructions: 'Look up the item, then answer.',
  tools: [lookup],
});
const runtime = keel.createRuntime({ store, agents: [agent] });
const result = await runtime.run('cold', 'Look up item-1');
const firstRunMs = performance.now();

await runtime.close();
await store.close();
process.stdout.write(
  `${JSON.stringify({
    processStartToCodeMs,
    importMs: importedMs - processStartToCodeMs,
    importedMs,
    storeOpenedMs,
    firstRunMs,
    status: result.status,
    steps: result.steps,
  })}\n`,
);
