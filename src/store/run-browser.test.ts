import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  openStore,
  type RunListQuery,
  type RunRecordStatus,
  type Store,
  type TerminalStatus,
} from './index.js';
import { DEFAULT_LIMITS } from '../journal/index.js';
import { storeLocations } from './__tests__/store-locations.js';

/*
 * The run browser's contract on SQLite and PostgreSQL: filters combine, search finds words in a
 * task or an output, and keyset pages cover every run exactly once, newest first.
 */

const T0 = 1_700_000_000_000;

const locations = storeLocations();
afterAll(() => locations.cleanup());

const BACKENDS = [
  { name: 'sqlite', url: () => locations.sqliteFile() },
  { name: 'postgres', url: () => locations.postgres('keel_rb') },
];

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0).reverse()) await store.close();
});

interface Seed {
  id: string;
  agent: string;
  task: string;
  at: number;
  finish?: { status: TerminalStatus; reason: { type: string }; output: string; costUsd: number };
  version?: string;
  shadowOf?: string;
}

async function seed(store: Store, runs: readonly Seed[]): Promise<void> {
  for (const run of runs) {
    await store.createRun({
      id: run.id,
      agent: run.agent,
      task: run.task,
      createdAt: run.at,
      events: [
        {
          seq: 1,
          at: run.at,
          event: {
            type: 'run_started',
            agent: run.agent,
            task: run.task,
            taskProvenance: { trust: 'trusted', source: 'task' },
            model: { provider: 'simulator', modelId: 'scripted' },
            limits: DEFAULT_LIMITS,
            startedAt: run.at,
            ...(run.version === undefined ? {} : { version: run.version }),
            ...(run.shadowOf === undefined ? {} : { shadowOf: run.shadowOf }),
          },
        },
      ],
    });
    if (run.finish) {
      await store.append({
        runId: run.id,
        guard: { status: 'queued' },
        events: [
          {
            seq: 2,
            at: run.at + 5,
            event: {
              type: 'run_finished',
              status: run.finish.status,
              reason: { type: 'final_answer' },
              output: run.finish.output,
              usage: {
                inputTokens: 10,
                outputTokens: 5,
                costUsd: run.finish.costUsd,
                costKnown: true,
              },
              steps: 1,
            },
          },
        ],
        finish: {
          ...run.finish,
          inputTokens: 10,
          outputTokens: 5,
          steps: 1,
          at: run.at + 5,
        },
      });
    }
  }
}

const RUNS: Seed[] = [
  {
    id: 'run_a',
    agent: 'refunds',
    task: 'Refund order ORD-1001 for ana@example.com',
    at: T0,
    finish: {
      status: 'succeeded',
      reason: { type: 'final_answer' },
      output: 'Refunded $72.50 as RF-5001',
      costUsd: 0.004,
    },
  },
  {
    id: 'run_b',
    agent: 'payments',
    task: 'Why was payment PAY-2001 declined?',
    at: T0 + 1_000,
    finish: {
      status: 'failed',
      reason: { type: 'model_error' },
      output: 'The gateway timed out',
      costUsd: 0.02,
    },
  },
  {
    id: 'run_c',
    agent: 'general',
    task: 'Where is parcel TRK-9 <script>alert(1)</script>?',
    at: T0 + 2_000,
    finish: {
      status: 'stopped',
      reason: { type: 'limit' },
      output: 'Stopped looping on the carrier',
      costUsd: 0.001,
    },
  },
  {
    id: 'run_d',
    agent: 'refunds',
    task: 'Refund ORD-1005, the lamp is broken',
    at: T0 + 3_000,
    version: 'v2',
    shadowOf: 'run_a',
  },
];

