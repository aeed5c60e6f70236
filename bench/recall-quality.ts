// Recall quality: 220 stored tool results and 50 questions, each answered by exactly one of
// them (40 name their subject by a short identifier: box 3, PR 12, room A7, v4, ticket #8).
// For each question, the store's search as the engine runs it before a step (the terms of the
// task and of the model's latest turn, which asks the question) and the `recall` tool (the
// question as its query) each return their best three; recall@1 and recall@3 say how often the
// answering result is first, or among the three. On SQLite FTS5 (in memory), and on PostgreSQL
// when one is reachable (KEEL_TEST_POSTGRES_URL). No model is called.
import { randomBytes } from 'node:crypto';
import { recallTerms, recallTool } from '../src/context/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { recallCorpus, type RecallQuestion } from './recall-corpus.js';
import { round } from './stats.js';

export const RECALL_AT_3_TARGET = 0.95;

const RUN_ID = 'recall-bench';
const TASK = 'Answer questions about the operations archive from the stored tool results.';
const POSTGRES_URL =
  process.env.KEEL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface RecallScores {
  readonly at1: number;
  readonly at3: number;
  /** The same, over the questions that name a short identifier only. */
  readonly shortIdAt1: number;
  readonly shortIdAt3: number;
}

export interface RecallEngineResult {
  readonly engine: 'sqlite' | 'postgres';
  readonly storeSearch: RecallScores;
  readonly recallTool: RecallScores;
  /** Questions the store search missed at 3, for reading. */
  readonly missed: readonly string[];
}

export interface RecallQualityResult {
  readonly results: number;
  readonly questions: number;
  readonly shortIdQuestions: number;
  readonly engines: readonly RecallEngineResult[];
  readonly target: number;
  readonly within: boolean;
}

function scores(ranked: readonly (readonly string[])[], questions: readonly RecallQuestion[]) {
  const share = (only: boolean, k: number): number => {
    const chosen = questions
      .map((question, at) => ({ question, refs: ranked[at] ?? [] }))
      .filter(({ question }) => !only || question.shortId);
    const hits = chosen.filter(({ question, refs }) => refs.slice(0, k).includes(question.ref));
    return round(hits.length / chosen.length, 3);
  };
  return {
    at1: share(false, 1),
    at3: share(false, 3),
    shortIdAt1: share(true, 1),
    shortIdAt3: share(true, 3),
  };
}

async function measureOn(engine: 'sqlite' | 'postgres', store: Store): Promise<RecallEngineResult> {
  const { documents, questions } = recallCorpus();
  await store.results.put(
    documents.map((document) => ({
      runId: RUN_ID,
      ref: document.ref,
      step: document.step,
      callId: `call_${document.step}_0`,
      toolName: 'read_archive',
      content: document.content,
      trust: 'untrusted',
      source: 'tool:read_archive',
      createdAt: document.step,
    })),
  );
  const tool = recallTool(store.results);
  const bySearch: string[][] = [];
  const byTool: string[][] = [];
  for (const { question } of questions) {
    const terms = recallTerms([
      { role: 'user', parts: [{ type: 'text', text: TASK, provenance: TASK_LABEL }] },
      { role: 'assistant', parts: [{ type: 'text', text: question, provenance: MODEL_LABEL }] },
    ]);
    const matches = await store.results.search({ runId: RUN_ID, terms, limit: 3 });
    bySearch.push(matches.map((match) => match.ref));
    const output = (await tool.run({ query: question, limit: 3 }, toolContext())) as {
      results: { ref: string }[];
    };
    byTool.push(output.results.map((result) => result.ref));
  }
  return {
    engine,
    storeSearch: scores(bySearch, questions),
    recallTool: scores(byTool, questions),
    missed: questions
      .filter((question, at) => !(bySearch[at] ?? []).includes(question.ref))
      .map((question) => question.question),
  };
}

const TASK_LABEL = { trust: 'trusted', source: 'task' } as const;
const MODEL_LABEL = { trust: 'untrusted', source: 'model' } as const;

function toolContext() {
  return {
    signal: new AbortController().signal,
    idempotencyKey: `${RUN_ID}:0:0`,
    runId: RUN_ID,
    callId: 'call_0_0',
    attempt: 1,
    markPartial: () => undefined,
  };
}

/** Recall@1 and @3 of the store search and the recall tool, on SQLite and (if up) PostgreSQL. */
export async function measureRecallQuality(): Promise<RecallQualityResult> {
  const { documents, questions } = recallCorpus();
  const engines: RecallEngineResult[] = [];
  const sqlite = await openStore('sqlite::memory:');
  try {
    engines.push(await measureOn('sqlite', sqlite));
  } finally {
    await sqlite.close();
  }
  const schema = `keel_bench_recall_${randomBytes(4).toString('hex')}`;
  let postgres: Store | undefined;
  try {
    postgres = await openStore(POSTGRES_URL, { postgresSchema: schema, poolSize: 2 });
  } catch {
    postgres = undefined; // not reachable: SQLite only
  }
  if (postgres) {
    try {
      engines.push(await measureOn('postgres', postgres));
    } finally {
      await postgres.close();
      await dropSchema(schema);
    }
  }
  const worst = Math.min(
    ...engines.flatMap((engine) => [engine.storeSearch.at3, engine.recallTool.at3]),
  );
  return {
    results: documents.length,
    questions: questions.length,
    shortIdQuestions: questions.filter((question) => question.shortId).length,
    engines,
    target: RECALL_AT_3_TARGET,
    within: worst >= RECALL_AT_3_TARGET,
  };
}

async function dropSchema(schema: string): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

export function renderRecallQuality(result: RecallQualityResult): string {
  const pct = (value: number): string => `${round(value * 100, 1)}%`;
  const lines = [
    `recall quality (${result.results} stored results, ${result.questions} questions, ${result.shortIdQuestions} by short id; target recall@3 >= ${pct(result.target)}: ${result.within ? 'within' : 'UNDER'}):`,
  ];
  for (const engine of result.engines) {
    for (const [name, scores] of [
      ['store search', engine.storeSearch],
      ['recall tool', engine.recallTool],
    ] as const) {
      lines.push(
        `  ${engine.engine.padEnd(8)} ${name.padEnd(12)} recall@1 ${pct(scores.at1)}, recall@3 ${pct(scores.at3)} (short ids: @1 ${pct(scores.shortIdAt1)}, @3 ${pct(scores.shortIdAt3)})`,
      );
    }
  }
  return lines.join('\n');
}
