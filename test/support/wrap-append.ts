import type { JournalWrite, Store } from '../../src/store/index.js';

/**
 * The store with its journal `append` passed through `append` (which calls `inner` to write);
 * every other method is the store's own. Methods are called on the store itself: its #private
 * fields are not reachable through a proxy.
 */
export function wrapAppend(
  store: Store,
  append: (write: JournalWrite, inner: (write: JournalWrite) => Promise<void>) => Promise<void>,
): Store {
  const inner = (write: JournalWrite): Promise<void> => store.append(write);
  return new Proxy(store, {
    get(target, key) {
      if (key === 'append') return (write: JournalWrite) => append(write, inner);
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}
