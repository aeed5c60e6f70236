import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/index.js';

/** A signed-in browser: the token it entered, kept on the server only. */
export interface Session {
  readonly id: string;
  /** The approver token: checked again on every request, so a revoked role applies at once. */
  readonly token: string;
  /** The synchroniser token every state-changing request must carry. */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  readonly clock: Clock;
  /** A session unused this long ends (default 8 hours). */
  readonly idleMs?: number;
  /** A session ends this long after sign-in whatever its use (default 24 hours). */
  readonly maxAgeMs?: number;
}

/**
 * Sessions of one server process, in memory: the cookie holds only a random id, never the
 * token. A restart signs everyone out, which is the safe way to lose them.
 */
export class Sessions {
  readonly #sessions = new Map<string, Session>();
  readonly #clock: Clock;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;

  constructor({ clock, idleMs = 8 * 3_600_000, maxAgeMs = 24 * 3_600_000 }: SessionOptions) {
    this.#clock = clock;
    this.#idleMs = idleMs;
    this.#maxAgeMs = maxAgeMs;
  }

  create(token: string): Session {
    this.#sweep();
    const now = this.#clock.now();
    const session: Session = {
      id: randomToken(),
      token,
      csrf: randomToken(),
      createdAt: now,
      lastSeenAt: now,
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session with this id (and marks it used), or `undefined`. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.#clock.now();
    if (this.#expired(session, now)) {
      this.#sessions.delete(id);
      return undefined;
    }
    session.lastSeenAt = now;
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  #expired(session: Session, now: number): boolean {
    return now - session.lastSeenAt > this.#idleMs || now - session.createdAt > this.#maxAgeMs;
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [id, session] of this.#sessions) {
      if (this.#expired(session, now)) this.#sessions.delete(id);
    }
  }
}

/** 32 random bytes, base64url: a session id or a CSRF token. */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Equal strings, compared in constant time for equal lengths. */
export function sameSecret(a: string | undefined, b: string): boolean {
  if (a === undefined) return false;
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
