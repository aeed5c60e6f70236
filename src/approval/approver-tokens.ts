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