for (const backend of BACKENDS) {
  describe(`run browser (${backend.name})`, () => {
    async function open(): Promise<Store> {
      const store = await openStore(backend.url());
      opened.push(store);
      return store;
    }
    async function ids(store: Store, query: RunListQuery): Promise<string[]> {
      return (await store.browse.list(query)).items.map((item) => item.run.id);
    }

    it('lists newest first and combines every filter', async () => {
      const store = await open();
      await seed(store, RUNS);
      await store.approvals.create({
        id: 'apr_d',
        runId: 'run_d',
        agent: 'refunds',
        step: 0,
        callIndex: 0,
        callId: 'call_0',
        toolName: 'issue_refund',
        args: { orderId: 'ORD-1005' },
        argsHash: 'h',
        gateReason: { type: 'effect', effect: 'irreversible' },
        approverGroup: 'finance',
        createdAt: T0 + 3_001,
        expiresAt: T0 + 60_000,
        onExpiry: { type: 'deny' },
      });
      const cases: [string, RunListQuery, string[]][] = [
        ['everything', {}, ['run_d', 'run_c', 'run_b', 'run_a']],
        ['agent', { agent: 'refunds' }, ['run_d', 'run_a']],
        ['visible agents', { visibleAgents: ['payments', 'general'] }, ['run_c', 'run_b']],
        ['no visible agent', { visibleAgents: [] }, []],
        ['statuses', { statuses: ['failed', 'queued'] as RunRecordStatus[] }, ['run_d', 'run_b']],
        ['reason', { reasonTypes: ['limit'] }, ['run_c']],
        ['from', { createdFrom: T0 + 1_000 }, ['run_d', 'run_c', 'run_b']],
        ['before', { createdBefore: T0 + 1_000 }, ['run_a']],
        ['cost above', { costAbove: 0.003 }, ['run_b', 'run_a']],
        ['with approvals', { hasApprovals: true }, ['run_d']],
        ['without approvals', { hasApprovals: false }, ['run_c', 'run_b', 'run_a']],
        [
          'combined',
          { agent: 'refunds', statuses: ['succeeded'], costAbove: 0.001, createdBefore: T0 + 1 },
          ['run_a'],
        ],
        ['visible and agent disagree', { visibleAgents: ['payments'], agent: 'refunds' }, []],
        ['version', { version: 'v2' }, ['run_d']],
        ['without shadow runs', { shadows: 'exclude' }, ['run_c', 'run_b', 'run_a']],
        ['only shadow runs', { shadows: 'only' }, ['run_d']],
      ];
      const results: [string, string[]][] = [];
      for (const [name, query] of cases) results.push([name, await ids(store, query)]);
      expect(results).toEqual(cases.map(([name, , expected]) => [name, expected]));
      const [withApproval] = (await store.browse.list({ hasApprovals: true })).items;
      expect(withApproval).toMatchObject({ approvals: 1, pendingApprovals: 1 });
    });

    it('searches tasks and outputs for whole words, all of them required', async () => {
      const store = await open();
      await seed(store, RUNS);
      const cases: [string, string[]][] = [
        ['refund', ['run_d', 'run_a']],
        ['REFUNDED', ['run_a']],
        ['refunde', []],
        ['ord 1001', ['run_a']],
        // One word in the task, the other in the output.
        ['ana rf', ['run_a']],
        ['gateway declined', ['run_b']],
        ['<script>', ['run_c']],
        // Query syntax is never interpreted: this asks for three words, not "zzz OR refund".
        ['zzz" OR "refund', []],
        ['nothing-like-this', []],
        ['***', ['run_d', 'run_c', 'run_b', 'run_a']],
      ];
      const results: [string, string[]][] = [];
      for (const [search] of cases) results.push([search, await ids(store, { search })]);
      expect(results).toEqual(cases);
    });

    it('searches the same when hundreds of runs match (the planner walks the runs instead)', async () => {
      const store = await open();
      const runs: Seed[] = Array.from({ length: 620 }, (_, index) => ({
        id: `run_${String(index).padStart(4, '0')}`,
        agent: 'desk',
        task: index % 5 === 4 ? `Other ticket ${index}` : `Parcel ticket ${index}`,
        at: T0 + index,
      }));
      await Promise.all(runs.map((run) => seed(store, [run])));
      const matching = runs
        .filter((run) => run.task.startsWith('Parcel'))
        .map((run) => run.id)
        .reverse();
      const seen: string[] = [];
      let after: RunListQuery['after'];
      do {
        const page = await store.browse.list({ search: 'parcel', limit: 200, after });
        seen.push(...page.items.map((item) => item.run.id));
        after = page.next ?? undefined;
      } while (after);
      expect(seen).toEqual(matching);
      expect(await ids(store, { search: 'parcel 617', limit: 5 })).toEqual(['run_0617']);
    });

    it('pages by keyset over every run exactly once, ties included', async () => {
      const store = await open();
      const runs: Seed[] = Array.from({ length: 23 }, (_, index) => ({
        id: `run_${String(index).padStart(2, '0')}`,
        agent: index % 2 === 0 ? 'even' : 'odd',
        task: `ticket ${index}`,
        // Three runs per millisecond: the id breaks the tie.
        at: T0 + Math.floor(index / 3),
      }));
      await seed(store, runs);
      const seen: string[] = [];
      let query: RunListQuery = { limit: 5 };
      let pages = 0;
      for (;;) {
        const page = await store.browse.list(query);
        seen.push(...page.items.map((item) => item.run.id));
        pages += 1;
        if (!page.next) break;
        query = { limit: 5, after: page.next };
      }
      expect(pages).toBe(5);
      expect(seen).toEqual(runs.map((run) => run.id).reverse());
      const evens: string[] = [];
      let after: RunListQuery['after'];
      do {
        const page = await store.browse.list({ agent: 'even', limit: 4, after });
        evens.push(...page.items.map((item) => item.run.id));
        after = page.next ?? undefined;
      } while (after);
      expect(evens).toEqual(
        runs
          .filter((run) => run.agent === 'even')
          .map((run) => run.id)
          .reverse(),
      );
    });

    it('reads several journals at once, optionally only some event types', async () => {
      const store = await open();
      await seed(store, RUNS);
      const all = await store.browse.readJournals(['run_a', 'run_d', 'run_unknown']);
      expect(
        [...all.entries()].map(([id, events]) => [id, events.map((entry) => entry.event.type)]),
      ).toEqual([
        ['run_a', ['run_started', 'run_finished']],
        ['run_d', ['run_started']],
      ]);
      const finished = await store.browse.readJournals(['run_a', 'run_d'], {
        types: ['run_finished'],
      });
      expect([...finished.keys()]).toEqual(['run_a']);
      expect((await store.browse.readJournals([], {})).size).toBe(0);
    });
  });
}
