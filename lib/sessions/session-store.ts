import { createHash, timingSafeEqual } from 'node:crypto';
/** What a store keeps: anything with a session id (the hub keeps channel cores). */
export interface HasSessionId {
  readonly id: string;
}

/**
 * Where a `live` instance finds its open sessions by id, and recently closed polling ones.
 * The seam a store that is not in this process's memory plugs into; MemorySessionStore is
 * the default.
 */
export interface SessionStore<T extends HasSessionId> extends Iterable<T> {
  readonly size: number;
  add(session: T): void;
  delete(session: T): void;
  find(id: string): T | undefined;
  /** Keeps a closed polling session for `grace` ms, so its next poll learns why it closed. */
  bury(session: T, grace: number): void;
  /**
   * A recently closed polling session, taken out of the store (it answers one poll) when
   * `proven` says the request is its client's; left in place otherwise.
   */
  takeClosed(id: string, proven?: (session: T) => boolean): T | undefined;
}

/**
 * The open session channels, found by session id. Ids were bearer secrets before sessions
 * had a secret of their own, and a lookup still must not leak, through timing, how much of a
 * guessed id was right: the map is keyed by a digest of the id (a hash lookup reveals nothing
 * about the id itself), and the id found is then compared with the presented one in constant
 * time.
 */
export class MemorySessionStore<T extends HasSessionId> implements SessionStore<T> {
  readonly #byDigest = new Map<string, T>();
  readonly #closed = new Map<string, { channel: T; timer: NodeJS.Timeout }>();

  add(channel: T): void {
    this.#byDigest.set(digest(channel.id), channel);
  }

  delete(channel: T): void {
    this.#byDigest.delete(digest(channel.id));
  }

  find(id: string): T | undefined {
    return sameId(this.#byDigest.get(digest(id)), id);
  }

  /**
   * Keeps a closed polling session for `grace` ms: a poll that was not being held when the
   * application closed it still gets the last messages and the reason, not a bare 404.
   */
  bury(channel: T, grace: number): void {
    const key = digest(channel.id);
    this.#forget(key); // buried again: its earlier timer must not cut the new grace short
    // Bounded: past the cap, the oldest tombstone goes first.
    if (this.#closed.size >= maxTombstones) this.#forget(this.#closed.keys().next().value as string);
    const timer = setTimeout(forgetTombstone, grace, this, key);
    timer.unref();
    this.#closed.set(key, { channel, timer });
  }

  /** A recently closed polling session, taken out of the table (it answers one poll). */
  takeClosed(id: string, proven: (session: T) => boolean = () => true): T | undefined {
    const key = digest(id);
    const channel = sameId(this.#closed.get(key)?.channel, id);
    if (channel === undefined || !proven(channel)) return undefined;
    this.#forget(key);
    return channel;
  }

  /** @internal */
  forget(key: string): void {
    this.#forget(key);
  }

  #forget(key: string): void {
    clearTimeout(this.#closed.get(key)?.timer);
    this.#closed.delete(key);
  }

  get size(): number {
    return this.#byDigest.size;
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.#byDigest.values();
  }
}

const maxTombstones = 10_000;

function forgetTombstone(table: MemorySessionStore<HasSessionId>, key: string): void {
  table.forget(key);
}

// Compared in constant time, so the time taken says nothing of how much of an id was right.
function sameId<T extends HasSessionId>(channel: T | undefined, id: string): T | undefined {
  if (channel === undefined) return undefined;
  const known = Buffer.from(channel.id);
  const presented = Buffer.from(id);
  return known.length === presented.length && timingSafeEqual(known, presented) ? channel : undefined;
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
