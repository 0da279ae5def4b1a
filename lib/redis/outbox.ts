// This process's broadcasts on their way into their groups' streams (streams mode,
// docs/scaling.md): each one XADDed as soon as the connection is up, in the order broadcast;
// kept while Redis is away (up to `limit`) and sent again after the reconnect, until Redis has
// acknowledged it. A broadcast sent twice (its XADD ran, but the reply was lost with the
// connection) is twice in the stream with the same number: readers skip the second (streams.ts).
import type { RedisClientType } from 'redis';

interface Pending {
  key: string;
  envelope: Buffer;
  acknowledged: boolean;
}

export interface OutboxSettings {
  /** Each stream is kept near this many entries (`MAXLEN ~`). */
  streamLength: number;
  /** Entries older than this many milliseconds are trimmed away (`XTRIM MINID ~`, see trimAged). */
  streamAge: number;
  /** Broadcasts kept while Redis is away; past it, the newest are not kept (their readers see a gap). */
  limit: number;
  onError(error: unknown): void;
}

export class Outbox {
  readonly #client: RedisClientType;
  readonly #settings: OutboxSettings;
  // Not yet acknowledged by Redis, in order; the first `#sent` went out on this connection.
  readonly #queue: Pending[] = [];
  #sent = 0;
  // Bumped at every (re)connect: an answer of an older connection's XADD changes no count.
  #connection = 0;
  #full = false; // told once an outage
  #drained: Array<() => void> = [];
  // The streams this process added to since the last trim by age.
  readonly #touched = new Set<string>();
  /** Broadcasts acknowledged by Redis. */
  added = 0;
  /** Broadcasts not kept: the backlog was full, or Redis refused them. */
  dropped = 0;

  constructor(client: RedisClientType, settings: OutboxSettings) {
    this.#client = client;
    this.#settings = settings;
  }

  /** Broadcasts accepted and not yet acknowledged by Redis. */
  get backlog(): number {
    return this.#queue.length;
  }

  add(key: string, envelope: Buffer): void {
    if (this.#queue.length >= this.#settings.limit) {
      // Its number is used all the same: every reader is told of a gap where it was.
      this.dropped++;
      if (!this.#full) this.#settings.onError(new Error(`the streams backlog is full (${this.#settings.limit} broadcasts kept while Redis is away): newer broadcasts are not kept`));
      this.#full = true;
      return;
    }
    this.#queue.push({ key, envelope, acknowledged: false });
    this.#touched.add(key);
    this.#flush();
  }

  /** The connection is (again) up: everything not acknowledged goes out again, in order. */
  reconnected(): void {
    this.#connection++;
    this.#sent = 0;
    this.#full = false;
    this.#flush();
  }

  /** Resolves once nothing waits for Redis (for a goodbye). */
  drained(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /**
   * Trims the streams this process added to lately of their entries older than `streamAge`
   * (ids are Redis's clock in ms; the processes' clocks must agree to well within it), and
   * lets a stream nobody adds to any more expire after twice that.
   */
  trimAged(): void {
    if (!this.#client.isReady || this.#touched.size === 0) return;
    const { streamAge } = this.#settings;
    const multi = this.#client.multi();
    for (const key of this.#touched) {
      multi.addCommand(['XTRIM', key, 'MINID', '~', String(Date.now() - streamAge)]);
      multi.addCommand(['PEXPIRE', key, String(2 * streamAge)]);
    }
    this.#touched.clear();
    multi.exec().catch(this.#settings.onError);
  }

  #flush(): void {
    if (!this.#client.isReady) return;
    for (; this.#sent < this.#queue.length; this.#sent++) this.#xadd(this.#queue[this.#sent] as Pending);
  }

  #xadd(pending: Pending): void {
    const connection = this.#connection;
    const { streamLength } = this.#settings;
    this.#client.sendCommand(['XADD', pending.key, 'MAXLEN', '~', String(streamLength), '*', 'e', pending.envelope]).then(
      () => this.#acknowledge(pending),
      (error: unknown) => this.#failed(pending, connection, error),
    );
  }

  #acknowledge(pending: Pending): void {
    if (pending.acknowledged) return;
    pending.acknowledged = true;
    this.added++;
    let done = 0;
    while (this.#queue[done]?.acknowledged === true) done++;
    if (done === 0) return;
    this.#queue.splice(0, done);
    this.#sent = Math.max(0, this.#sent - done);
    if (this.#queue.length === 0) for (const resolve of this.#drained.splice(0)) resolve();
  }

  #failed(pending: Pending, connection: number, error: unknown): void {
    if (connection !== this.#connection || pending.acknowledged) return;
    // The connection went: sent again on the next one (reconnected), not reported per broadcast.
    if (!this.#client.isReady) return;
    // Redis itself refused it (out of memory, a key of another type): not sent again, a gap.
    this.dropped++;
    this.#settings.onError(error);
    this.added--; // #acknowledge counts it; it was not added
    this.#acknowledge(pending);
  }
}
