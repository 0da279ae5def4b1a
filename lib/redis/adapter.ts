import { createClient, type RedisClientType } from 'redis';
import type { Adapter, AdapterEvents, AdapterMessage, AdapterStats } from '../groups/adapter.js';
import { ChannelError } from '../errors.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import type { ForwardedAnswer, ForwardedExchange, ForwardedRequest, HighWaterMarks, SessionState, Takeover, TakeoverAnswer, TakeoverDirectory, TakeoverRequest } from '../sessions/directory.js';
import { RedisDirectory } from './directory.js';
import { Presence } from './presence.js';
import { Recording } from './recording.js';
import { Outbox } from './outbox.js';
import { entryMarks, StreamReader } from './streams.js';
import { checkOptions, type RedisAdapterOptions } from './options.js';

/** The parts of streams mode: this process's broadcasts on their way in, and the reader. */
interface Streams {
  client: RedisClientType;
  outbox: Outbox;
  reader: StreamReader;
  trim: NodeJS.Timeout | undefined;
  age: number;
}

/** How long a session request waits for a starting process's subscriptions before it is refused. */
const listenWait = 3000;

/** How long `close()` waits for Redis to take its goodbye (leaving the counts) before it lets go. */
const closeDeadline = 1000;

/** Reconnect delays: 100 ms doubling to 5 s, each with up to half of it in random jitter. */
function reconnectDelay(retries: number): number {
  const base = Math.min(5000, 100 * 2 ** Math.min(retries, 6));
  return Math.round(base / 2 + (Math.random() * base) / 2);
}

/**
 * Broadcasts through Redis, numbered per publishing process and group so that a receiver
 * knows when it missed one: in pub/sub mode one PUBLISH per broadcast, on one channel per
 * prefix; in streams mode one XADD per broadcast into its group's stream (streams.ts).
 */
class RedisAdapter implements Adapter, TakeoverDirectory {
  readonly #publisher: RedisClientType;
  readonly #ownsPublisher: boolean;
  readonly #subscriber: RedisClientType;
  readonly #channel: string;
  readonly #id: string;
  readonly #presence: Presence;
  readonly #directory: RedisDirectory;
  // The next number of each group's broadcasts from this process.
  readonly #published = new Map<string, number>();
  // The last number received from each publisher in each group ("origin\ngroup").
  // Kept only for the groups with members here (others are not delivered, so nothing of
  // theirs can be missed here): group → origin → last number.
  readonly #seen = new Map<string, Map<string, number>>();
  readonly #groups = new Set<string>();
  // The `live` instances that published through this adapter: Redis hands their broadcasts
  // back to us, and their members were reached already.
  readonly #ownOrigins = new Set<string>();
  readonly #stats = { published: 0, received: 0, missed: 0 };
  // Takeovers waiting for their answer hear every broadcast (recording.ts).
  readonly #recordings = new Set<Recording>();
  #events: AdapterEvents | undefined;
  #onMessage: ((message: AdapterMessage) => void) | undefined;
  #started: Promise<void> | undefined;
  // Set once #started resolved: what waits for the subscriptions need not wait any more.
  #subscribed = false;
  #reported = false; // a lost connection is reported once an outage, not at every reconnect attempt
  readonly #streams: Streams | undefined;

