import { TimeoutStrategy, bulkhead, timeout, wrap, type IPolicy } from 'cockatiel';
import { systemClock, type Clock, type Redactor } from '../core/index.js';
import type { NewAuditEntry, Store } from '../store/index.js';
import { SharedBreaker } from './circuit-breaker.js';
import type { Tool } from './define-tool.js';
import type { ToolOutcome } from './execute-tool.js';

export interface ToolPoliciesOptions {
  /**
   * Where breakers, cached results and the audit log live. Without a store, calls still get
   * their timeout, bulkhead and retries, but no breaker, cache or audit.
   */
  readonly store?: Store | undefined;
  readonly clock?: Clock | undefined;
  /** How stale this process's view of a closed breaker may be before it is read again. */
  readonly breakerSyncMs?: number | undefined;
  /** Jitter source for retry delays, in [0, 1). */
  readonly random?: (() => number) | undefined;
  /** Patterns of secret text replaced by a salted digest in audit rows (with `secretFields`). */
  readonly redact?: readonly Redactor[] | undefined;
}

export const DEFAULT_BREAKER_SYNC_MS = 500;

/**
 * The tool layer's per-process state: a breaker view, a bulkhead and a timeout policy per
 * tool, and the calls in flight per cache key (for coalescing). One per runtime; every worker
 * process has its own, sharing breakers, cached results and the audit log through the store.
 *
 * ```ts
 * const policies = createToolPolicies({ store });
 * const outcome = await executeTool({ tool, input, context, signal, hooks, policies });
 * ```
 */
export class ToolPolicies {
  readonly store: Store | undefined;
  readonly clock: Clock;
  readonly random: () => number;
  readonly redact: readonly Redactor[];
  readonly #breakerSyncMs: number;
  readonly #breakers = new Map<string, SharedBreaker>();
  /** Per tool object: two agents' different tools of one name keep their own limits. */
  readonly #guards = new WeakMap<Tool, IPolicy>();
  /**
   * Calls executing now, by cache key: identical concurrent calls share one execution. Settles
   * to `undefined` when the execution has nothing to share (cancelled, or a fault of its run).
   */
  readonly inFlight = new Map<string, Promise<ToolOutcome | undefined>>();

  constructor(options: ToolPoliciesOptions = {}) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.redact = options.redact ?? [];
    this.#breakerSyncMs = options.breakerSyncMs ?? DEFAULT_BREAKER_SYNC_MS;
  }

  /** The tool's shared breaker, or undefined when it has none (or there is no store). */
  breaker(tool: Tool): SharedBreaker | undefined {
    if (!tool.breaker || !this.store) return undefined;
    let breaker = this.#breakers.get(tool.name);
    if (!breaker) {
      breaker = new SharedBreaker({
        store: this.store,
        tool: tool.name,
        breaker: tool.breaker,
        clock: this.clock,
        syncMs: this.#breakerSyncMs,
        probeLeaseMs: tool.timeoutMs + 1_000,
      });
      this.#breakers.set(tool.name, breaker);
    }
    return breaker;
  }

  /**
   * cockatiel's bulkhead (calls of this tool at once in this process) around its timeout
   * (aggressive: the tool's signal aborts at the deadline and a tool that ignores it is not
   * awaited). A call that returned in time leaves its signal as it was: aborting it would only
   * cost an `AbortError` per call for nobody to hear.
   */
  guard(tool: Tool): IPolicy {
    let policy = this.#guards.get(tool);
    if (!policy) {
      policy = wrap(
        bulkhead(tool.bulkhead.maxConcurrent, tool.bulkhead.maxQueued),
        timeout(tool.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }),
      );
      this.#guards.set(tool, policy);
    }
    return policy;
  }

  /** Append to the audit log when there is a store. */
  async audit(entry: NewAuditEntry): Promise<void> {
    await this.store?.audit.append([entry]);
  }
}

/** Create the tool layer's per-process state (see `ToolPolicies`). */
export function createToolPolicies(options: ToolPoliciesOptions = {}): ToolPolicies {
  return new ToolPolicies(options);
}
