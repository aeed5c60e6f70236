const marker = Symbol.for('keel.error');

/** The closed set of fault codes. Faults are misuse, bad configuration or broken infrastructure. */
export const KEEL_ERROR_CODES = [
  'invalid_definition',
  'invalid_config',
  'invalid_input',
  'not_found',
  'store_unavailable',
  'store_corrupt',
  'lease_lost',
  'conflict',
  'internal',
  /** No credentials, or credentials that match no one (an approver token, for example). */
  'unauthenticated',
  /** Known credentials that do not grant this action (an approver outside the group). */
  'forbidden',
] as const;
/** The closed set of fault codes a `KeelError` carries. */
export type KeelErrorCode = (typeof KEEL_ERROR_CODES)[number];

/**
 * A fault: thrown, never recorded as a run outcome. `isInstance` works across two installed
 * copies of Keel because it checks a `Symbol.for` marker instead of the class identity.
 *
 * ```ts
 * try { defineTool({ ... }) } catch (error) {
 *   if (KeelError.isInstance(error) && error.code === 'invalid_definition') console.error(error.message);
 * }
 * ```
 */
export class KeelError extends Error {
  readonly [marker] = true;
  readonly code: KeelErrorCode;

  constructor(code: KeelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'KeelError';
  }

  static isInstance(error: unknown): error is KeelError {
    return typeof error === 'object' && error !== null && marker in error;
  }
}
