import type { Approvals } from '../../approval/index.js';
import type { ApprovalRecord } from '../../store/index.js';
import { timerDelay } from '../../core/index.js';

export type FeedListener = (pending: readonly ApprovalRecord[]) => void;

/** Pending approvals read at most per poll (the newest). */
const FEED_LIMIT = 500;

/**
 * The pending approvals, polled once for every live page: it reads the store only while some
 * page listens, applies due expiries first (as every list of approvals does), and hands each
 * listener the whole list, which it filters to its viewer's groups.
 */
export class ApprovalFeed {
  readonly #approvals: Approvals;
  readonly #pollMs: number;
  readonly #listeners = new Set<FeedListener>();
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #latest: readonly ApprovalRecord[] | undefined;
  #closed = false;

  constructor(options: {
    approvals: Approvals;
    pollMs: number;
    onError?: ((error: unknown) => void) | undefined;
  }) {
    this.#approvals = options.approvals;
    this.#pollMs = options.pollMs;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Listen; the current list comes at once when known. Returns the unsubscribe function. */
  subscribe(listener: FeedListener): () => void {
    this.#listeners.add(listener);
    if (this.#latest) listener(this.#latest);
    if (this.#timer === undefined && !this.#closed) this.#schedule(0);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      void this.#tick();
    }, timerDelay(delayMs));
  }

  async #tick(): Promise<void> {
    if (this.#listeners.size === 0 || this.#closed) {
      this.#timer = undefined;
      this.#latest = undefined;
      return;
    }
    try {
      await this.#approvals.expireDue();
      const pending = await this.#approvals.list({ states: ['pending'], limit: FEED_LIMIT });
      this.#latest = pending;
      for (const listener of this.#listeners) listener(pending);
    } catch (error) {
      this.#onError(error);
    }
    if (!this.#closed) this.#schedule(this.#pollMs);
  }
}
