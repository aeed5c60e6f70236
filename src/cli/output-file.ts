import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { KeelError } from '../core/index.js';
import { usageError } from './exit-codes.js';

/**
 * Refuses, before any work is done, a file an option names that could not be written: its
 * directory is missing or read-only, or it is a directory. A suite that runs for minutes should
 * not lose its report to a typo in `--junit`.
 */
export function checkWritable(path: string, option: string): void {
  const full = resolve(path);
  try {
    const stats = statSync(full, { throwIfNoEntry: false });
    if (stats?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    accessSync(stats ? full : dirname(full), constants.W_OK);
  } catch (error) {
    throw cannotWrite(path, option, error);
  }
}

/** Writes `text` to the file an option names; a failure is a usage error naming both. */
export function writeOutputFile(path: string, text: string, option: string): void {
  try {
    writeFileSync(resolve(path), text);
  } catch (error) {
    throw cannotWrite(path, option, error);
  }
}

function cannotWrite(path: string, option: string, error: unknown): KeelError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'its directory does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'ENOTDIR'
            ? 'a part of its directory is a file'
            : error instanceof Error
              ? error.message
              : String(error);
  return usageError(`cannot write ${path} (${option}): ${reason}`);
}
