import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { KeelError } from '../core/index.js';

/** A running HTTP server: where it listens, and how to stop it. */
export interface Listening {
  readonly url: string;
  close(): Promise<void>;
}

/** Serve `fetch` on `host:port` (0: any free port) until `close()`. */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  { port, host }: { port: number; host: string },
): Promise<Listening> {
  const { server, address } = await new Promise<{
    server: ReturnType<typeof serve>;
    address: AddressInfo;
  }>((resolve, reject) => {
    const started = serve({ fetch, port, hostname: host }, (info) => {
      resolve({ server: started, address: info });
    });
    started.once('error', (error: NodeJS.ErrnoException) => {
      reject(listenError(error, host, port));
    });
  });
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Why a server could not listen, in one line a person can act on. */
function listenError(error: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (error.code) {
    case 'EADDRINUSE':
      return new KeelError(
        'invalid_config',
        `${host}:${port} is already in use by another process; choose another --port`,
      );
    case 'EACCES':
      return new KeelError(
        'invalid_config',
        `not allowed to listen on ${host}:${port}; choose a port above 1024`,
      );
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new KeelError('invalid_config', `cannot listen on ${host}: no such local address`);
    case undefined:
    default:
      return error;
  }
}
