// The scaling bench's agent and worker configuration, shared by the bench and its worker
// processes (scaling-worker.ts).
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineAgent, defineTool, openaiChat, type Agent, type Store } from '../src/index.js';

export interface ScalingWorkerConfig {
  readonly storeUrl: string;
  readonly modelUrl: string;
  readonly concurrency: number;
  readonly toolLatencyMs: number;
  readonly pollMs: number;
  readonly poolSize: number;
  readonly selfFeed?: number;
}

export const SCALING_AGENT = 'scaling';

/** The I/O-bound agent: the fake model's tool loop, each tool call waiting `toolLatencyMs`. */
export function scalingAgent(modelUrl: string, toolLatencyMs: number): Agent {
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up an item by its id.',
    input: z.object({ query: z.string() }),
    effect: 'read',
    run: async ({ query }) => {
      await sleep(toolLatencyMs);
      return { query, stock: query.length };
    },
  });
  return defineAgent({
    name: SCALING_AGENT,
    model: openaiChat({ model: 'bench', baseURL: modelUrl, apiKey: 'unused' }),
    instructions: 'Look up each item with the lookup tool, then answer.',
    tools: [lookup],
  });
}

/** Store time as its callers wait for it: every promise-returning call, summed. */
export interface StoreTime {
  ms: number;
  calls: number;
}

/** The store with each async call of it (and of its ports) timed into `time`. */
export function timedStore(store: Store, time: StoreTime): Store {
  const wrap = <T extends object>(target: T): T => {
    const ports = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get(object, property) {
        const value: unknown = Reflect.get(object, property, object);
        if (typeof value === 'function')
          return (...args: unknown[]) => {
            const startedAt = performance.now();
            const result: unknown = (value as (...a: unknown[]) => unknown).apply(object, args);
            if (!(result instanceof Promise)) return result;
            time.calls += 1;
            return result.finally(() => {
              time.ms += performance.now() - startedAt;
            });
          };
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          if (!ports.has(property)) ports.set(property, wrap(value));
          return ports.get(property);
        }
        return value;
      },
    });
  };
  return wrap(store);
}
