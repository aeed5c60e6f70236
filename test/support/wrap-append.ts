import type { JournalWrite, NewRun, RunRecord, Store } from '../../src/store/index.js';

/**
 * The store with one method replaced by `wrapped`; every other method is the store's own.
 * Methods are called on the store itself: its #private fields are not reachable through a
 * proxy.
 */
function wrapMethod<Key extends 'append' | 'createRun'>(
  store: Store,
  key: Key,
  wrapped: Store[Key],
): Store {
  return new Proxy(store, {
    get(target, property) {
      if (property === key) return wrapped;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

/** The store with its journal `append` passed through `append` (which calls `inner` to write). */
export function wrapAppend(
  store: Store,
  append: (write: JournalWrite, inner: (write: JournalWrite) => Promise<void>) => Promise<void>,
): Store {
  const inner = (write: JournalWrite): Promise<void> => store.append(write);
  return wrapMethod(store, 'append', (write: JournalWrite) => append(write, inner));
}

/** The store with `createRun` passed through `createRun` (which calls `inner` to create). */
export function wrapCreateRun(
  store: Store,
  createRun: (run: NewRun, inner: (run: NewRun) => Promise<RunRecord>) => Promise<RunRecord>,
): Store {
  const inner = (run: NewRun): Promise<RunRecord> => store.createRun(run);
  return wrapMethod(store, 'createRun', (run: NewRun) => createRun(run, inner));
}
