import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/*
 * A bare HTTP server for the adapter suites, for bodies the fake provider servers cannot send
 * (a stream cut into odd pieces, cut off, or carrying an error). Test support only.
 */

/** Servers started by `rawServer`; close them after each test with `closeRawServers`. */
const servers: Server[] = [];

/** Answers every request with `reply`, once its body is read; resolves to its base URL. */
export async function rawServer(
  reply: (response: ServerResponse, request: IncomingMessage) => void,
): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      reply(response, request);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** Writes what `next` makes, piece after piece, for as long as the client reads: a body that never ends. */
export function writeForever(response: ServerResponse, next: () => string | Buffer): void {
  const write = (): void => {
    while (!response.destroyed && response.write(next()));
    if (!response.destroyed) response.once('drain', write);
  };
  write();
}

export async function closeRawServers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))),
  );
}
