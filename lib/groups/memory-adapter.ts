import type { Adapter, AdapterMessage } from './adapter.js';

/**
 * The in-memory adapter: a bus between the `live` instances of one process, shaped as Redis
 * pub/sub is between processes (every subscriber gets every message, its publisher's own
 * included, a hop later). One process needs no adapter at all; this is the reference the
 * scale-out adapters are held against, and a way to run several "servers" in one test.
 */
export class MemoryBus {
  readonly #subscribers = new Set<(message: AdapterMessage) => void>();

  /** An adapter on this bus, for one `live` instance. */
  adapter(): Adapter {
    let subscribed: ((message: AdapterMessage) => void) | undefined;
    let closed = false;
    return {
      publish: (message) => this.#publish(message),
      subscribe: (onMessage) => {
        subscribed = onMessage;
        this.#subscribers.add(onMessage);
      },
      close: () => {
        closed = true;
        if (subscribed !== undefined) this.#subscribers.delete(subscribed);
      },
      status: () => (closed ? 'disconnected' : 'connected'),
    };
  }

  // Asynchronous, as a network hop is, and a copy, as a serialising transport hands back.
  #publish(message: AdapterMessage): void {
    for (const deliver of this.#subscribers) setImmediate(deliver, structuredClone(message));
  }
}
