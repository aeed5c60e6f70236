import { createHash, randomBytes } from 'node:crypto';

const TOKEN_PREFIX = 'keel_apr_';

/** A new approver token: shown once, stored only as its hash. */
export function newApproverToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
}

/** What the store keeps of a token: its SHA-256, hex. */
export function hashApproverToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new approver id: stable for the approver's life, recorded by every decision. */
export function newApproverId(): string {
  return `apv_${randomBytes(8).toString('hex')}`;
}
