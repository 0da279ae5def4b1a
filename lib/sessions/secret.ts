import { randomBytes, timingSafeEqual } from 'node:crypto';

// A session's id is public (it is `channel.id`, it sits in URLs and routes requests); its
// secret proves that a request comes from the client the session was opened for. It is told
// once, in the body of the session's first hello, and afterwards travels only in headers
// (docs/security.md, "The session secret").

/** 128 random bits as 22 characters of base64url. */
export function newSessionSecret(): string {
  return randomBytes(16).toString('base64url');
}

/** Compared in constant time: how long it takes says nothing of how much was right. */
export function sameSecret(known: string, presented: string | undefined): boolean {
  if (presented === undefined) return false;
  // Lengths in bytes: a header of the right length in characters may hold wider ones.
  const a = Buffer.from(known);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A single-use, short-lived stand-in for the secret, for the one client that cannot send a
 * header: the runtime's own EventSource (docs/protocol.md, "Resume tickets"). It may sit in
 * a URL because a logged ticket is spent or expired by the time anyone reads the log.
 */
export class ResumeTicket {
  static readonly lifetime = 30_000;
  readonly #value = newSessionSecret();
  readonly #expires = Date.now() + ResumeTicket.lifetime;

  get value(): string {
    return this.#value;
  }

  /** True if `presented` is this ticket and it has not expired. */
  admits(presented: string | undefined): boolean {
    return Date.now() < this.#expires && sameSecret(this.#value, presented);
  }
}
