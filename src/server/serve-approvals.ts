import type { Approvals } from '../approval/index.js';
import { approvalApp } from './approval-app.js';
import { listen, type Listening } from './listen.js';

/**
 * Serve the approval API alone on a port until `close()` (`serveKeel` serves it with the
 * dashboard).
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
}): Promise<Listening> {
  return listen(approvalApp({ approvals }).fetch, { port, host });
}
