// Which processes are alive and how many members each has in each group, for
// `group.count()`. Every process beats in a sorted set whose score is the time its last beat
// runs out (its own `deadAfter` later: each process says how long it may be trusted); group
// sizes live in one hash per group, a field per process. A process that stops beating stops
// counting once its last beat ran out, whether or not it said goodbye. (Clocks of the
// processes must agree to well within `deadAfter`.)
import type { RedisClientType } from 'redis';

export interface PresenceSettings {
  prefix: string;
  /** This process's id in the cluster. */
  id: string;
  /** This process no longer counts once its last beat is this old. */
  deadAfter: number;
}

// Writes of sizes wait this long so that a burst of joins costs one command per group.
const sizeFlushDelay = 50;

export class Presence {
  readonly #client: RedisClientType;
  readonly #settings: PresenceSettings;
  readonly #pending = new Map<string, number>();
  // Every local group's size, written again in full after Redis comes back.
  readonly #current = new Map<string, number>();
  #beat: NodeJS.Timeout | undefined;
  #flush: NodeJS.Timeout | undefined;

  constructor(client: RedisClientType, settings: PresenceSettings) {
    this.#client = client;
    this.#settings = settings;
  }

  get #processes(): string {
    return `${this.#settings.prefix}:processes`;
  }

  #sizes(group: string): string {
    return `${this.#settings.prefix}:size:${group}`;
  }

  /** Beats now and every third of `deadAfter`. */
  start(onError: (error: unknown) => void): void {
    const beat = (): void => {
      if (!this.#client.isReady) return;
      const now = Date.now();
      // Long-dead processes leave the set too, so that it does not grow with every restart.
      this.#client
        .multi()
        .zAdd(this.#processes, { score: now + this.#settings.deadAfter, value: this.#settings.id })
        .zRemRangeByScore(this.#processes, '-inf', now - 60_000)
        .exec()
        .catch(onError);
    };
    beat();
    this.#beat = setInterval(beat, this.#settings.deadAfter / 3);
    this.#beat.unref();
  }

  /** This process has `size` members of `group` (written within 50 ms, bursts merged). */
  resized(group: string, size: number, onError: (error: unknown) => void): void {
    if (size === 0) this.#current.delete(group);
    else this.#current.set(group, size);
    this.#pending.set(group, size);
    this.#flush ??= setTimeout(() => this.#write(onError), sizeFlushDelay);
  }

  #write(onError: (error: unknown) => void): void {
    this.#flush = undefined;
    if (!this.#client.isReady) return; // kept pending: written when Redis is back (rewriteAll)
    const multi = this.#client.multi();
    const writing = [...this.#pending];
    for (const [group, size] of writing) {
      if (size === 0) multi.hDel(this.#sizes(group), this.#settings.id);
      else multi.hSet(this.#sizes(group), this.#settings.id, size);
    }
    this.#pending.clear();
    multi.exec().catch((error: unknown) => {
      // Not written: try again with the next change or reconnect, unless a newer size came.
      for (const [group, size] of writing) if (!this.#pending.has(group)) this.#pending.set(group, size);
      onError(error);
    });
  }

  /** After a reconnect: every local group's size again, and the ones that went to zero meanwhile. */
  rewriteAll(onError: (error: unknown) => void): void {
    for (const [group, size] of this.#current) if (!this.#pending.has(group)) this.#pending.set(group, size);
    if (this.#pending.size === 0) return;
    this.#flush ??= setTimeout(() => this.#write(onError), sizeFlushDelay);
  }

  /** Members of `group` on every live process: theirs from Redis, ours as we know it now. */
  async count(group: string, local: number): Promise<number> {
    const [sizes, alive] = (await this.#client
      .multi()
      .hGetAll(this.#sizes(group))
      .zRangeByScore(this.#processes, Date.now(), '+inf')
      .exec()) as unknown as [Record<string, string>, string[]];
    const living = new Set(alive);
    let total = local;
    const dead: string[] = [];
    for (const [id, size] of Object.entries(sizes)) {
      if (id === this.#settings.id) continue;
      if (living.has(id)) total += Number(size);
      else dead.push(id);
    }
    // A dead process's sizes go when someone next counts: nobody else would remove them.
    if (dead.length > 0) this.#client.hDel(this.#sizes(group), dead).catch(() => undefined);
    return total;
  }

  /** Stops beating and takes this process out of every count. */
  async stop(groups: Iterable<string>): Promise<void> {
    clearInterval(this.#beat);
    clearTimeout(this.#flush);
    if (!this.#client.isReady) return;
    const multi = this.#client.multi().zRem(this.#processes, this.#settings.id);
    for (const group of groups) multi.hDel(this.#sizes(group), this.#settings.id);
    await multi.exec();
  }
}
