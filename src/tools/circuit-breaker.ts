import type { Clock } from '../core/index.js';
import type { Store, ToolBreakerRecord } from '../store/index.js';
import type { ToolBreakerOptions } from './define-tool.js';
import type { ToolErrorType, ToolFailure } from './tool-error.js';

/**
 * Failures that say the service behind a tool is unhealthy. Others prove it answered.
 *
 * ```ts
 * BREAKER_COUNTED_ERRORS.has('not_found') // false: the service answered
 * ```
 */
export const BREAKER_COUNTED_ERRORS: ReadonlySet<ToolErrorType> = new Set([
  'unavailable',
  'timeout',
  'internal',
]);

/** Whether a call may run, and if it is the probe of a half-open breaker. */
export type BreakerAdmission =
  | { readonly admitted: true; readonly probe: boolean }
  | { readonly admitted: false; readonly failure: ToolFailure };

/** Compare-and-set retries before a breaker update gives up (another worker kept winning). */
const MAX_CAS_ROUNDS = 8;

/**
 * One tool's circuit breaker as this process sees it. The state lives in the store, so every
 * worker shares it: it opens after `failureThreshold` consecutive counted failures (from any
 * worker), fails calls fast as `unavailable` while open, lets one probe through after
 * `cooldownMs` (half-open), and closes when the probe succeeds.
 *
 * A closed breaker is re-read from the store at most every `syncMs`, so a healthy tool costs no
 * store round trip per call; an open one is known until its cooldown ends without a read.
 * cockatiel's breaker keeps its state in memory (its `toJSON` snapshot is for restarts, not
 * for several live processes), so the state machine here runs over compare-and-set writes.
 *
 * ```ts
 * const admission = await breaker.admit();
 * if (!admission.admitted) return { ok: false, failure: admission.failure };
 * const failure = await callTheService(); // undefined on success
 * await breaker.record(failure, admission.probe);
 * ```
 */
export class SharedBreaker {
  readonly #store: Store;
  readonly #tool: string;
  readonly #options: ToolBreakerOptions;
  readonly #clock: Clock;
  readonly #syncMs: number;
  /** How long a probe holds the half-open breaker before another worker may probe. */
  readonly #probeLeaseMs: number;
  #known: ToolBreakerRecord | undefined;
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(options: {
    store: Store;
    tool: string;
    breaker: ToolBreakerOptions;
    clock: Clock;
    syncMs: number;
    probeLeaseMs: number;
  }) {
    this.#store = options.store;
    this.#tool = options.tool;
    this.#options = options.breaker;
    this.#clock = options.clock;
    this.#syncMs = options.syncMs;
    this.#probeLeaseMs = options.probeLeaseMs;
  }

  /** May a call run now? A refusal is the call's failure: `unavailable` with `retryAfterMs`. */
  async admit(): Promise<BreakerAdmission> {
    const now = this.#clock.now();
    const known = this.#known;
    const fresh = now - this.#readAt < this.#syncMs;
    if (known?.state === 'open' && now < known.until) return this.#refuse(known, now);
    if (fresh && (known === undefined || known.state === 'closed'))
      return { admitted: true, probe: false };
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = await this.#read();
      const at = this.#clock.now();
      if (current === undefined || current.state === 'closed')
        return { admitted: true, probe: false };
      if (at < current.until) return this.#refuse(current, at);
      // Cooled down (or a probe's lease ran out): whoever sets half-open runs the probe.
      const probe: ToolBreakerRecord = {
        ...current,
        state: 'half_open',
        until: at + this.#probeLeaseMs,
        updatedAt: at,
      };
      if (await this.#write(probe, current.version)) return { admitted: true, probe: true };
    }
    return this.#refuse(this.#known, this.#clock.now());
  }

  /** Record how an admitted call ended. */
  async record(failure: ToolFailure | undefined, probe: boolean): Promise<void> {
    const counted = failure !== undefined && BREAKER_COUNTED_ERRORS.has(failure.type);
    if (!counted) {
      // The service answered. Nothing to write while the breaker is known closed and clean.
      const known = this.#known;
      if (!probe && (known === undefined || (known.state === 'closed' && known.failures === 0)))
        return;
      // A late success of a call admitted before another worker opened the breaker does not
      // close it: only the probe does.
      await this.#update((current) =>
        probe || current === undefined || current.state === 'closed'
          ? { state: 'closed', failures: 0, until: 0 }
          : undefined,
      );
      return;
    }
    await this.#update((current, now) => {
      const failures = (current?.failures ?? 0) + 1;
      const opens =
        probe || current?.state === 'half_open' || failures >= this.#options.failureThreshold;
      return opens
        ? { state: 'open', failures, until: now + this.#options.cooldownMs }
        : { state: 'closed', failures, until: 0 };
    });
  }

  async #update(
    next: (
      current: ToolBreakerRecord | undefined,
      now: number,
    ) => Pick<ToolBreakerRecord, 'state' | 'failures' | 'until'> | undefined,
  ): Promise<void> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = await this.#read();
      const now = this.#clock.now();
      const change = next(current, now);
      if (change === undefined) return;
      const record: ToolBreakerRecord = {
        tool: this.#tool,
        ...change,
        updatedAt: now,
        version: current?.version ?? 0,
      };
      if (await this.#write(record, current?.version ?? 0)) return;
    }
  }

  async #read(): Promise<ToolBreakerRecord | undefined> {
    const record = await this.#store.tools.getBreaker(this.#tool);
    this.#known = record;
    this.#readAt = this.#clock.now();
    return record;
  }

  async #write(record: ToolBreakerRecord, expectedVersion: number): Promise<boolean> {
    const written = await this.#store.tools.putBreaker(record, expectedVersion);
    if (written) {
      this.#known = { ...record, version: expectedVersion + 1 };
      this.#readAt = this.#clock.now();
    }
    return written;
  }

  #refuse(record: ToolBreakerRecord | undefined, now: number): BreakerAdmission {
    const retryAfterMs = Math.max(0, (record?.until ?? now) - now);
    const state = record?.state === 'half_open' ? 'half-open (a probe call is running)' : 'open';
    return {
      admitted: false,
      failure: {
        type: 'unavailable',
        message: `${this.#tool}: circuit breaker ${state} after repeated failures; failing fast`,
        retryAfterMs,
      },
    };
  }
}
