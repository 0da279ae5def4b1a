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
  // A queue as an array and a head index: dropping the oldest is O(1) (Array#shift is O(n)),
  // and the array is compacted once the dead prefix outgrows the live part.
  #entries: Array<SharedMessage | undefined> = [];
  #head = 0;
  #firstSeq = 1;
  #bytes = 0;
  readonly #limits: SessionLimits;

  constructor(limits: SessionLimits) {
    this.#limits = limits;
  }

  /** The number the next appended message gets. */
  get nextSeq(): number {
    return this.#firstSeq + this.size;
  }

  /** Messages held (sent, not yet acknowledged, still within bounds). */
  get size(): number {
    return this.#entries.length - this.#head;
  }

  /** Appends a message and returns its sequence number, letting the oldest go past the bounds. */
  append(message: SharedMessage): number {
    const seq = this.nextSeq;
    this.#entries.push(message);
    this.#bytes += message.byteLength;
    while (this.size > this.#limits.messages || (this.#bytes > this.#limits.bytes && this.size > 1)) {
      this.#dropOldest();
    }
    return seq;
  }

  /** Forgets every message up to and including `seq`: the client has it. */
  acknowledge(seq: number): void {
    while (this.size > 0 && this.#firstSeq <= seq) this.#dropOldest();
  }

  /** True if `seq` is a number this session could have sent (0 means "nothing yet"). */
  isValidAck(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq >= 0 && seq < this.nextSeq;
  }

  /** Everything after `seq`, and the range that is no longer held, if any. */
  since(seq: number): Replay {
    const from = seq + 1;
    const gap: [number, number] | undefined = from < this.#firstSeq ? [from, this.#firstSeq - 1] : undefined;
    const start = this.#head + Math.max(0, from - this.#firstSeq);
    return { next: Math.max(from, this.#firstSeq), gap, messages: this.#entries.slice(start) as SharedMessage[] };
  }

  #dropOldest(): void {
    const dropped = this.#entries[this.#head];
    if (dropped === undefined) return;
    this.#entries[this.#head] = undefined; // let the message go now, not at compaction
    this.#head++;
    this.#bytes -= dropped.byteLength;
    this.#firstSeq++;
    if (this.#head >= 64 && this.#head * 2 >= this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
