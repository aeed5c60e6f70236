import { KeelError, type Redactor } from '../core/index.js';

/** `createRuntime({ redact })`, checked: a redactor that could never match fails at creation. */
export function checkRedactors(redact: unknown): readonly Redactor[] {
  if (redact === undefined) return [];
  if (!Array.isArray(redact))
    throw new KeelError('invalid_config', 'createRuntime: "redact" must be a list of redactors');
  return redact.map((redactor: unknown, index) => {
    const candidate = redactor as Partial<Redactor> | null;
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.name !== 'string' ||
      !/^[a-z][a-z0-9_]{0,39}$/.test(candidate.name) ||
      !(candidate.pattern instanceof RegExp) ||
      (candidate.accept !== undefined && typeof candidate.accept !== 'function')
    )
      throw new KeelError(
        'invalid_config',
        `createRuntime: "redact[${index}]" must be { name: 'snake_case', pattern: RegExp, accept?: (match) => boolean }`,
      );
    if (new RegExp(candidate.pattern.source).test(''))
      throw new KeelError(
        'invalid_config',
        `createRuntime: "redact[${index}]" (${candidate.name}) matches empty text`,
      );
    return candidate as Redactor;
  });
}