  constructor(options: RedisAdapterOptions) {
    checkOptions(options);
    const prefix = options.prefix ?? 'ec';
    this.#ownsPublisher = options.client === undefined;
    // No offline queue: a broadcast made while Redis is away is not kept to be sent later (it
    // would arrive whenever the connection came back, and memory would grow with the outage);
    // its number is used all the same, so the receivers are told they missed it.
    this.#publisher = options.client ?? (createClient({ url: options.url ?? 'redis://127.0.0.1:6379', disableOfflineQueue: true, socket: { reconnectStrategy: reconnectDelay } }) as RedisClientType);
    this.#subscriber = this.#publisher.duplicate();
    this.#channel = `${prefix}:broadcast`;
    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    this.#id = id;
    this.#presence = new Presence(this.#publisher, { prefix, id, deadAfter: options.deadAfter ?? 15_000 });
    this.#directory = new RedisDirectory(this.#publisher, {
      prefix,
      id,
      onError: (error) => this.#report(error),
      record: () => this.#record(),
      highWater: (groups) => this.#highWater(groups),
    });
    if (options.mode === 'streams') this.#streams = this.#streamsMode(prefix, options);
    for (const client of [this.#publisher, this.#subscriber, ...(this.#streams ? [this.#streams.client] : [])]) {
      client.on('error', (error: unknown) => this.#connectionFailed(error));
      client.on('ready', () => (this.#reported = false));
    }
    this.#publisher.on('ready', () => {
      this.#streams?.outbox.reconnected(); // before anything else on this connection: in order
      this.#streams?.reader.reconnected();
      this.#presence.rewriteAll((error) => this.#report(error));
      this.#directory.reclaim();
    });
  }

  #streamsMode(prefix: string, options: RedisAdapterOptions): Streams {
    const client = this.#publisher.duplicate(); // XREAD BLOCK holds its connection
    const onError = (error: unknown): void => this.#report(error);
    const age = options.streamAge ?? 600_000;
    const outbox = new Outbox(this.#publisher, { streamLength: options.streamLength ?? 10_000, streamAge: age, limit: options.backlogLimit ?? 10_000, onError });
    const reader = new StreamReader(client, this.#publisher, {
      prefix,
      ownOrigins: this.#ownOrigins,
      recordings: this.#recordings,
      deliver: (message) => {
        this.#stats.received++;
        this.#onMessage?.(message);
      },
      missed: (group, count) => {
        this.#stats.missed += count;
        this.#events?.missed(group, count);
      },
      onError,
    });
    return { client, outbox, reader, trim: undefined, age };
  }

  subscribe(onMessage: (message: AdapterMessage) => void, events?: AdapterEvents): Promise<void> {
    this.#events = events;
    this.#onMessage = onMessage;
    this.#started ??= this.#start(onMessage).then(() => void (this.#subscribed = true));
    return this.#started;
  }

  async #start(onMessage: (message: AdapterMessage) => void): Promise<void> {
    if (this.#ownsPublisher || !this.#publisher.isOpen) await this.#publisher.connect();
    // Beat before anything else: a size this process writes while it is not counted alive
    // yet is taken for a dead process's by the next count() anywhere, and deleted.
    this.#presence.start((error) => this.#report(error));
    await this.#subscriber.connect();
    const streams = this.#streams;
    if (streams !== undefined) {
      await streams.client.connect();
      streams.reader.start();
      streams.trim = setInterval(() => streams.outbox.trimAged(), Math.max(1000, streams.age / 10));
      streams.trim.unref();
    } else {
      await this.#subscriber.subscribe(this.#channel, (bytes: Buffer) => this.#receive(bytes, onMessage), true);
    }
    await this.#subscriber.subscribe(this.#directory.inboxOf(this.#id), (text: string) => this.#directory.receive(text));
  }

  publish(message: AdapterMessage): Promise<void> | void {
    this.#ownOrigins.add(message.origin);
    const seq = (this.#published.get(message.group) ?? 0) + 1;
    this.#published.set(message.group, seq);
    for (const recording of this.#recordings) recording.heard(message, seq);
    if (this.#streams !== undefined) return this.#streams.outbox.add(this.#streams.reader.key(message.group), encodeEnvelope(message, seq));
    // While Redis is away the broadcast is not queued (memory would grow with the outage):
    // its number is used all the same, so every receiver knows it missed it.
    if (!this.#publisher.isReady) return;
    this.#stats.published++;
    // A publish that fails (the connection died under it) is lost like one made while away:
    // the receivers see the number jump. The outage itself is reported once, not per broadcast.
    return this.#publisher.publish(this.#channel, encodeEnvelope(message, seq)).then(
      () => undefined,
      (error: unknown) => this.#connectionFailed(error),
    );
  }

  // node-redis calls this from its decoder, where a throw would cost the rest of the chunk.
  #receive(bytes: Buffer, onMessage: (message: AdapterMessage) => void): void {
    try {
      this.#take(bytes, onMessage);
    } catch (error) {
      this.#report(error);
    }
  }

  #take(bytes: Buffer, onMessage: (message: AdapterMessage) => void): void {
    const envelope = decodeEnvelope(bytes);
    if (envelope === undefined) return this.#report(new ChannelError('ERR_CHANNEL_ADAPTER', `a message on ${this.#channel} is not a broadcast envelope: skipped`));
    const { message, seq } = envelope;
    if (this.#ownOrigins.has(message.origin)) return;
    for (const recording of this.#recordings) recording.heard(message, seq);
    if (!this.#groups.has(message.group)) return;
    let seen = this.#seen.get(message.group);
    if (seen === undefined) this.#seen.set(message.group, (seen = new Map()));
    const last = seen.get(message.origin);
    seen.set(message.origin, Math.max(seq, last ?? 0));
    if (last !== undefined && seq <= last) return; // already had it (or older): never twice
    if (last !== undefined && seq > last + 1) {
      this.#stats.missed += seq - last - 1;
      this.#events?.missed(message.group, seq - last - 1);
    }
    this.#stats.received++;
    onMessage(message);
  }

  resized(group: string, size: number): void {
    this.#streams?.reader.resized(group, size);
    if (size > 0) this.#groups.add(group);
    else {
      this.#groups.delete(group);
      this.#seen.delete(group);
    }
    this.#presence.resized(group, size, (error) => this.#report(error));
  }

  count(group: string, local: number): Promise<number> {
    return this.#presence.count(group, local);
  }

  // The session directory (lib/sessions/directory.ts), kept in the same Redis.
  claimed(id: string): void {
    this.#directory.claimed(id);
  }

  released(id: string): void {
    this.#directory.released(id);
  }

  // A process starts serving before its subscriptions are up: an answer sent to an inbox
  // nobody listens on yet is lost, so nothing is asked of another process before then.
  async locate(id: string): Promise<string | undefined> {
    await this.#listening();
    return this.#directory.locate(id);
  }

  async forward(owner: string, request: ForwardedRequest, options: { signal: AbortSignal; timeout: number }): Promise<ForwardedAnswer> {
    await this.#listening();
    return this.#directory.forward(owner, request, options);
  }

  /** Resolves once this process's inbox is subscribed; rejects after a while without (Redis away). */
  #listening(): Promise<void> | undefined {
    if (this.#subscribed) return undefined; // the common case: no promise, no timer per request
    const started = this.#started;
    if (started === undefined) return Promise.reject(new ChannelError('ERR_CHANNEL_ADAPTER', 'the adapter is not started'));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ChannelError('ERR_CHANNEL_ADAPTER', `not connected to Redis within ${listenWait} ms`)), listenWait);
    });
    return Promise.race([started, late]).finally(() => clearTimeout(timer));
  }

  serve(handler: (request: ForwardedRequest, exchange: ForwardedExchange) => void): void {
    this.#directory.serve(handler);
  }

  async takeOver(owner: string, request: TakeoverRequest, options: { timeout: number }): Promise<Takeover> {
    await this.#listening();
    return this.#directory.takeOver(owner, request, options);
  }

  serveTakeovers(handler: (request: TakeoverRequest, highWater: HighWaterMarks) => TakeoverAnswer): void {
    this.#directory.serveTakeovers(handler);
  }

  #record(): { recording: Recording; stop(marks?: SessionState['highWater']): void; settle?(state: SessionState): Promise<void> } {
    const recording = new Recording();
    this.#recordings.add(recording);
    const reader = this.#streams?.reader;
    // Streams mode: the groups not read here yet start where the session stands (catchUp).
    let starts = new Map<string, string>();
    const stop = (marks?: SessionState['highWater']): void => {
      this.#recordings.delete(recording);
      if (marks === undefined) return;
      for (const [group, id] of starts) reader?.adopt(group, id, marks[group] ?? {});
      this.#seed(marks);
    };
    if (reader === undefined) return { recording, stop };
    const settle = async (state: SessionState): Promise<void> => {
      starts = await reader.catchUp(recording, state);
    };
    return { recording, stop, settle };
  }

  // A session taken over stands at `marks` in its groups: this process's own marks start
  // there too, so that a later takeover from here, or a jump, is judged from where it is.
  #seed(marks: SessionState['highWater']): void {
    for (const [group, origins] of Object.entries(marks)) {
      let seen = this.#seen.get(group);
      if (seen === undefined) this.#seen.set(group, (seen = new Map()));
      for (const [origin, seq] of Object.entries(origins)) {
        if (!this.#ownOrigins.has(origin) && !origin.startsWith('@')) seen.set(origin, Math.max(seq, seen.get(origin) ?? 0));
      }
    }
  }

  // What this process delivered of each group: the last number heard from each other
  // publisher, and its own count for each of its own `live` instances.
  #highWater(groups: readonly string[]): SessionState['highWater'] {
    const marks: SessionState['highWater'] = {};
    for (const group of groups) {
      // Streams mode: the last entry read, and each publisher's number, as the reader knows them.
      const position = this.#streams?.reader.position(group);
      const mine: Record<string, number> = Object.fromEntries((this.#streams === undefined ? this.#seen.get(group) : position?.seen) ?? []);
      if (position?.id !== undefined) Object.assign(mine, entryMarks(position.id));
      const published = this.#published.get(group);
      if (published !== undefined) for (const origin of this.#ownOrigins) mine[origin] = published;
      marks[group] = mine;
    }
    return marks;
  }

  stats(): AdapterStats {
    const connected = this.#publisher.isReady && this.#subscriber.isReady;
    const streams = this.#streams;
    if (streams === undefined) return { ...this.#stats, connected };
    return { ...this.#stats, published: streams.outbox.added, connected: connected && streams.client.isReady, backlog: streams.outbox.backlog };
  }

  async close(): Promise<void> {
    this.#directory.close();
    const streams = this.#streams;
    const clients = this.#ownsPublisher ? [this.#subscriber, this.#publisher] : [this.#subscriber];
    if (streams !== undefined) {
      clearInterval(streams.trim);
      streams.reader.close();
      if (streams.client.isOpen) streams.client.destroy(); // its XREAD BLOCK would hold a goodbye
    }
    const goodbye = (async () => {
      if (streams !== undefined && this.#publisher.isReady) await streams.outbox.drained(); // what it accepted, within the deadline
      await this.#presence.stop(this.#groups);
      for (const client of clients) await closeClient(client);
    })().catch(() => undefined);
    // A Redis that died a moment ago answers nothing: a shutdown does not wait for it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([goodbye, new Promise((resolve) => (timer = setTimeout(resolve, closeDeadline)))]);
    clearTimeout(timer);
    for (const client of clients) if (client.isOpen) client.destroy();
  }

  #connectionFailed(error: unknown): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#report(error);
  }

  #report(error: unknown): void {
    this.#events?.error(error instanceof Error && !(error instanceof ChannelError) ? new ChannelError('ERR_CHANNEL_ADAPTER', `Redis: ${error.message}`, { cause: error }) : error);
  }
}

// A client that is up says goodbye; one that is down (or reconnecting) is stopped where it is:
// waiting for it to come back would hang a shutdown for as long as Redis is away.
async function closeClient(client: RedisClientType): Promise<void> {
  if (client.isReady) await client.close();
  else if (client.isOpen) client.destroy();
}

/**
 * An adapter that carries broadcasts between processes through Redis: pub/sub by default,
 * or, with `mode: 'streams'`, one Redis Stream per group, so that a reconnect or a Redis
 * restarted with its data loses nothing (docs/scaling.md).
 * @example
 * ```ts
 * import { channels } from 'express-channel';
 * import { redisAdapter } from 'express-channel/redis';
 * const live = channels({ adapter: redisAdapter({ url: process.env.REDIS_URL }) });
 * // nothing lost across a Redis reconnect or restart:
 * const durable = channels({ adapter: redisAdapter({ url: process.env.REDIS_URL, mode: 'streams' }) });
 * ```
 */
export function redisAdapter(options: RedisAdapterOptions = {}): Adapter {
  return new RedisAdapter(options);
}
