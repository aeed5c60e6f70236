import { KeelError, type KeelErrorCode } from '../core/index.js';

/** Exit codes: 0 ok, 1 a run that did not succeed or broken infrastructure, 2 bad usage. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

const EXIT_BY_CODE = {
  invalid_definition: EXIT.usage,
  invalid_config: EXIT.usage,
  invalid_input: EXIT.usage,
  not_found: EXIT.usage,
  store_unavailable: EXIT.failed,
  store_corrupt: EXIT.failed,
  lease_lost: EXIT.failed,
  conflict: EXIT.failed,
  internal: EXIT.failed,
  unauthenticated: EXIT.usage,
  forbidden: EXIT.usage,
} as const satisfies Record<KeelErrorCode, number>;

/** A usage error the CLI raises itself (bad flags, bad values). */
export function usageError(message: string): KeelError {
  return new KeelError('invalid_input', message);
}

/** One line for stderr and the exit code, for any error. Never a stack trace. */
export function describeFailure(error: unknown): { line: string; exitCode: number } {
  if (KeelError.isInstance(error)) {
    return { line: `keel: ${oneLine(error.message)}`, exitCode: EXIT_BY_CODE[error.code] };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: `keel: unexpected error: ${oneLine(message)}`, exitCode: EXIT.failed };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
