import { createServer, type Server } from 'node:http';
import { seededRandom } from '../../src/core/index.js';

/**
 * An OpenAI-compatible chat server that misbehaves on purpose, seeded: 429 with retry-after,
 * 500, hangs, malformed and truncated bodies. It counts what it served per minute.
 */
export interface FaultServer {
  readonly url: string;
  readonly stats: {
    requests: number;
    served: number;
    faults: Record<string, number>;
    /** Requests received per wall-clock minute since start (index = minute). */
    perMinute: number[];
    /** When each request arrived (ms since the epoch), in order. */
    arrivals: number[];
  };
  close(): Promise<void>;
}

/** Requests in `arrivals` (ascending) within the 60 s up to and including `at`. */
export function inWindowBefore(arrivals: readonly number[], at: number): number {
  let count = 0;
  for (let index = arrivals.length - 1; index >= 0; index--) {
    const arrival = arrivals[index] ?? 0;
    if (arrival > at) continue;
    if (arrival <= at - 60_000) break;
    count += 1;
  }
  return count;
}

/** The most requests `arrivals` (ascending) put into any 60 s window. */
export function maxInAnyMinute(arrivals: readonly number[]): number {
  let most = 0;
  let first = 0;
  for (let last = 0; last < arrivals.length; last++) {
    while ((arrivals[first] ?? 0) <= (arrivals[last] ?? 0) - 60_000) first += 1;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

export async function startFaultServer({
  seed,
  faultRate,
  effectSteps,
  latencyMs = 20,
  rpmLimit,
}: {
  seed: number;
  faultRate: number;
  effectSteps: number;
  latencyMs?: number;
  /**
   * As a provider enforces a rate limit: a request that would make more than this many in the
   * 60 s before it (itself included) is answered 429 (`fault: rpm`).
   */
  rpmLimit?: number;
}): Promise<FaultServer> {
  const random = seededRandom(seed);
  const started = Date.now();
  const stats: FaultServer['stats'] = {
    requests: 0,
    served: 0,
    faults: {},
    perMinute: [],
    arrivals: [],
  };
  const fault = (name: string): void => {
    stats.faults[name] = (stats.faults[name] ?? 0) + 1;
  };
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      stats.requests += 1;
      const minute = Math.floor((Date.now() - started) / 60_000);
      stats.perMinute[minute] = (stats.perMinute[minute] ?? 0) + 1;
      const arrivedAt = Date.now();
      stats.arrivals.push(arrivedAt);
      if (rpmLimit !== undefined && inWindowBefore(stats.arrivals, arrivedAt) > rpmLimit) {
        fault('rpm');
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        response.end('{"error":{"message":"rate limit reached","type":"rate_limit_error"}}');
        return;
      }
      const roll = random();
      const share = faultRate / 5;
      if (roll < share) {
        fault('429');
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        response.end('{"error":{"message":"slow down","type":"rate_limit_error"}}');
        return;
      }
      if (roll < 2 * share) {
        fault('500');
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end('{"error":{"message":"boom","type":"server_error"}}');
        return;
      }
      if (roll < 3 * share) {
        fault('hang');
        return; // never answers: the client's deadline ends it
      }
      const messages = (JSON.parse(body) as { messages: { role: string }[] }).messages;
      const toolResults = messages.filter((message) => message.role === 'tool').length;
      const message =
        toolResults < effectSteps
          ? {
              role: 'assistant',
              content: null,
              tool_calls: [
                {
                  id: `call_${toolResults}`,
                  type: 'function',
                  function: {
                    name: 'record_effect',
                    arguments: JSON.stringify({ step: toolResults }),
                  },
                },
              ],
            }
          : { role: 'assistant', content: 'done' };
      const reply = JSON.stringify({
        id: `chatcmpl_${stats.requests}`,
        object: 'chat.completion',
        created: 0,
        model: 'chaos',
        choices: [
          { index: 0, message, finish_reason: toolResults < effectSteps ? 'tool_calls' : 'stop' },
        ],
        usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
      });
      setTimeout(() => {
        if (roll < 4 * share) {
          fault('malformed');
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(reply.slice(0, -7) + '}}garbage');
          return;
        }
        if (roll < 5 * share) {
          fault('truncated');
          response.writeHead(200, {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(reply)),
          });
          response.write(reply.slice(0, Math.floor(reply.length / 2)));
          response.destroy();
          return;
        }
        stats.served += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(reply);
      }, latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
