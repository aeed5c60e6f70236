import { pc, writeOut } from './terminal.js';
import {
  AUDIT_GENESIS_HASH,
  verifyAuditChain,
  type AuditVerification,
  type Store,
} from '../store/index.js';

const PAGE = 1_000;

/**
 * Recompute the audit log's hash chain page by page, in `seq` order, and report the first
 * broken link.
 */
export async function verifyAudit(store: Store): Promise<AuditVerification> {
  // Carried from page to page: the chain continues across pages.
  const state = { prevHash: AUDIT_GENESIS_HASH, nextSeq: 1, count: 0 };
  for (let afterSeq = 0; ;) {
    const page = await store.audit.read({ afterSeq, limit: PAGE });
    const result = verifyAuditChain(page, state);
    const last = page.at(-1);
    if (!result.ok || page.length < PAGE || !last) return result;
    afterSeq = last.seq;
  }
}

/** `keel audit verify`: exit 0 when the chain holds, 1 when a link is broken. */
export async function runAuditVerify(options: { store: Store; json: boolean }): Promise<number> {
  const result = await verifyAudit(options.store);
  if (options.json) {
    writeOut(`${JSON.stringify({ store: options.store.location, ...result }, null, 2)}\n`);
  } else if (result.ok) {
    writeOut(
      `${pc.green('ok')} audit log intact: ${result.entries} entries, head ${result.headHash.slice(0, 16)}\n`,
    );
  } else {
    writeOut(
      `${pc.red('broken')} at entry ${result.brokenAt} (${result.problem}): ${result.message}; ${result.entries} entries before it verify\n`,
    );
  }
  return result.ok ? 0 : 1;
}
