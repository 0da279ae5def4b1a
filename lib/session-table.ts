import { createHash, timingSafeEqual } from 'node:crypto';
import type { Channel } from './channel.js';

/**
 * The open session channels, found by session id. Ids are bearer secrets, so a lookup must
 * not leak, through timing, how much of a guessed id was right: the map is keyed by a digest
 * of the id (a hash lookup reveals nothing about the id itself), and the id found is then
 * compared with the presented one in constant time.
 */
export class SessionTable implements Iterable<Channel> {
  readonly #byDigest = new Map<string, Channel>();

  add(channel: Channel): void {
    this.#byDigest.set(digest(channel.id), channel);
  }

  delete(channel: Channel): void {
    this.#byDigest.delete(digest(channel.id));
  }

  find(id: string): Channel | undefined {
    const channel = this.#byDigest.get(digest(id));
    if (channel === undefined) return undefined;
    const known = Buffer.from(channel.id);
    const presented = Buffer.from(id);
    return known.length === presented.length && timingSafeEqual(known, presented) ? channel : undefined;
  }

  get size(): number {
    return this.#byDigest.size;
  }

  [Symbol.iterator](): IterableIterator<Channel> {
    return this.#byDigest.values();
  }
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
