import { createHash, timingSafeEqual } from 'node:crypto';
import type { Channel } from '../channel/channel.js';

/**
 * The open session channels, found by session id. Ids are bearer secrets, so a lookup must
 * not leak, through timing, how much of a guessed id was right: the map is keyed by a digest
 * of the id (a hash lookup reveals nothing about the id itself), and the id found is then
 * compared with the presented one in constant time.
 */
export class SessionTable implements Iterable<Channel> {
  readonly #byDigest = new Map<string, Channel>();
  readonly #closed = new Map<string, { channel: Channel; timer: NodeJS.Timeout }>();

  add(channel: Channel): void {
    this.#byDigest.set(digest(channel.id), channel);
  }

  delete(channel: Channel): void {
    this.#byDigest.delete(digest(channel.id));
  }

  find(id: string): Channel | undefined {
    return sameId(this.#byDigest.get(digest(id)), id);
  }

  /**
   * Keeps a closed polling session for `grace` ms: a poll that was not being held when the
   * application closed it still gets the last messages and the reason, not a bare 404.
   */
  bury(channel: Channel, grace: number): void {
    const key = digest(channel.id);
    // Bounded: past the cap, the oldest tombstone goes first.
    if (this.#closed.size >= maxTombstones) this.#forget(this.#closed.keys().next().value as string);
    const timer = setTimeout(forgetTombstone, grace, this, key);
    timer.unref();
    this.#closed.set(key, { channel, timer });
  }

  /** A recently closed polling session, taken out of the table (it answers one poll). */
  takeClosed(id: string): Channel | undefined {
    const key = digest(id);
    const channel = sameId(this.#closed.get(key)?.channel, id);
    if (channel !== undefined) this.#forget(key);
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

  [Symbol.iterator](): IterableIterator<Channel> {
    return this.#byDigest.values();
  }
}

const maxTombstones = 10_000;

function forgetTombstone(table: SessionTable, key: string): void {
  table.forget(key);
}

// Compared in constant time, so the time taken says nothing of how much of an id was right.
function sameId(channel: Channel | undefined, id: string): Channel | undefined {
  if (channel === undefined) return undefined;
  const known = Buffer.from(channel.id);
  const presented = Buffer.from(id);
  return known.length === presented.length && timingSafeEqual(known, presented) ? channel : undefined;
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
