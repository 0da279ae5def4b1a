import type { SharedMessage } from './transports/wire.js';

/** What a client is told when it (re)connects: docs/protocol.md, "The hello". */
export interface Hello {
  session: string;
  next: number;
  received: number;
  heartbeat: number;
  sessionTimeout: number;
  gap?: [number, number];
}

/** What a client that acknowledged up to some sequence number is owed. */
export interface Replay {
  next: number;
  gap: [number, number] | undefined;
  messages: readonly SharedMessage[];
}

/** Bounds of the replay buffer. */
export interface SessionLimits {
  messages: number;
  bytes: number;
}

/**
 * The replay buffer of one session: every message sent gets the next sequence number and
 * stays until the client acknowledges it or the bounds push it out. Entries are the shared
 * messages themselves (a broadcast is stored once, referenced by every member's buffer), and
 * a sequence number is implied by position: entry i has number `#firstSeq + i`.
 */
export class SessionBuffer {
  // A ring whose capacity doubles as needed and never shrinks: appending and dropping touch
  // one slot and allocate nothing once the ring has grown to the session's working size
  // (Array#shift is O(n), and a compacting array reallocates as it grows back).
  #ring: Array<SharedMessage | undefined> = new Array<SharedMessage | undefined>(8);
  #start = 0;
  #count = 0;
  #firstSeq = 1;
  #bytes = 0;
  // The bounds as plain numbers: read on every append, for every member of a broadcast.
  readonly #maxMessages: number;
  readonly #maxBytes: number;

  constructor(limits: SessionLimits) {
    this.#maxMessages = limits.messages;
    this.#maxBytes = limits.bytes;
  }

  /** The number the next appended message gets. */
  get nextSeq(): number {
    return this.#firstSeq + this.#count;
  }

  /** Messages held (sent, not yet acknowledged, still within bounds). */
  get size(): number {
    return this.#count;
  }

  /** Appends a message and returns its sequence number, letting the oldest go past the bounds. */
  append(message: SharedMessage): number {
    const seq = this.#firstSeq + this.#count;
    if (this.#count === this.#ring.length) this.#grow();
    this.#ring[(this.#start + this.#count) & (this.#ring.length - 1)] = message;
    this.#count++;
    this.#bytes += message.byteLength;
    while (this.#count > this.#maxMessages || (this.#bytes > this.#maxBytes && this.#count > 1)) this.#dropOldest();
    return seq;
  }

  /** Forgets every message up to and including `seq`: the client has it. */
  acknowledge(seq: number): void {
    while (this.#count > 0 && this.#firstSeq <= seq) this.#dropOldest();
  }

  /** True if `seq` is a number this session could have sent (0 means "nothing yet"). */
  isValidAck(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq >= 0 && seq < this.nextSeq;
  }

  /** Everything after `seq`, and the range that is no longer held, if any. */
  since(seq: number): Replay {
    const from = seq + 1;
    const gap: [number, number] | undefined = from < this.#firstSeq ? [from, this.#firstSeq - 1] : undefined;
    const messages: SharedMessage[] = [];
    const mask = this.#ring.length - 1;
    for (let i = Math.max(0, from - this.#firstSeq); i < this.#count; i++) messages.push(this.#ring[(this.#start + i) & mask] as SharedMessage);
    return { next: Math.max(from, this.#firstSeq), gap, messages };
  }

  #dropOldest(): void {
    const dropped = this.#ring[this.#start] as SharedMessage;
    this.#ring[this.#start] = undefined; // let the message go now
    this.#start = (this.#start + 1) & (this.#ring.length - 1);
    this.#count--;
    this.#bytes -= dropped.byteLength;
    this.#firstSeq++;
  }

  // Capacities stay powers of two, so a position is `index & (length - 1)`.
  #grow(): void {
    const old = this.#ring;
    const ring = new Array<SharedMessage | undefined>(old.length * 2);
    for (let i = 0; i < this.#count; i++) ring[i] = old[(this.#start + i) & (old.length - 1)];
    this.#ring = ring;
    this.#start = 0;
  }
}
