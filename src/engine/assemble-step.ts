import { assembleRequest, stepsDueForSummary, type PreparedContext } from '../agent/index.js';
import {
  RECALL_TOOL_NAME,
  largeResults,
  recallTerms,
  runSummariser,
  tokenCounter,
  type ContextAssembly,
  type ContextConfig,
} from '../context/index.js';
import type { Execution } from './execution.js';
import type { StepStage } from './model-step.js';

/** Stored results a step's recall search returns at most (the assembly takes what fits). */
const RECALL_SEARCH_LIMIT = 20;

/**
 * Stage 1: what the model sees this step. A managed context first does its lookups (outside the
 * step function and outside any transaction): large results go to the store's recall index,
 * steps leaving the window are summarised (journaled, counted against the run's limits), and
 * the store is searched for the current goal; then the request is assembled with them.
 */
export const assembleContext: StepStage = async (execution, step) => {
  const { agent, journal } = execution;
  let assembled = assembleRequest(agent, journal.state);
  if (agent.context) {
    execution.prepared = await prepareContext(execution, agent.context, assembled.assembly);
    if (execution.signal.aborted) return 'end';
    assembled = assembleRequest(agent, journal.state, execution.prepared);
  }
  step.request = assembled.request;
  step.assembly = assembled.assembly;
  return 'next';
};

/**
 * Index new large results in the store, summarise steps leaving the window (one
 * `step_summarised` each), and search the store for the current goal. `assembly` is the step's
 * assembly without these lookups: it says which steps leave.
 */
async function prepareContext(
  execution: Execution,
  config: ContextConfig,
  assembly: ContextAssembly | undefined,
): Promise<PreparedContext> {
  const { agent, journal, indexed, signal } = execution;
  const { store, clock, runId } = execution.run;
  const state = journal.state;
  const counter = tokenCounter(agent.model);
  const fresh = largeResults(state.messages, config, counter).filter(
    ({ ref, part }) =>
      !indexed.has(ref) && !(config.recallTool && part.toolName === RECALL_TOOL_NAME),
  );
  if (fresh.length > 0) {
    const createdAt = clock.now();
    await store.results.put(
      fresh.map(({ ref, step, part }) => ({
        runId,
        ref,
        step,
        callId: part.callId,
        toolName: part.toolName,
        content: part.content,
        trust: part.provenance.trust,
        source: part.provenance.source,
        createdAt,
      })),
    );
    for (const { ref } of fresh) indexed.add(ref);
  }
  if (config.summariser.kind !== 'deterministic') {
    for (const { step, messages } of stepsDueForSummary(agent, state, assembly)) {
      const outcome =
        config.replay?.summary(step) ??
        (await runSummariser(
          config.summariser,
          { step, messages, previewChars: config.previewChars },
          {
            signal,
            onRequest: (request) =>
              execution.run.onModelRequest?.(
                runId,
                { step: state.steps, summarisedStep: step },
                request,
              ),
          },
        ));
      if (signal.aborted) return {};
      await journal.append([
        { type: 'step_summarised', step: state.steps, summarisedStep: step, ...outcome },
      ]);
    }
  }
  if (config.replay) return { recalledRefs: config.replay.recalled(state.steps, 'step') };
  if (indexed.size === 0) return { recalledRefs: [] };
  const matches = await store.results.search({
    runId,
    terms: recallTerms(state.messages),
    limit: RECALL_SEARCH_LIMIT,
  });
  return { recalledRefs: matches.map((match) => match.ref) };
}
