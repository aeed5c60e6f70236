import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';

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
    started.once('error', reject);
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
