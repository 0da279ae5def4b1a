import { wireSize, type Outgoing } from './codec.js';

/**
 * The client's messages that the server has not acknowledged yet, in order. The first one
 * has client sequence number `first`; they leave only when the server reports (`received`)
 * that it delivered them, so a message written on a connection that then died is sent again
 * on the next one, and the server's count makes that resend harmless.
 */
export class Outbox {
  #items: Outgoing[] = [];
  #first: number;

  /** `first`: the client sequence number of the first message it will hold (a new session's is 1). */
  constructor(first = 1) {
    this.#first = first;
  }

  /** Client sequence number of the oldest message kept (or of the next one, when empty). */
  get first(): number {
    return this.#first;
  }

  /** Sequence number of the newest message kept (first - 1 when empty). */
  get last(): number {
    return this.#first + this.#items.length - 1;
  }

  get size(): number {
    return this.#items.length;
  }

  push(message: Outgoing): void {
    this.#items.push(message);
  }

  at(seq: number): Outgoing | undefined {
    return this.#items[seq - this.#first];
  }

  /** Forgets what the server says it delivered: every message numbered up to `received`. */
  release(received: number): void {
    const count = Math.min(received - this.#first + 1, this.#items.length);
    if (count <= 0) return;
    this.#items.splice(0, count);
    this.#first += count;
  }

  /** Up to `maxCount` messages from `from` on, no more than about `maxBytes` (at least one). */
  batch(from: number, maxCount: number, maxBytes: number): Outgoing[] {
    const out: Outgoing[] = [];
    let bytes = 0;
    for (let seq = Math.max(from, this.#first); seq <= this.last && out.length < maxCount; seq++) {
      const message = this.#items[seq - this.#first] as Outgoing;
      bytes += wireSize(message);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(message);
    }
    return out;
  }

  /** Drops the message numbered `seq` (the server will never take it); later ones move up. */
  drop(seq: number): void {
    this.#items.splice(seq - this.#first, 1);
  }
}
