import type { Context } from 'hono';
import { z } from 'zod';
import { KeelError } from '../core/index.js';

/** A route that takes no query parameters. */
export const NO_QUERY = z.strictObject({});

/**
 * A request's query string read against `schema` (a `z.strictObject`): a parameter the route
 * does not take, or one given twice, is `invalid_input` naming it, never ignored or read as
 * its first value.
 *
 * ```ts
 * const query = parseQuery(c, z.strictObject({ state: z.enum(['pending']).optional() }));
 * ```
 */
export function parseQuery<Schema extends z.ZodType>(c: Context, schema: Schema): z.output<Schema> {
  const parsed = schema.safeParse(singleQuery(c));
  if (!parsed.success)
    throw new KeelError('invalid_input', `bad query: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Each query parameter's one value; a parameter given twice is `invalid_input` naming it. */
export function singleQuery(c: Context): Record<string, string> {
  const single: Record<string, string> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    if (values.length > 1)
      throw new KeelError(
        'invalid_input',
        `bad query: "${name.slice(0, 100)}" is given ${values.length} times; give it once`,
      );
    single[name] = values[0] ?? '';
  }
  return single;
}
