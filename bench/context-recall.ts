// Store-backed recall per step at 300 steps, the way the engine does it before each managed
// model call: index the step's new large results in the store (SQLite FTS5), search the store
// for the current goal, then assemble the request with what the search found. The store work
// and the assembly are timed apart: the assembly's target (< 2 ms) excludes I/O and summariser
// model calls. No model is called.
import { assembleRequest } from '../src/agent/index.js';
import { applyEvent } from '../src/journal/index.js';
import { largeResults, recallTerms, tokenCounter } from '../src/context/index.js';
import { openStore, simulator } from '../src/index.js';
import { agentsFor, startedState, stepEvents, STEPS } from './context-assembly.js';
import { median, round } from './stats.js';

export interface ContextRecallResult {
  readonly steps: number;
  readonly rounds: number;
  readonly target: number;
  /** Median over rounds of the mean per step: indexing new results plus the search. */
  readonly storeMsPerStep: number;
  /** Median over rounds of the mean per step: the assembly with the store's results. */
  readonly assemblyMsPerStep: number;
  /** Steps (of the last round) whose assembly recalled at least one stored result. */
  readonly stepsWithRecall: number;
  readonly within: boolean;
}

const TARGET_MS = 2;
const SEARCH_LIMIT = 20;

async function oneRun(): Promise<{ storeMs: number; assemblyMs: number; withRecall: number }> {
  const { managed } = agentsFor(simulator({ script: [] }));
  const config = managed.context;
  if (!config) throw new Error('the managed agent has no context');
  const counter = tokenCounter(managed.model);
  const store = await openStore('sqlite::memory:');
  const state = startedState();
  const indexed = new Set<string>();
  let storeMs = 0;
  let assemblyMs = 0;
  let withRecall = 0;
  try {
    for (let step = 0; step < STEPS; step += 1) {
      const storeStart = performance.now();
      const fresh = largeResults(state.messages, config, counter).filter(
        ({ ref }) => !indexed.has(ref),
      );
      if (fresh.length > 0) {
        await store.results.put(
          fresh.map(({ ref, step: at, part }) => ({
            runId: 'bench',
            ref,
            step: at,
            callId: part.callId,
            toolName: part.toolName,
            content: part.content,
            trust: part.provenance.trust,
            source: part.provenance.source,
            createdAt: 0,
          })),
        );
        for (const { ref } of fresh) indexed.add(ref);
      }
      const matches =
        indexed.size === 0
          ? []
          : await store.results.search({
              runId: 'bench',
              terms: recallTerms(state.messages),
              limit: SEARCH_LIMIT,
            });
      storeMs += performance.now() - storeStart;
      const assemblyStart = performance.now();
      const { assembly } = assembleRequest(managed, state, {
        recalledRefs: matches.map((match) => match.ref),
      });
      assemblyMs += performance.now() - assemblyStart;
      if ((assembly?.recalled.length ?? 0) > 0) withRecall += 1;
      for (const event of stepEvents(step)) applyEvent(state, event);
    }
  } finally {
    await store.close();
  }
  return { storeMs: storeMs / STEPS, assemblyMs: assemblyMs / STEPS, withRecall };
}

/** Store-backed recall per step at 300 steps: store work and assembly, timed apart. */
export async function measureContextRecall({
  rounds = 5,
}: { rounds?: number } = {}): Promise<ContextRecallResult> {
  await oneRun(); // warm-up
  const store: number[] = [];
  const assembly: number[] = [];
  let stepsWithRecall = 0;
  for (let round_ = 0; round_ < rounds; round_ += 1) {
    const run = await oneRun();
    store.push(run.storeMs);
    assembly.push(run.assemblyMs);
    stepsWithRecall = run.withRecall;
  }
  const assemblyMsPerStep = round(median(assembly), 4);
  return {
    steps: STEPS,
    rounds,
    target: TARGET_MS,
    storeMsPerStep: round(median(store), 4),
    assemblyMsPerStep,
    stepsWithRecall,
    within: assemblyMsPerStep < TARGET_MS,
  };
}

export function renderContextRecall(result: ContextRecallResult): string {
  return `store-backed recall per step (${result.steps} steps, SQLite FTS5 in memory, median of ${result.rounds} runs): assembly ${result.assemblyMsPerStep} ms (target < ${result.target} ms: ${result.within ? 'within' : 'OVER'}), store work ${result.storeMsPerStep} ms (index new results + search); ${result.stepsWithRecall} steps recalled from the store`;
}
