import { z } from 'zod';

/**
 * The zod schema a tool's calls are validated with before they reach the server: the server's
 * JSON Schema converted (objects stay open to extra properties, as JSON Schema's are), or an
 * open object when it cannot be converted (the server then validates on its own).
 */
export function inputValidator(inputSchema: unknown): z.ZodObject {
  try {
    const converted = z.fromJSONSchema(inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
    if (converted instanceof z.ZodObject) return converted;
    return z.looseObject({}).superRefine((value, context) => {
      const parsed = converted.safeParse(value);
      if (!parsed.success) for (const issue of parsed.error.issues) context.addIssue({ ...issue });
    });
  } catch {
    return z.looseObject({});
  }
}
