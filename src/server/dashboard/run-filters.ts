import { z } from 'zod';
import type { RunReason } from '../../journal/index.js';
import { KeelError } from '../../core/index.js';
import { RUN_RECORD_STATUSES, type RunCursor, type RunListQuery } from '../../store/index.js';

/** Why a run can end: the `type` of every `RunReason`. */
export const REASON_TYPES = [
  'final_answer',
  'limit',
  'model_error',
  'worker_lost',
  'in_doubt',
  'cancelled',
  'escalation',
  'internal',
  'out_of_scope',
] as const satisfies readonly RunReason['type'][];

const DAY_MS = 86_400_000;
const day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a day is YYYY-MM-DD')
  // Date.parse rolls a day past its month's end over (2026-02-30 is 2 March): a real day
  // reads back the same.
  .refine((value) => calendarDay(value) === value, 'not a calendar day');

function calendarDay(value: string): string | undefined {
  const at = Date.parse(`${value}T00:00:00Z`);
  return Number.isNaN(at) ? undefined : new Date(at).toISOString().slice(0, 10);
}

/** The run list's query string. Every filter is optional; an empty field is no filter. */
const filterSchema = z.strictObject({
  agent: z
    .string()
    .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'an agent name')
    .optional(),
  status: z.enum(RUN_RECORD_STATUSES).optional(),
  reason: z.enum(REASON_TYPES).optional(),
  from: day.optional(),
  to: day.optional(),
  cost: z.coerce.number().nonnegative().max(1_000_000).optional(),
  approvals: z.enum(['with', 'without']).optional(),
  q: z.string().max(200).optional(),
  after: z
    .string()
    .regex(/^\d{1,16}~[^\s]{1,200}$/, 'a page cursor')
    .optional(),
});

export type RunFilters = z.infer<typeof filterSchema>;

/** The filters in a query string; bad input is `invalid_input` naming the field. */
export function parseRunFilters(query: Record<string, string>): RunFilters {
  const present = Object.fromEntries(
    Object.entries(query).filter(([, value]) => value.trim() !== ''),
  );
  const parsed = filterSchema.safeParse(present);
  if (!parsed.success) {
    throw new KeelError('invalid_input', `bad filter: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** The store query for these filters, within the agents the viewer sees. */
export function runListQuery(
  filters: RunFilters,
  visibleAgents: readonly string[] | undefined,
  limit: number,
): RunListQuery {
  return {
    visibleAgents,
    agent: filters.agent,
    statuses: filters.status ? [filters.status] : undefined,
    reasonTypes: filters.reason ? [filters.reason] : undefined,
    createdFrom: filters.from === undefined ? undefined : Date.parse(`${filters.from}T00:00:00Z`),
    // The last day is included: runs before the start of the next one.
    createdBefore:
      filters.to === undefined ? undefined : Date.parse(`${filters.to}T00:00:00Z`) + DAY_MS,
    costAbove: filters.cost,
    hasApprovals: filters.approvals === undefined ? undefined : filters.approvals === 'with',
    search: filters.q,
    after: filters.after === undefined ? undefined : parseCursor(filters.after),
    limit,
  };
}

export function cursorText(cursor: RunCursor): string {
  return `${cursor.createdAt}~${cursor.id}`;
}

function parseCursor(text: string): RunCursor {
  const separator = text.indexOf('~');
  return { createdAt: Number(text.slice(0, separator)), id: text.slice(separator + 1) };
}

/** The query string of these filters (with `after` replaced), for links. */
export function filterHref(filters: RunFilters, after?: RunCursor): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (key === 'after' || value === undefined) continue;
    params.set(key, String(value));
  }
  if (after) params.set('after', cursorText(after));
  const query = params.toString();
  return query === '' ? '/' : `/?${query}`;
}
