import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { html } from 'hono/html';
import { HTTPException } from 'hono/http-exception';
import type { Child } from 'hono/jsx';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { approverSees } from '../../approval/index.js';
import { KeelError, systemClock, type Clock } from '../../core/index.js';
import { newRunId, replayRun, type Runtime } from '../../engine/index.js';
import { alertsForRun, scanAlerts, type JournalSource } from '../../observe/index.js';
import type { ApprovalRecord } from '../../store/index.js';
import { STATUS_BY_CODE } from '../status-codes.js';
import { NO_QUERY, parseQuery, singleQuery } from '../query-params.js';
import { lastEventId, streamRunEvents } from '../run-events-app.js';
import { AlertsPage } from './alerts-page.js';
import { ApprovalFeed } from './approval-feed.js';
import { ASSETS, loadAssets, type AssetName } from './assets.js';
import { COST_WINDOWS, CostsPage } from './costs-page.js';
import { costsView } from './costs-view.js';
import { ErrorPage } from './error-page.js';
import { LoginPage } from './login-page.js';
import { QueueList, QueuePage, type DecisionProblem, type QueueProps } from './queue-page.js';
import { parseRunFilters, runListQuery } from './run-filters.js';
import { RunPage, type RunPageProps } from './run-page.js';
import { runView } from './run-view.js';
import { runAsShown } from '../../journal/index.js';
import { RunsPage } from './runs-page.js';
import { Sessions, randomToken, sameSecret, type Session } from './sessions.js';
import { seesAgent, viewerOf, type Viewer } from './viewer.js';

const SESSION_COOKIE = 'keel_session';
const LOGIN_COOKIE = 'keel_login';
const PAGE_SIZE = 50;
const ALERT_SCAN_LIMIT = 1_000;
/** How long a fork may take to commit its first events before the page gives up waiting. */
const FORK_START_TIMEOUT_MS = 10_000;
const daysQuery = z.strictObject({ days: z.string().optional() });
const decidedQuery = z.strictObject({ decided: z.string().optional() });

export interface DashboardOptions {
  /** The runtime whose store, agents and approvals the dashboard shows and acts on. */
  readonly runtime: Runtime;
  readonly clock?: Clock | undefined;
  /** How often the live approval queue looks for changes. Default 1000 ms. */
  readonly livePollMs?: number | undefined;
  /** A signed-in browser unused this long signs in again. Default 8 hours. */
  readonly sessionIdleMs?: number | undefined;
}

export interface Dashboard {
  readonly app: Hono<DashboardEnv>;
  /** End live streams and stop polling (before the HTTP server closes). */
  close(): void;
}

export interface DashboardEnv {
  Variables: { viewer: Viewer; session: Session; secureHeadersNonce?: string };
}
type DashboardContext = Context<DashboardEnv>;

const decisionForm = z.object({
  decision: z.enum(['approve', 'deny']),
  argsHash: z.string().min(1).max(200),
  reason: z.string().max(2_000).optional(),
  editedArgs: z.string().max(100_000).optional(),
});

/**
 * The dashboard: runs, a run's trace and conversation, the approval queue (live), costs and
 * alerts, for people signed in with an approver, viewer or admin token. Every page is rendered
 * on the server and reads without JavaScript; every state-changing request needs the session's
 * CSRF token and a same-origin `Origin`.
 *
 * ```ts
 * const dashboard = dashboardApp({ runtime });
 * app.route('/', dashboard.app);
 * ```
 */
