import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The whole body of a request, as UTF-8. */
export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.on('error', reject);
  });
}

/**
 * A fake server's `close()`: cancels its pending timers (delayed or hanging replies), closes
 * every connection and resolves once the server is closed; calling it again returns the same
 * promise.
 */
export function closer(server: Server, timers: Set<NodeJS.Timeout>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return function close() {
    closing ??= new Promise<void>((resolve, reject) => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
      server.closeAllConnections();
    });
    return closing;
  };
}

/** Listen on a free loopback port (with a deep backlog for bursts); resolves to the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 2048 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** Writes `value` as a JSON response, unless the client has already gone. */
export function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  // The client may have given up while we waited (latency, abort, timeout).
  if (response.destroyed || response.writableEnded) return;
  const text = JSON.stringify(value);
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** The `retry-after` (seconds) and `retry-after-ms` headers a rate-limit reply asks for. */
export function retryAfterHeaders(reply: {
  readonly retryAfterSeconds?: number;
  readonly retryAfterMs?: number;
}): Record<string, string> {
  const headers: Record<string, string> = {};
  if (reply.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(reply.retryAfterSeconds);
  if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
  return headers;
}
