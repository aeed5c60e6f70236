import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { createRuntime, defineAgent, openStore, simulator } from '../src/index.js';
import { createApprovals } from '../src/exports/approval.js';
import { keelApp } from '../src/server/index.js';
import { percentile, round } from './stats.js';

/**
 * The dashboard's runs list at 100,000 runs on a SQLite file: the server's time for one page
 * (session check, filtered keyset query, approval counts, HTML), request to last byte, p50 and
 * p95 per filter, with a bare `select … order by created_at desc limit 50` on the same file as
 * the baseline. Runs are seeded straight into the table (the write path is measured elsewhere):
 * 8 agents over 30 days, 85% succeeded, 2% with an approval, full-text indexed tasks and outputs.
 */
export interface RunsListCase {
  readonly name: string;
  readonly path: string;
  readonly rows: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

export interface RunsListResult {
  readonly runs: number;
  readonly requestsPerCase: number;
  readonly cases: readonly RunsListCase[];
  /** The slowest case's p95: the figure against the target. */
  readonly worstP95Ms: number;
  readonly bareQuery: { readonly p50Ms: number; readonly p95Ms: number };
  readonly targetMs: number;
  readonly within: boolean;
}

export const RUNS_LIST_TARGET_MS = 50;

const AGENTS = [
  'refunds',
  'payments',
  'account',
  'general',
  'billing',
  'returns',
  'shipping',
  'fraud',
];
const WORDS = ['parcel', 'invoice', 'lamp', 'charger', 'sofa', 'jacket', 'kettle', 'printer'];
const DAY_MS = 86_400_000;
const REASONS = {
  final_answer: { type: 'final_answer' },
  model_error: {
    type: 'model_error',
    errorType: 'server_error',
    message: 'HTTP 503',
    attempts: 3,
  },
  limit: { type: 'limit', limit: 'iterations', used: 8, max: 8 },
  escalation: { type: 'escalation', message: 'handed to a human' },
} as const;

export async function measureRunsList({
  runs = 100_000,
  requests = 60,
  warmup = 10,
}: { runs?: number; requests?: number; warmup?: number } = {}): Promise<RunsListResult> {
  const directory = mkdtempSync(join(tmpdir(), 'keel-runs-list-'));
  const path = join(directory, 'keel.db');
  try {
    // Migrate, then seed through a raw handle in one transaction.
    await (await openStore(`sqlite:${path}`)).close();
    const now = Date.now();
    seed(path, runs, now);

    const store = await openStore(`sqlite:${path}`);
    const agents = AGENTS.map((name) =>
      defineAgent({
        name,
        instructions: `The ${name} desk.`,
        model: simulator({ script: [] }),
        gates: { approverGroup: name === 'refunds' || name === 'returns' ? 'finance' : 'support' },
      }),
    );
    const runtime = createRuntime({ store, agents });
    const approvals = createApprovals({ store });
    const admin = (await approvals.addApprover({ name: 'ops', groups: [], role: 'admin' })).token;
    const viewer = (
      await approvals.addApprover({ name: 'vic', groups: ['finance'], role: 'viewer' })
    ).token;
    // The bench is one client asking thousands of times: no per-client rate limit.
    const { app, close } = keelApp({
      runtime,
      limits: { requestsPerMinute: Number.MAX_SAFE_INTEGER },
    });
    const adminCookie = await signIn(app, admin);
    const viewerCookie = await signIn(app, viewer);
    const deep = await deepCursor(store, runs / 2);
    const from = new Date(now - 10 * DAY_MS).toISOString().slice(0, 10);
    const to = new Date(now - 8 * DAY_MS).toISOString().slice(0, 10);
    const cases: { name: string; path: string; cookie: string }[] = [
      { name: 'first page', path: '/', cookie: adminCookie },
      { name: `page ${runs / 2 / 50} (keyset)`, path: `/?after=${deep}`, cookie: adminCookie },
      { name: 'status failed', path: '/?status=failed', cookie: adminCookie },
      { name: 'agent', path: '/?agent=billing', cookie: adminCookie },
      { name: 'reason limit', path: '/?reason=limit', cookie: adminCookie },
      { name: 'cost above (rare)', path: '/?cost=0.2', cookie: adminCookie },
      { name: 'with approvals (2%)', path: '/?approvals=with', cookie: adminCookie },
      { name: 'search, common word', path: '/?q=refund', cookie: adminCookie },
      { name: 'search, rare word', path: `/?q=ORD-${String(runs - 17)}`, cookie: adminCookie },
      { name: 'search, two words', path: '/?q=lamp+broken', cookie: adminCookie },
      {
        name: 'agent + status + 2 days',
        path: `/?agent=payments&status=succeeded&from=${from}&to=${to}`,
        cookie: adminCookie,
      },
      { name: "a viewer's groups (2 agents)", path: '/', cookie: viewerCookie },
    ];
    const results: RunsListCase[] = [];
    for (const entry of cases) {
      const samples: number[] = [];
      let rows = 0;
      for (let index = 0; index < warmup + requests; index += 1) {
        const started = performance.now();
        const response = await app.request(entry.path, { headers: { cookie: entry.cookie } });
        const html = await response.text();
        const elapsed = performance.now() - started;
        if (response.status !== 200) throw new Error(`${entry.path}: ${response.status}`);
        rows = (html.match(/<tr data-run-id=/g) ?? []).length;
        if (index >= warmup) samples.push(elapsed);
      }
      results.push({
        name: entry.name,
        path: entry.path,
        rows,
        p50Ms: round(percentile(samples, 0.5), 2),
        p95Ms: round(percentile(samples, 0.95), 2),
      });
    }
    close();
    await runtime.close();
    await store.close();

    const bare = bareQuery(path, warmup, requests);
    const worstP95Ms = Math.max(...results.map((entry) => entry.p95Ms));
    return {
      runs,
      requestsPerCase: requests,
      cases: results,
      worstP95Ms,
      bareQuery: bare,
      targetMs: RUNS_LIST_TARGET_MS,
      within: worstP95Ms <= RUNS_LIST_TARGET_MS,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

function seed(path: string, runs: number, now: number): void {
  const database = new Database(path);
  database.exec('pragma journal_mode = wal');
  const insertRun = database.prepare(
    `insert into keel_runs (id, agent, task, status, reason, output, lease_owner, lease_until, claims,
       cancel_requested, input_tokens, output_tokens, cost_usd, steps, created_at, updated_at,
       finished_at, schema_version)
     values (?, ?, ?, ?, ?, ?, null, 0, 1, 0, ?, ?, ?, ?, ?, ?, ?, 1)`,
  );
  const insertApproval = database.prepare(
    `insert into keel_approvals (id, run_id, agent, step, call_index, call_id, tool_name, args,
       args_hash, gate_reason, approver_group, created_at, expires_at, on_expiry, state,
       schema_version)
     values (?, ?, ?, 1, 0, 'call_1_0', 'issue_refund', '{}', 'h', '{"type":"effect"}', ?, ?, ?,
       '{"type":"deny"}', 'approved', 1)`,
  );
  // A deterministic sequence: the same data in every bench run.
  let state = 42;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  database.exec('begin');
  for (let index = 0; index < runs; index += 1) {
    const agent = AGENTS[index % AGENTS.length] ?? 'general';
    const createdAt = now - Math.floor(((runs - index) / runs) * 30 * DAY_MS);
    const roll = random();
    const [status, reason]: [string, keyof typeof REASONS | null] =
      roll < 0.85
        ? ['succeeded', 'final_answer']
        : roll < 0.93
          ? ['failed', 'model_error']
          : roll < 0.97
            ? ['stopped', 'limit']
            : roll < 0.99
              ? ['escalated', 'escalation']
              : ['waiting', null];
    const word = WORDS[Math.floor(random() * WORDS.length)] ?? 'parcel';
    const id = `run_${String(index).padStart(8, '0')}`;
    const task = `Customer ${index % 5000}@example.com wants a ${agent === 'refunds' ? 'refund' : 'check'} for order ORD-${index} (the ${word} is ${random() < 0.5 ? 'broken' : 'late'})`;
    const finished = reason !== null;
    const cost = random() < 0.001 ? 0.3 : 0.001 + random() * 0.05;
    insertRun.run(
      id,
      agent,
      task,
      status,
      finished ? JSON.stringify(REASONS[reason]) : null,
      finished ? `Handled ORD-${index}: ${word} ${status}` : null,
      finished ? 2_000 : 0,
      finished ? 300 : 0,
      finished ? cost : 0,
      finished ? 4 : 0,
      createdAt,
      createdAt + 5_000,
      finished ? createdAt + 5_000 : null,
    );
    if (random() < 0.02) {
      insertApproval.run(
        `apr_${id}`,
        id,
        agent,
        agent === 'refunds' ? 'finance' : 'support',
        createdAt + 1_000,
        createdAt + DAY_MS,
      );
    }
  }
  database.exec('commit');
  database.close();
}

/** The cursor of the run `depth` from the newest (as the list's "next" link carries it). */
async function deepCursor(
  store: Awaited<ReturnType<typeof openStore>>,
  depth: number,
): Promise<string> {
  let after: { createdAt: number; id: string } | undefined;
  for (let seen = 0; seen < depth; seen += 500) {
    const page = await store.browse.list({ limit: 500, after });
    after = page.next ?? after;
  }
  return after ? encodeURIComponent(`${after.createdAt}~${after.id}`) : '';
}

function bareQuery(
  path: string,
  warmup: number,
  requests: number,
): { p50Ms: number; p95Ms: number } {
  const database = new Database(path);
  const statement = database.prepare(
    'select * from keel_runs order by created_at desc, id desc limit 50',
  );
  const samples: number[] = [];
  for (let index = 0; index < warmup + requests; index += 1) {
    const started = performance.now();
    statement.all();
    if (index >= warmup) samples.push(performance.now() - started);
  }
  database.close();
  return { p50Ms: round(percentile(samples, 0.5), 3), p95Ms: round(percentile(samples, 0.95), 3) };
}

async function signIn(app: ReturnType<typeof keelApp>['app'], token: string): Promise<string> {
  const login = await app.request('/login');
  const loginCookie = /keel_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const signedIn = await app.request('/login', {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: 'http://localhost',
      cookie: `keel_login=${loginCookie}`,
    },
    body: new URLSearchParams({ _csrf: loginCookie, token, next: '/' }),
  });
  const session = /keel_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1];
  if (session === undefined) throw new Error('bench sign-in failed');
  return `keel_session=${session}`;
}

export function renderRunsList(result: RunsListResult): string {
  const width = Math.max(...result.cases.map((entry) => entry.name.length));
  return [
    `Dashboard runs list at ${result.runs.toLocaleString('en-US')} runs, SQLite file: server time per page (request to last byte, ${result.requestsPerCase} requests per case)`,
    ...result.cases.map(
      (entry) =>
        `  ${entry.name.padEnd(width)}  p50 ${String(entry.p50Ms).padStart(6)} ms  p95 ${String(entry.p95Ms).padStart(6)} ms  (${entry.rows} rows)`,
    ),
    `  worst p95 ${result.worstP95Ms} ms   target <= ${result.targetMs} ms   ${result.within ? 'ok' : 'OVER'}   (bare 50-row select: p50 ${result.bareQuery.p50Ms} ms, p95 ${result.bareQuery.p95Ms} ms)`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const result = await measureRunsList();
  process.stdout.write(
    process.argv.includes('--json')
      ? `${JSON.stringify(result, null, 2)}\n`
      : `${renderRunsList(result)}\n`,
  );
}
