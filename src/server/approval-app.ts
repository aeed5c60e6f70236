import { Hono, type Context } from 'hono';
import type { SecureHeadersVariables } from 'hono/secure-headers';
import { z } from 'zod';
import { approvalJson, approverSees, visibleGroups, type Approvals } from '../approval/index.js';
import { KeelError, MAX_LIST_LIMIT } from '../core/index.js';
import { APPROVAL_STATES } from '../store/index.js';
import { decidePage } from './decide-page.js';
import { NO_QUERY, parseQuery } from './query-params.js';
import { requestLimits, type RequestLimits } from './request-limits.js';
import { securityHeaders } from './security-headers.js';
import { STATUS_BY_CODE, errorResponse } from './status-codes.js';

export { STATUS_BY_CODE };

/** What the approval app's handlers read from their context: the response's CSP nonce. */
export interface ApprovalAppEnv {
  Variables: SecureHeadersVariables;
}

const MAX_ID = 128;
const MAX_ARGS_HASH = 128;

const decisionBody = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  argsHash: z.string().min(1).max(MAX_ARGS_HASH),
  reason: z.string().max(2_000).optional(),
  editedArgs: z.record(z.string(), z.unknown()).optional(),
});

const listQuery = z.strictObject({
  state: z.enum(APPROVAL_STATES).optional(),
  run: z.string().min(1).max(MAX_ID).optional(),
  limit: z.coerce.number().int().positive().max(MAX_LIST_LIMIT).optional(),
});

/**
 * The approval API: `GET /approvals[?state=&run=&limit=]` (another parameter, or one given
 * twice, is a 400), `GET /approvals/:id`,
 * `POST /approvals/:id/decision` with `{ decision: 'approve' | 'deny', argsHash, reason?,
 * editedArgs? }`. Every route needs `Authorization: Bearer <approver token>`; a token sees its
 * groups' approvals (an admin's, all of them) and a viewer token may not decide. Errors are
 * `{ error: { code, message } }` with the status from `STATUS_BY_CODE`.
 *
 * ```ts
 * const app = approvalApp({ approvals: runtime.approvals });
 * const response = await app.request('/approvals?state=pending', { headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export function approvalApp({
  approvals,
  limits,
}: {
  approvals: Approvals;
  /** Body size, request rate and failed sign-ins per client (see `RequestLimits`). */
  limits?: RequestLimits | undefined;
}): Hono<ApprovalAppEnv> {
  const app = new Hono<ApprovalAppEnv>();
  app.use('*', securityHeaders());
  app.use('*', requestLimits(limits));

  app.get('/approvals', async (c) => {
    const approver = await approvals.authenticate(bearer(c));
    const query = parseQuery(c, listQuery);
    await approvals.expireDue();
    const list = await approvals.list({
      ...(query.state ? { states: [query.state] } : {}),
      ...(query.run ? { runId: query.run } : {}),
      groups: visibleGroups(approver),
      limit: query.limit ?? 50,
    });
    return c.json({ approvals: list.map(approvalJson) });
  });

  app.get('/approvals/:id', async (c) => {
    // A browser following a notification's decide link gets the page that decides with a token.
    if (c.req.header('authorization') === undefined && acceptsHtml(c)) {
      return c.html(decidePage(approvalId(c), c.get('secureHeadersNonce')));
    }
    const approver = await approvals.authenticate(bearer(c));
    parseQuery(c, NO_QUERY);
    const approval = await approvals.get(approvalId(c));
    if (!approverSees(approver, approval.approverGroup)) {
      throw new KeelError(
        'forbidden',
        `${approver.name} is not in group "${approval.approverGroup}", which decides approval ${approval.id}`,
      );
    }
    return c.json({
      approval: approvalJson(approval),
      decisions: await approvals.decisions(approval.id),
    });
  });

  app.post('/approvals/:id/decision', async (c) => {
    const token = bearer(c);
    const id = approvalId(c);
    if (Object.keys(c.req.queries()).length > 0) {
      await approvals.authenticate(token);
      parseQuery(c, NO_QUERY);
    }
    // A JSON body only: a form or text/plain post from another origin's page never reaches here.
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      return c.json(
        {
          error: {
            code: 'unsupported_media_type',
            message: 'a decision is a JSON body (Content-Type: application/json)',
          },
        },
        415,
      );
    }
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      raw = undefined;
    }
    const body = decisionBody.safeParse(raw);
    if (!body.success) {
      // Who asks comes first: a stranger learns nothing, not even what a decision looks like.
      await approvals.authenticate(token);
      throw new KeelError(
        'invalid_input',
        raw === undefined
          ? 'the body must be JSON'
          : `bad decision: ${z.prettifyError(body.error)}`,
      );
    }
    const decided = await approvals.decide({
      token,
      id,
      decision: body.data.decision,
      argsHash: body.data.argsHash,
      reason: body.data.reason,
      editedArgs: body.data.editedArgs,
    });
    return c.json({ approval: approvalJson(decided) });
  });

  app.notFound((c) =>
    c.json(
      { error: { code: 'not_found', message: `no route ${c.req.method} ${c.req.path}` } },
      404,
    ),
  );

  app.onError(errorResponse);
  return app;
}

/** The `:id` of the path, refused (400) when longer than any id Keel makes. */
function approvalId(c: Context): string {
  const id = c.req.param('id') ?? '';
  if (id.length === 0 || id.length > MAX_ID)
    throw new KeelError('invalid_input', `an approval id is 1 to ${MAX_ID} characters`);
  return id;
}

function bearer(c: Context): string | undefined {
  const header = c.req.header('authorization');
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function acceptsHtml(c: Context): boolean {
  return /\btext\/html\b/.test(c.req.header('accept') ?? '');
}
