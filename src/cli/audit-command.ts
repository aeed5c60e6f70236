import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { pc, writeOut } from './terminal.js';
import {
  AUDIT_CHECKPOINT_KINDS,
  finishAuditVerification,
  startAuditVerification,
  verifyAuditChain,
  type AuditCheckpoint,
  type AuditVerification,
  type Store,
} from '../store/index.js';
import { usageError } from './exit-codes.js';

const PAGE = 1_000;

/** The audit key, from the environment (never from the store). */
export function auditKeyFromEnv(): string | undefined {
  const key = process.env.KEEL_AUDIT_KEY;
  return key === undefined || key === '' ? undefined : key;
}

/**
 * Recompute the audit log's chain page by page, in `seq` order, against its stored checkpoints
 * and `checkpoints` kept elsewhere (files), with `key` when there is one; report the first
 * broken link, a rewritten row a checkpoint pins, or rows missing after a checkpoint.
 */
export async function verifyAudit(
  store: Store,
  options: { key?: string | undefined; checkpoints?: readonly AuditCheckpoint[] } = {},
): Promise<AuditVerification> {
  const state = startAuditVerification({
    key: options.key,
    checkpoints: [...(await store.audit.checkpoints()), ...(options.checkpoints ?? [])],
  });
  if ('ok' in state) return state;
  let result: AuditVerification = verifyAuditChain([], state);
  for (let afterSeq = 0; ;) {
    const page = await store.audit.read({ afterSeq, limit: PAGE });
    result = verifyAuditChain(page, state);
    const last = page.at(-1);
    if (!result.ok || page.length < PAGE || !last) break;
    afterSeq = last.seq;
  }
  return finishAuditVerification(result, state);
}

/** `keel audit verify`: exit 0 when the chain holds, 1 when it does not. */
export async function runAuditVerify(options: {
  store: Store;
  json: boolean;
  checkpointFiles?: readonly string[];
}): Promise<number> {
  const key = auditKeyFromEnv();
  const files = await Promise.all((options.checkpointFiles ?? []).map(readCheckpointFile));
  const result = await verifyAudit(options.store, { key, checkpoints: files });
  if (options.json) {
    writeOut(`${JSON.stringify({ store: options.store.location, ...result }, null, 2)}\n`);
  } else if (result.ok) {
    const how = result.keyed
      ? 'keyed chain (KEEL_AUDIT_KEY)'
      : 'plain hash chain (no KEEL_AUDIT_KEY: whoever can write the store can re-hash it)';
    writeOut(
      `${pc.green('ok')} audit log intact: ${result.entries} entries, head ${result.headHash.slice(0, 16)}; ${how}; ${result.checkpoints} checkpoint${result.checkpoints === 1 ? '' : 's'} matched\n`,
    );
  } else {
    writeOut(
      `${pc.red('broken')} at entry ${result.brokenAt} (${result.problem}): ${result.message}; ${result.entries} entries before it verify\n`,
    );
  }
  return result.ok ? 0 : 1;
}

/** `keel audit checkpoint`: record the head (signed with the key when set), optionally to a file. */
export async function runAuditCheckpoint(options: {
  store: Store;
  json: boolean;
  out?: string | undefined;
}): Promise<void> {
  const checkpoint = await options.store.audit.checkpoint({ at: Date.now() });
  const document = { keelAuditCheckpoint: 1, store: options.store.location, ...checkpoint };
  if (options.out !== undefined)
    await writeFile(options.out, `${JSON.stringify(document, null, 2)}\n`, { flag: 'wx' }).catch(
      (error: unknown) => {
        throw usageError(
          `cannot write ${options.out ?? ''}: ${(error as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (checkpoint files are never overwritten)' : (error as Error).message}`,
        );
      },
    );
  if (options.json) writeOut(`${JSON.stringify(document, null, 2)}\n`);
  else
    writeOut(
      `checkpoint at entry ${checkpoint.seq}, head ${checkpoint.headHash.slice(0, 16)}, ${checkpoint.signature === null ? 'unsigned (no KEEL_AUDIT_KEY)' : 'signed'}${options.out === undefined ? '' : `; written to ${options.out}`}\n`,
    );
}

const checkpointFile = z.object({
  keelAuditCheckpoint: z.literal(1),
  kind: z.enum(AUDIT_CHECKPOINT_KINDS),
  seq: z.number().int().nonnegative(),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.number().int(),
  signature: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
});

async function readCheckpointFile(path: string): Promise<AuditCheckpoint> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw usageError(`cannot read checkpoint ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usageError(`checkpoint ${path} is not JSON`);
  }
  const parsed = checkpointFile.safeParse(value);
  if (!parsed.success)
    throw usageError(
      `checkpoint ${path} is not a keel audit checkpoint (keel audit checkpoint --out)`,
    );
  const { kind, seq, headHash, at, signature } = parsed.data;
  return { kind, seq, headHash, at, signature };
}
