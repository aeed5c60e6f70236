import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import type { Approver } from '../approval/index.js';
import { KeelError } from '../core/index.js';
import { journalRedaction, type JournalRedaction } from '../journal/index.js';
import type { Runtime } from '../engine/index.js';
import { seesAgent, viewerOf } from './dashboard/viewer.js';
import { NO_QUERY, parseQuery } from './query-params.js';
import { MAX_TASK_CHARS, requestLimits, type RequestLimits } from './request-limits.js';
import { securityHeaders } from './security-headers.js';
import { errorResponse } from './status-codes.js';

const MAX_ID = 128;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

const startBody = z.strictObject({
  agent: z.string().min(1).max(200),
  task: z.string().min(1).max(MAX_TASK_CHARS),
  model: z.string().min(1).max(500).optional(),
});

/** Options of the run stream API. */
export interface RunEventsAppOptions {
  readonly runtime: Runtime;
  /** Body size, request rate and failed sign-ins per client (see `RequestLimits`). */
  readonly limits?: RequestLimits | undefined;
  /** How often a stream reads the journal when nothing was heard. Default 250 ms. */
  readonly pollMs?: number | undefined;
}

/**
 * The run stream API, with `Authorization: Bearer <approver token>` on every route:
 * `GET /runs/:id/events` streams a run as server-sent events (`id:` the journal sequence,
 * `event:` the type, `data:` the JSON event; `Last-Event-ID` resumes after that sequence) to
 * an admin or to a viewer or approver whose groups one of the run's agent's gates asks (to
 * them with the run's secrets redacted, as `keel show` shows them, and without `text_delta`
 * pieces, in which a secret could be split: `text_completed` carries the step's text);
 * `POST /runs` with `{ agent, task, model? }` queues a run for any worker (admins only) and
 * answers `201 { runId, streamUrl }`. Errors are `{ error: { code, message } }`.
 *
 * ```ts
 * const app = runEventsApp({ runtime });
 * const response = await app.request('/runs', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agent: 'support', task: 'Where is order A-1?' }) });
 * ```
 */
export function runEventsApp({ runtime, limits, pollMs }: RunEventsAppOptions): Hono {
  const app = new Hono();
  app.use('*', securityHeaders());
  app.use('*', requestLimits(limits));

  app.get('/runs/:id/events', async (c) => {
    const approver = await runtime.approvals.authenticate(bearer(c));
    parseQuery(c, NO_QUERY);
    const runId = idParam(c);
    const afterSeq = lastEventId(c);
    const record = await runtime.store.getRun(runId);
    if (!record) throw new KeelError('not_found', `no run ${runId}`);
    if (!seesAgent(viewerOf(approver, runtime.agents, ''), record.agent)) {
      throw new KeelError(
        'forbidden',
        `${approver.name} does not see runs of agent "${record.agent}"`,
      );
    }
    return streamRunEvents(c, runtime, runId, afterSeq, pollMs, {
      reveal: approver.role === 'admin',
    });
  });

  app.post('/runs', async (c) => {
    const approver = await runtime.approvals.authenticate(bearer(c));
    requireAdmin(approver);
    // `?model=` would otherwise be ignored: every setting of a run is in its body.
    parseQuery(c, NO_QUERY);
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      return c.json(
        {
          error: {
            code: 'unsupported_media_type',
            message: 'a run is started with a JSON body (Content-Type: application/json)',
          },
        },
        415,
      );
    }
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new KeelError('invalid_input', 'the body must be JSON');
    }
    const body = startBody.safeParse(raw);
    if (!body.success)
      throw new KeelError('invalid_input', `bad run: ${z.prettifyError(body.error)}`);
    if (!runtime.agent(body.data.agent))
      throw new KeelError('not_found', `unknown agent "${body.data.agent}"`);
    const record = await runtime.submit(body.data.agent, body.data.task, {
      ...(body.data.model === undefined ? {} : { model: body.data.model }),
    });
    return c.json(
      { runId: record.id, streamUrl: `/runs/${encodeURIComponent(record.id)}/events` },
      201,
    );
  });

  app.onError(errorResponse);
  return app;
}

/**
 * Write a run's stream as server-sent events until its `run_finished`, or until the client
 * goes away (which ends only the subscription: the run goes on).
 */
export function streamRunEvents(
  c: Context,
  runtime: Runtime,
  runId: string,
  afterSeq: number,
  pollMs?: number,
  { reveal = false }: { readonly reveal?: boolean } = {},
): Response {
  c.header('cache-control', 'no-store');
  c.header('x-accel-buffering', 'no');
  return streamSSE(c, async (sse) => {
    const controller = new AbortController();
    sse.onAbort(() => {
      controller.abort();
    });
    const keepalive = setInterval(() => {
      void sse.write(': keepalive\n\n').catch(() => undefined);
    }, KEEPALIVE_MS);
    try {
      const events = runtime.stream(runId, {
        afterSeq,
        signal: controller.signal,
        ...(pollMs === undefined ? {} : { pollMs }),
      });
      // Secrets redacted as every view redacts them (admins see them): the redaction learns
      // the run's secret values from its journal as the stream passes them.
      let redaction: JournalRedaction | undefined;
      for await (const event of events) {
        if (!reveal) {
          // A secret may straddle two pieces of live text: the step's whole text follows.
          if (event.type === 'text_delta') continue;
          if (!redaction || /^(run_started|tool_|approval_)/.test(event.type))
            redaction = journalRedaction(
              (await runtime.store.readEvents(runId)).map((entry) => entry.event),
            );
        }
        await sse.writeSSE({
          id: String(event.seq),
          event: event.type,
          data: JSON.stringify(redaction ? redaction.value(event) : event),
        });
      }
    } finally {
      clearInterval(keepalive);
    }
  });
}

function requireAdmin(approver: Approver): void {
  if (approver.role !== 'admin') {
    throw new KeelError(
      'forbidden',
      `${approver.name} is ${approver.role === 'viewer' ? 'a viewer' : 'an approver'}: starting runs over HTTP needs an admin token`,
    );
  }
}

/** The `:id` of the path, refused (400) when longer than any id Keel makes. */
function idParam(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (id.length === 0 || id.length > MAX_ID)
    throw new KeelError('invalid_input', `a run id is 1 to ${MAX_ID} characters`);
  return id;
}

/** `Last-Event-ID`: the journal sequence the client has; absent is 0 (from the start). */
export function lastEventId(c: Context): number {
  const header = c.req.header('last-event-id');
  if (header === undefined || header.trim() === '') return 0;
  const value = Number(header.trim());
  if (!/^\d+$/.test(header.trim()) || !Number.isSafeInteger(value))
    throw new KeelError('invalid_input', 'Last-Event-ID must be a journal sequence number');
  return value;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header('authorization');
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
