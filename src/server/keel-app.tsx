import { Hono } from 'hono';
import { html } from 'hono/html';
import { approvalApp } from './approval-app.js';
import { dashboardApp, type DashboardOptions } from './dashboard/dashboard-app.js';
import { ErrorPage } from './dashboard/error-page.js';
import { listen, type Listening } from './listen.js';
import { requestLimits, type RequestLimits } from './request-limits.js';
import { runEventsApp } from './run-events-app.js';
import { securityHeaders } from './security-headers.js';

export interface KeelAppOptions extends DashboardOptions {
  /** Body size, request rate and failed sign-ins per client, on every route. */
  readonly limits?: RequestLimits | undefined;
  /**
   * How often a run stream reads the journal when nothing was heard (SQLite; on PostgreSQL
   * notifications come first). Default 250 ms.
   */
  readonly streamPollMs?: number | undefined;
}

/**
 * Keel's HTTP server in one app: the dashboard at `/` (sign in with a token), the approval
 * API under `/approvals` and the run stream API (`GET /runs/:id/events`, `POST /runs`; bearer
 * tokens), over one runtime's store and agents. Every response
 * carries the security headers.
 *
 * ```ts
 * const { app, close } = keelApp({ runtime });
 * const response = await app.request('/approvals?state=pending', { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export function keelApp(options: KeelAppOptions): { app: Hono; close: () => void } {
  const app = new Hono();
  app.use('*', securityHeaders());
  app.use('*', requestLimits(options.limits));
  app.route('/', approvalApp({ approvals: options.runtime.approvals }));
  app.route('/', runEventsApp({ runtime: options.runtime, pollMs: options.streamPollMs }));
  const dashboard = dashboardApp(options);
  app.route('/', dashboard.app);
  app.notFound((c) => {
    const message = `no route ${c.req.method} ${c.req.path}`;
    if (/\btext\/html\b/.test(c.req.header('accept') ?? '')) {
      return c.html(
        html`<!doctype html>${(<ErrorPage status={404} code="not_found" message={message} />)}`,
        404,
      );
    }
    return c.json({ error: { code: 'not_found', message } }, 404);
  });
  return {
    app,
    close: () => {
      dashboard.close();
    },
  };
}

/**
 * Serve the dashboard and the approval API on a port (127.0.0.1 unless told) until `close()`.
 *
 * ```ts
 * const server = await serveKeel({ runtime, port: 4600 });
 * console.log(`dashboard at ${server.url}/`);
 * ```
 */
export async function serveKeel({
  port = 4600,
  host = '127.0.0.1',
  ...options
}: KeelAppOptions & { port?: number; host?: string }): Promise<Listening> {
  const { app, close } = keelApp(options);
  const listening = await listen(app.fetch, { port, host });
  return {
    url: listening.url,
    async close() {
      close();
      await listening.close();
    },
  };
}
