import { ModelCallError } from '../index.js';

/*
 * Helpers for the adapter suites, which assert how provider failures map onto ModelCallError.
 * Test support only: the published build leaves `__tests__` folders out.
 */

/** The ModelCallError `promise` rejects with; any other outcome fails the test. */
export async function failureOf(promise: Promise<unknown>): Promise<ModelCallError> {
  try {
    await promise;
  } catch (error) {
    if (ModelCallError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected the model call to fail');
}

/** The fields of a ModelCallError that retry decisions read. */
export function summary(error: ModelCallError): Record<string, unknown> {
  return {
    type: error.type,
    statusCode: error.statusCode,
    retryAfterMs: error.retryAfterMs,
    retryable: error.retryable,
  };
}
