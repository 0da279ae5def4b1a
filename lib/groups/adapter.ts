import type { Payload, SendFields } from '../transports/wire.js';

/** A broadcast as it travels between processes. */
export interface AdapterMessage {
  /**
   * The `live` instance that published it. A transport that also hands a process its own
   * publishes (Redis pub/sub does) can rely on `live` to skip them: members on the
   * publishing process were already reached.
   */
  origin: string;
  /** The name of the group it was broadcast to. */
  group: string;
  /** The message, as given to `broadcast` (a string, or bytes). */
  payload: Payload;
  /** The SSE `event:` and `id:` fields of the broadcast. */
  fields: SendFields;
}

/** What an adapter tells `live` besides the messages themselves. */
export interface AdapterEvents {
  /**
   * Broadcasts of `group` from another process never arrived here (a subscriber that
   * reconnected, a publisher's numbering that jumped): `count` of them.
   */
  missed(group: string, count: number): void;
  /** A failure of the adapter's own (a lost connection, a malformed message). */
  error(error: unknown): void;
}

/** What a cluster operator watches: `live.stats().adapter`. */
export interface AdapterStats {
  /** Broadcasts this process published through the adapter. */
  published: number;
  /** Broadcasts of other processes this process received. */
  received: number;
  /** Broadcasts of other processes known to be lost on the way (see AdapterEvents.missed). */
  missed: number;
  /** Whether the adapter's connection is up right now. */
  connected: boolean;
  /**
   * Broadcasts accepted by this process and not yet in Redis (the Redis adapter's streams
   * mode keeps them while Redis is away); absent for an adapter that keeps none.
   */
  backlog?: number;
}

/**
 * The state of an adapter's connection to whatever carries its messages (Redis, a bus):
 * `'connected'` while publishing and receiving work, `'connecting'` while (re)connecting,
 * `'disconnected'` once it gave up or was closed.
 */
export type AdapterStatus = 'connected' | 'connecting' | 'disconnected';

/**
 * Carries broadcasts between processes. `live` publishes every broadcast of a named group;
 * the adapter delivers other processes' broadcasts to `onMessage`, which sends them to this
 * process's members of that group. The optional members give `group.count()` its
 * cluster-wide answer and `live.stats()` its adapter figures.
 */
export interface Adapter {
  /** Hands a broadcast of this process to the others. A rejection is reported to `live.on('error')`; the local members were reached already. */
  publish(message: AdapterMessage): void | Promise<void>;
  /**
   * Called once, when `live` is created: `onMessage` takes every broadcast of the other
   * processes; `events` hears of lost broadcasts and of the adapter's own failures.
   */
  subscribe(onMessage: (message: AdapterMessage) => void, events?: AdapterEvents): void | Promise<void>;
  /** This process now has `size` members of `group` (called on every change; debounce it). */
  resized?(group: string, size: number): void;
  /** Members of `group` on every live process; `local` is this process's own count. */
  count?(group: string, local: number): Promise<number>;
  /** Broadcasts through the adapter and its connection, for `live.stats().adapter`. */
  stats?(): AdapterStats;
  /** Called by `live.close()`, after the channels closed. */
  close?(): void | Promise<void>;
  /**
   * The connection's state, read at scrape time by `express-channel/metrics`
   * (`express_channel_adapter_state`). Optional: an adapter without it has no state metric.
   */
  status?(): AdapterStatus;
}
