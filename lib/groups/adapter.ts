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

/**
 * The state of an adapter's connection to whatever carries its messages (Redis, a bus):
 * `'connected'` while publishing and receiving work, `'connecting'` while (re)connecting,
 * `'disconnected'` once it gave up or was closed.
 */
export type AdapterStatus = 'connected' | 'connecting' | 'disconnected';

/**
 * Carries broadcasts between processes. `live` publishes every broadcast of a named group;
 * the adapter delivers other processes' broadcasts to `onMessage`, which sends them to this
 * process's members of that group.
 */
export interface Adapter {
  /** Hands a broadcast of this process to the others. A rejection is reported to `live.on('error')`; the local members were reached already. */
  publish(message: AdapterMessage): void | Promise<void>;
  /** Called once, when `live` is created: `onMessage` takes every broadcast of the other processes. */
  subscribe(onMessage: (message: AdapterMessage) => void): void | Promise<void>;
  /** Called by `live.close()`, after the channels closed. */
  close?(): void | Promise<void>;
  /**
   * The connection's state, read at scrape time by `express-channel/metrics`
   * (`express_channel_adapter_state`). Optional: an adapter without it has no state metric.
   */
  status?(): AdapterStatus;
}
