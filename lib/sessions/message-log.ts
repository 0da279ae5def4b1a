import { LazyEncodedMessage } from '../transports/encoded-message.js';
import type { Payload, SendFields } from '../transports/wire.js';

/**
 * A message as sessions keep it: its bytes, and its place in the log of the group that
 * broadcast it. A message without a log (one channel's own send) is kept in its session's own.
 */
export class LoggedMessage extends LazyEncodedMessage {
  /** Where sessions keep it until acknowledged: its group's log (none for a single channel's). */
  readonly log: MessageLog | undefined;
  /** Its position in `log`, or -1 until a session member is the first to keep (or skip) it. */
  position = -1;
  /**
   * A broadcast that never arrived (lost between processes): it takes its sequence number in
   * each session member, so that the member's client is told of a gap there, never a silent hole.
   */
  lost = false;

  constructor(payload: Payload, fields: SendFields, log?: MessageLog) {
    super(payload, fields);
    this.log = log;
  }
}

/**
 * A session that holds positions of a log: the log keeps what its readers may still replay.
 * ReplayBuffer implements it.
 */
export interface LogReader {
  /** The oldest position of `log` this reader still holds, or undefined if none. */
  oldestIn(log: MessageLog): number | undefined;
  /** Messages and bytes this reader may hold at most (its session buffer's bounds). */
  readonly maxMessages: number;
  readonly maxBytes: number;
  /** Takes private copies of what it holds of `log`, except what it must go on reading there. */
  detach(log: MessageLog): void;
  /** `log` no longer counts this reader as one of its own. */
  released(log: MessageLog): void;
}

// A trim pass costs one look at every reader, so it runs once per this many appends (or
// bytes), not on every append: after every reader acknowledged, a quiet log keeps at most
// this much until its next message.
const passEveryMessages = 64;
const passEveryBytes = 256 * 1024;

/**
 * The messages of one group (or of one session's own sends), each at a position, kept while a
 * session may still have to replay them. A broadcast to many sessions is stored here once;
 * each session records only the runs of positions it was sent (ReplayBuffer), so a member
 * costs no per-message storage of its own.
 *
 * What is kept: everything from the oldest position any reader still holds. A reader that
 * holds a position more than twice its own bounds behind the newest (it left the group, or
 * was left out of many broadcasts, without acknowledging what it had) gets private copies of
 * what it holds instead, so one idle session never makes a busy log grow without end. (A
 * member that follows the group is within its bounds by construction: its oldest messages are
 * let go as new ones come.)
 */
export class MessageLog {
  // Rings indexed by `position & (capacity - 1)`; the capacity doubles as needed.
  #messages: Array<LoggedMessage | undefined> = new Array<LoggedMessage | undefined>(16);
  // Bytes of every message up to and including that position, since the log began.
  #bytesThrough = new Float64Array(16);
  #first = 0;
  #next = 0;
  #bytesBeforeFirst = 0;
  readonly #readers = new Set<LogReader>();
  #appendsSincePass = 0;
  #bytesSincePass = 0;
  // While pinned (a broadcast's delivery loop runs), nothing from #pinnedFrom on is dropped:
  // a message gets its position from the first session member that keeps or skips it, and
  // must still be there for the members after it, whoever let go in between.
  #pins = 0;
  #pinnedFrom = 0;

  /** The position the next appended message gets. */
  get next(): number {
    return this.#next;
  }

  /** Positions held: from the oldest still needed to the newest. */
  get length(): number {
    return this.#next - this.#first;
  }

  /** The position of a shared message in this log, appending it on its first reader. */
  positionOf(message: LoggedMessage): number {
    if (message.position < 0) message.position = this.append(message);
    return message.position;
  }

