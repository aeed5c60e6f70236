import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Approvals } from '../approval/index.js';
import { approvalApp } from './approval-app.js';

/**
 * Serve the approval API on a port until `close()`.
 *
 * ```ts
 * const server = await serveApprovals({ approvals: runtime.approvals, port: 4600 });
 * console.log(server.url);
 * ```
 */
export async function serveApprovals({
  approvals,
  port = 4600,
  host = '127.0.0.1',
}: {
  approvals: Approvals;
  port?: number;
  host?: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const app = approvalApp({ approvals });
  const { server, address } = await new Promise<{
    server: ReturnType<typeof serve>;
    address: AddressInfo;
  }>((resolve, reject) => {
    const started = serve({ fetch: app.fetch, port, hostname: host }, (info) => {
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
