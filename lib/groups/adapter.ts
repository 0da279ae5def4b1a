import type { Payload, SendFields } from '../transports/wire.js';

/** A broadcast as it travels between processes. */
export interface AdapterMessage {
  /**
   * The `live` instance that published it. A transport that also hands a process its own
   * publishes (Redis pub/sub does) can rely on `live` to skip them: members on the
   * publishing process were already reached.
   */
  origin: string;
  group: string;
  payload: Payload;
  fields: SendFields;
}

/**
 * Carries broadcasts between processes. `live` publishes every broadcast of a named group;
 * the adapter delivers other processes' broadcasts to `onMessage`, which sends them to this
 * process's members of that group.
 */
export interface Adapter {
  publish(message: AdapterMessage): void | Promise<void>;
  subscribe(onMessage: (message: AdapterMessage) => void): void | Promise<void>;
  close?(): void | Promise<void>;
}