  /** Appends `message` and returns its position. */
  append(message: LoggedMessage): number {
    // The pass comes first: it may empty the log, and must never drop the message it returns.
    if (this.#appendsSincePass >= passEveryMessages || this.#bytesSincePass >= passEveryBytes) this.trim();
    this.#appendsSincePass++;
    this.#bytesSincePass += message.byteLength;
    return this.#store(message);
  }

  /** The message at `position` (which a reader holds, so it is kept). */
  at(position: number): LoggedMessage {
    return this.#messages[position & (this.#messages.length - 1)] as LoggedMessage;
  }

  /** Bytes of the messages at positions `from` (inclusive) to `to` (exclusive). */
  bytesBetween(from: number, to: number): number {
    return this.#bytesBefore(to) - this.#bytesBefore(from);
  }

  /**
   * Keeps every position appended from now on until the matching `unpin`, whatever readers
   * let go meanwhile. Pins nest.
   */
  pin(): void {
    if (this.#pins++ === 0) this.#pinnedFrom = this.#next;
  }

  /** Ends a `pin`; the last one lets go of what no reader holds any more. */
  unpin(): void {
    if (--this.#pins > 0) return;
    if (this.#readers.size === 0) this.#dropBefore(this.#next);
  }

  /** Counts `reader` among those whose positions are kept. */
  hold(reader: LogReader): void {
    this.#readers.add(reader);
  }

  /** `reader` holds nothing here any more; with no reader left, the log empties. */
  release(reader: LogReader): void {
    if (!this.#readers.delete(reader)) return;
    reader.released(this);
    if (this.#readers.size === 0) this.#dropBefore(this.#next);
  }

  /** A copy of positions `from` to `to` (exclusive) as a log of its own, from position 0. */
  copy(from: number, to: number): MessageLog {
    const copy = new MessageLog();
    for (let position = from; position < to; position++) copy.#store(this.at(position));
    return copy;
  }

  /** Lets go of every position no reader holds; readers too far behind get copies first. */
  trim(): void {
    this.#appendsSincePass = 0;
    this.#bytesSincePass = 0;
    let keepFrom = this.#next;
    for (const reader of this.#readers) {
      let oldest = reader.oldestIn(this);
      if (oldest !== undefined && this.#tooFarBehind(oldest, reader)) {
        // The reader takes copies of what it holds here; it may still hold newer positions.
        reader.detach(this);
        oldest = reader.oldestIn(this);
      }
      if (oldest === undefined) this.release(reader);
      else if (oldest < keepFrom) keepFrom = oldest;
    }
    this.#dropBefore(keepFrom);
  }

  #tooFarBehind(oldest: number, reader: LogReader): boolean {
    return this.#next - oldest > 2 * reader.maxMessages || this.bytesBetween(oldest, this.#next) > 2 * reader.maxBytes;
  }

  #bytesBefore(position: number): number {
    return position === this.#first ? this.#bytesBeforeFirst : (this.#bytesThrough[(position - 1) & (this.#messages.length - 1)] as number);
  }

  #store(message: LoggedMessage): number {
    if (this.#next - this.#first === this.#messages.length) this.#grow();
    const position = this.#next++;
    const mask = this.#messages.length - 1;
    this.#messages[position & mask] = message;
    this.#bytesThrough[position & mask] = this.#bytesBefore(position) + message.byteLength;
    return position;
  }

  #dropBefore(upTo: number): void {
    const position = this.#pins > 0 ? Math.min(upTo, this.#pinnedFrom) : upTo;
    if (position <= this.#first) return;
    this.#bytesBeforeFirst = this.#bytesBefore(position);
    const mask = this.#messages.length - 1;
    // Cleared so the messages themselves can go now, not when their slot is reused.
    for (let p = this.#first; p < position; p++) this.#messages[p & mask] = undefined;
    this.#first = position;
  }

  // Capacities stay powers of two, so a slot is `position & (capacity - 1)` at any size.
  #grow(): void {
    const capacity = this.#messages.length * 2;
    const messages = new Array<LoggedMessage | undefined>(capacity);
    const bytesThrough = new Float64Array(capacity);
    const oldMask = this.#messages.length - 1;
    for (let p = this.#first; p < this.#next; p++) {
      messages[p & (capacity - 1)] = this.#messages[p & oldMask];
      bytesThrough[p & (capacity - 1)] = this.#bytesThrough[p & oldMask] as number;
    }
    this.#messages = messages;
    this.#bytesThrough = bytesThrough;
  }
}