export function dashboardApp(options: DashboardOptions): Dashboard {
  const { runtime } = options;
  const clock = options.clock ?? systemClock;
  const store = runtime.store;
  const sessions = new Sessions({
    clock,
    ...(options.sessionIdleMs === undefined ? {} : { idleMs: options.sessionIdleMs }),
  });
  const feed = new ApprovalFeed({
    approvals: runtime.approvals,
    pollMs: options.livePollMs ?? 1_000,
  });
  const streams = new Set<() => void>();
  const assets = loadAssets();
  const app = new Hono<DashboardEnv>();

  const page = (c: DashboardContext, node: Child, status: ContentfulStatusCode = 200) =>
    c.html(html`<!doctype html>${node}`, status);

  const signedIn: MiddlewareHandler<DashboardEnv> = async function signedIn(c, next) {
    const session = sessions.get(getCookie(c, SESSION_COOKIE));
    if (!session) return notSignedIn(c);
    let approver;
    try {
      approver = await runtime.approvals.authenticate(session.token);
    } catch (error) {
      if (!KeelError.isInstance(error) || error.code !== 'unauthenticated') throw error;
      sessions.delete(session.id);
      return notSignedIn(c);
    }
    c.set('session', session);
    c.set('viewer', viewerOf(approver, runtime.agents, session.csrf));
    await next();
    return undefined;
  };

  function notSignedIn(c: DashboardContext): Response {
    if (c.req.method === 'GET' && !c.req.path.startsWith('/live/')) {
      const url = new URL(c.req.url);
      return c.redirect(`/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
    }
    throw new KeelError('unauthenticated', 'sign in first');
  }

  // Same-origin requests only (the browser's Origin or Sec-Fetch-Site), and the session's token.
  const sameOrigin = csrf();
  const csrfToken: MiddlewareHandler<DashboardEnv> = async function csrfToken(c, next) {
    const form = await c.req.parseBody();
    const sent = typeof form._csrf === 'string' ? form._csrf : c.req.header('x-csrf-token');
    if (!sameSecret(sent, c.get('session').csrf)) {
      throw new KeelError('forbidden', 'the form is stale or not from this site: reload the page');
    }
    await next();
  };
  const actor: MiddlewareHandler<DashboardEnv> = async function actor(c, next) {
    const viewer = c.get('viewer');
    if (!viewer.canAct) {
      throw new KeelError(
        'forbidden',
        `${viewer.approver.name} is a viewer: approving, denying, replaying and forking need an approver or admin token`,
      );
    }
    await next();
  };
  const post = [sameOrigin, signedIn, csrfToken] as const;

  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    if (!Object.hasOwn(ASSETS, name)) throw new KeelError('not_found', `no asset ${name}`);
    return c.body(assets[name as AssetName], 200, { 'content-type': ASSETS[name as AssetName] });
  });

  // Browsers ask for it on every page; there is none.
  app.get('/favicon.ico', (c) => c.body(null, 204));

  app.get('/login', (c) => {
    const token = randomToken();
    setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, '/login'));
    return page(c, <LoginPage csrf={token} next={safeNext(c.req.query('next'))} />);
  });

  app.post('/login', sameOrigin, async (c) => {
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === 'string' ? form.next : undefined);
    const retry = (error: string, status: 400 | 401) => {
      const token = randomToken();
      setCookie(c, LOGIN_COOKIE, token, cookieOptions(c, '/login'));
      return page(c, <LoginPage csrf={token} next={next} error={error} />, status);
    };
    const expected = getCookie(c, LOGIN_COOKIE);
    if (
      expected === undefined ||
      !sameSecret(typeof form._csrf === 'string' ? form._csrf : undefined, expected)
    ) {
      return retry('The sign-in form expired (or cookies are off): try again.', 400);
    }
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    try {
      await runtime.approvals.authenticate(token);
    } catch (error) {
      if (KeelError.isInstance(error) && error.code === 'unauthenticated') {
        return retry('That token is not valid.', 401);
      }
      throw error;
    }
    const session = sessions.create(token);
    deleteCookie(c, LOGIN_COOKIE, { path: '/login' });
    setCookie(c, SESSION_COOKIE, session.id, cookieOptions(c, '/'));
    return c.redirect(next, 303);
  });

  app.post('/logout', ...post, (c) => {
    sessions.delete(c.get('session').id);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/login', 303);
  });

  app.get('/', signedIn, async (c) => {
    const viewer = c.get('viewer');
    const filters = parseRunFilters(singleQuery(c));
    const listed = await store.browse.list(runListQuery(filters, viewer.agents, PAGE_SIZE));
    const agents = new Set(viewer.agents ?? runtime.agents.map((agent) => agent.name));
    if (filters.agent !== undefined && seesAgent(viewer, filters.agent)) agents.add(filters.agent);
    return page(
      c,
      <RunsPage viewer={viewer} filters={filters} page={listed} agents={[...agents].sort()} />,
    );
  });

  /** The run page's data, for a run the viewer may see (else `not_found`, whether or not it exists). */
  async function runPageProps(c: DashboardContext): Promise<RunPageProps> {
    const viewer = c.get('viewer');
    const id = c.req.param('id') ?? '';
    const record = await store.getRun(id);
    if (!record || !seesAgent(viewer, record.agent)) {
      throw new KeelError('not_found', `no run ${id} that you may see`);
    }
    // Secrets redacted as `keel show` redacts them, unless an admin is looking.
    const run = runAsShown(record, await store.readEvents(id), viewer.approver.role === 'admin', {
      tools: runtime.agents.flatMap((agent) => agent.tools),
    });
    const entries = run.entries;
    const agent = runtime.agent(record.agent);
    return {
      viewer,
      record: run.record,
      entries,
      view: runView(run.record, entries, await alertsForRun(store, id), clock.now()),
      approvals: await store.approvals.list({ runId: id, limit: 100 }),
      price: await store.prices.get(id),
      instructions: agent?.instructions,
      actionsUnavailable: agent
        ? undefined
        : `Agent "${record.agent}" is not loaded by this server (start it with --agents), so it cannot replay or fork this run.`,
      // As `--store` takes it: SQLite's location is a bare path.
      storeUrl:
        store.kind === 'sqlite' && !store.location.startsWith('sqlite:')
          ? `sqlite:${store.location}`
          : store.location,
    };
  }

  app.get('/runs/:id', signedIn, async (c) => page(c, <RunPage {...await runPageProps(c)} />));

  // The run page's live view: the run stream API's events, for a signed-in browser.
  app.get('/live/runs/:id/events', signedIn, async (c) => {
    parseQuery(c, NO_QUERY);
    const viewer = c.get('viewer');
    const id = c.req.param('id');
    const record = await store.getRun(id);
    if (!record || !seesAgent(viewer, record.agent)) {
      throw new KeelError('not_found', `no run ${id} that you may see`);
    }
    return streamRunEvents(c, runtime, id, lastEventId(c), undefined, {
      reveal: viewer.approver.role === 'admin',
    });
  });

  app.post('/runs/:id/replay', ...post, actor, async (c) => {
    const props = await runPageProps(c);
    const agent = runtime.agent(props.record.agent);
    if (!agent)
      throw new KeelError('invalid_config', props.actionsUnavailable ?? 'agent not loaded');
    // The journal as stored: the page shows it redacted.
    const journal = await store.readEvents(props.record.id);
    const replay = await replayRun({ agent, runId: props.record.id, journal });
    return page(c, <RunPage {...props} replay={replay} />);
  });

  app.post('/runs/:id/fork', ...post, actor, async (c) => {
    const props = await runPageProps(c);
    const form = await c.req.parseBody();
    const fromStep = z.coerce.number().int().min(0).safeParse(form.fromStep);
    if (!fromStep.success)
      throw new KeelError('invalid_input', 'fromStep must be a whole number ≥ 0');
    const runId = newRunId();
    const forked = runtime.fork(props.record.id, { fromStep: fromStep.data, runId });
    const started = await Promise.race([
      forked.then(() => true),
      waitFor(async () => (await store.getRun(runId)) !== undefined, FORK_START_TIMEOUT_MS),
    ]);
    // The fork runs on in this process; its outcome is on its own page.
    forked.catch(() => undefined);
    if (!started) throw new KeelError('internal', `fork ${runId} did not start in time`);
    return c.redirect(`/runs/${encodeURIComponent(runId)}`, 303);
  });

  async function queueProps(viewer: Viewer): Promise<Omit<QueueProps, 'problem' | 'notice'>> {
    await runtime.approvals.expireDue();
    const groups = viewer.groups;
    return {
      viewer,
      pending: await runtime.approvals.list({ states: ['pending'], groups, limit: 200 }),
      decided: await runtime.approvals.list({
        states: ['approved', 'denied', 'expired', 'escalated'],
        groups,
        limit: 20,
      }),
      schemaOf,
    };
  }

  function schemaOf(approval: ApprovalRecord): Record<string, unknown> | undefined {
    return runtime.agent(approval.agent)?.tool(approval.toolName)?.spec.inputSchema;
  }

  app.get('/queue', signedIn, async (c) => {
    const viewer = c.get('viewer');
    const props = await queueProps(viewer);
    const decidedId = parseQuery(c, decidedQuery).decided;
    const decided = props.decided.find((approval) => approval.id === decidedId);
    const notice = decided
      ? `${decided.id} ${decided.state} by ${decided.decidedBy ?? '?'}: run ${decided.runId} resumes on the next free worker.`
      : undefined;
    return page(c, <QueuePage {...props} notice={notice} />);
  });

  app.post('/queue/:id/decision', ...post, actor, async (c) => {
    const viewer = c.get('viewer');
    const id = c.req.param('id');
    const parsed = decisionForm.safeParse(await c.req.parseBody());
    if (!parsed.success)
      throw new KeelError('invalid_input', `bad decision: ${z.prettifyError(parsed.error)}`);
    const form = parsed.data;
    const editedText = form.editedArgs?.trim() ?? '';
    const reason = form.reason?.trim() ?? '';
    try {
      let editedArgs: unknown;
      if (editedText !== '') {
        try {
          editedArgs = JSON.parse(editedText) as unknown;
        } catch {
          throw new KeelError('invalid_input', 'the edited arguments are not valid JSON');
        }
      }
      await runtime.approvals.decide({
        token: c.get('session').token,
        id,
        decision: form.decision,
        argsHash: form.argsHash,
        reason: reason === '' ? undefined : reason,
        editedArgs,
      });
    } catch (error) {
      if (!KeelError.isInstance(error) || STATUS_BY_CODE[error.code] >= 500) throw error;
      const problem: DecisionProblem = {
        approvalId: id,
        code: error.code,
        message: error.message,
        reason,
        editedArgs: editedText,
      };
      return page(
        c,
        <QueuePage {...await queueProps(viewer)} problem={problem} />,
        STATUS_BY_CODE[error.code],
      );
    }
    return c.redirect(`/queue?decided=${encodeURIComponent(id)}`, 303);
  });

  app.get('/live/queue', signedIn, (c) => {
    const viewer = c.get('viewer');
    const session = c.get('session');
    return streamSSE(c, async (stream) => {
      let last = '';
      let end = (): void => undefined;
      const ended = new Promise<void>((resolve) => {
        end = resolve;
      });
      streams.add(end);
      stream.onAbort(end);
      const unsubscribe = feed.subscribe((pending) => {
        // Signed out (or timed out) elsewhere: the stream ends with the session.
        if (!sessions.get(session.id)) {
          end();
          return;
        }
        const visible = pending.filter((approval) =>
          approverSees(viewer.approver, approval.approverGroup),
        );
        void (async () => {
          const fragment = (
            await (<QueueList viewer={viewer} pending={visible} decided={[]} schemaOf={schemaOf} />)
          ).toString();
          if (fragment === last) return;
          last = fragment;
          await stream.writeSSE({ event: 'queue', data: fragment });
        })().catch(end);
      });
      await ended;
      unsubscribe();
      streams.delete(end);
    });
  });

  app.get('/costs', signedIn, async (c) => {
    const viewer = c.get('viewer');
    const days = windowDays(parseQuery(c, daysQuery).days);
    const agentNames = (viewer.agents ?? runtime.agents.map((agent) => agent.name)).slice().sort();
    const view = await costsView({
      store,
      visibleAgents: viewer.agents,
      agentNames,
      days,
      now: clock.now(),
    });
    return page(c, <CostsPage viewer={viewer} view={view} />);
  });

  app.get('/alerts', signedIn, async (c) => {
    const viewer = c.get('viewer');
    const days = windowDays(parseQuery(c, daysQuery).days);
    // Only the runs this viewer may see, each judged against its own agent's earlier runs.
    const source: JournalSource = {
      readEvents: (runId) => store.readEvents(runId),
      listRuns: async (listOptions = {}) => {
        const agents = listOptions.agent === undefined ? viewer.agents : [listOptions.agent];
        if (agents !== undefined && agents.some((agent) => !seesAgent(viewer, agent))) return [];
        const listed = await store.browse.list({
          visibleAgents: agents,
          statuses: listOptions.statuses,
          limit: listOptions.limit,
        });
        return listed.items.map((item) => item.run);
      },
    };
    const alerts = await scanAlerts(source, {
      since: clock.now() - days * 86_400_000,
      limit: ALERT_SCAN_LIMIT,
    });
    return page(
      c,
      <AlertsPage viewer={viewer} alerts={alerts} days={days} scanned={ALERT_SCAN_LIMIT} />,
    );
  });

  app.onError(function dashboardErrors(error, c) {
    if (error instanceof HTTPException) {
      return page(
        c,
        <ErrorPage
          status={403}
          code="forbidden"
          message="Refused: the request did not come from this site."
        />,
        403,
      );
    }
    if (KeelError.isInstance(error)) {
      const status = STATUS_BY_CODE[error.code];
      const message =
        status >= 500 && error.code !== 'store_unavailable' ? 'internal error' : error.message;
      return page(
        c,
        <ErrorPage status={status} code={error.code} message={message.replace(/\s*\n\s*/g, ' ')} />,
        status,
      );
    }
    return page(c, <ErrorPage status={500} code="internal" message="internal error" />, 500);
  });

  return {
    app,
    close() {
      feed.close();
      for (const end of streams) end();
      streams.clear();
    },
  };
}

function cookieOptions(c: Context, path: string) {
  const https =
    new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
  return { httpOnly: true, sameSite: 'Strict', secure: https, path } as const;
}

/** Where to go after signing in: a path on this site, never another origin. */
function safeNext(next: string | undefined): string {
  return next !== undefined && /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/';
}

function windowDays(value: string | undefined): number {
  if (value === undefined || value === '') return 7;
  const days = Number(value);
  if (!(COST_WINDOWS as readonly number[]).includes(days)) {
    throw new KeelError('invalid_input', `days must be one of ${COST_WINDOWS.join(', ')}`);
  }
  return days;
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
