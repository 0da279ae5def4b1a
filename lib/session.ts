import { MessageLog, type LogReader } from './message-log.js';
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

interface Run {
  log: MessageLog;
  /** First position held (inclusive). */
  from: number;
  /** Position after the last one held. */
  to: number;
}

/**
 * The replay buffer of one session: every message sent gets the next sequence number and
 * stays until the client acknowledges it or the bounds push it out.
 *
 * The messages themselves live in logs (lib/message-log.ts): a broadcast is stored once in its
 * group's log, a message sent to this channel alone in the session's own log. The buffer keeps
 * runs of consecutive log positions, oldest first; sequence numbers are implied by order
 * (the oldest message held is numbered `#first`). The newest run lives in this object's own fields
 * (`#tail*`), older ones in `#runs`. A session that gets every broadcast of one group has just
 * the newest run: appending, and letting the oldest go past the bounds, touch nothing but this
 * object, so a broadcast to 5,000 sessions costs no per-member storage.
 */
export class SessionBuffer implements LogReader {
  // Read and written on every append, for every member of a broadcast: declared first and
  // kept few, so they share as few cache lines as can be. The bounds are kept as what is left
  // of them (the number of the oldest message held is implied: #first).
  // The newest run: positions #tailFrom (inclusive) to #tailEnd of #tailLog, if any.
  #tailLog: MessageLog | undefined;
  #tailEnd = -1;
  #nextSeq = 1;
  #countLeft: number;
  #bytesLeft: number;
  #tailFrom = 0;
  readonly maxMessages: number;
  readonly maxBytes: number;
  // Older runs, oldest first from #head (dropping the oldest run is O(1)); undefined when the
  // newest run is all there is, so the common case never reaches for the array.
  #runs: Run[] | undefined;
  #head = 0;
  #own: MessageLog | undefined;
  readonly #logs = new Set<MessageLog>();

  constructor(limits: SessionLimits) {
    this.maxMessages = limits.messages;
    this.maxBytes = limits.bytes;
    this.#countLeft = limits.messages;
    this.#bytesLeft = limits.bytes;
  }

  /** The number the next appended message gets. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  // The number of the oldest message held (or of the next one, with nothing held).
  get #first(): number {
    return this.#nextSeq - this.size;
  }

  /** Messages held (sent, not yet acknowledged, still within bounds). */
  get size(): number {
    return this.maxMessages - this.#countLeft;
  }

  /**
   * Appends a message and returns its sequence number, letting the oldest go past the bounds.
   * A message with a log (a broadcast) is kept there; any other goes to the session's own log.
   */
  append(message: SharedMessage): number {
    const shared = message.log;
    const log = shared ?? (this.#own ??= new MessageLog());
    const position = shared === undefined ? log.append(message) : shared.positionOf(message);
    if (log !== this.#tailLog || position !== this.#tailEnd) this.#openRun(log, position);
    this.#tailEnd = position + 1;
    const seq = this.#nextSeq++;
    this.#countLeft--;
    this.#bytesLeft -= message.byteLength;
    if (this.#countLeft < 0 || this.#bytesLeft < 0) this.#enforceBounds();
    return seq;
  }

  /** Forgets every message up to and including `seq`: the client has it. */
  acknowledge(seq: number): void {
    const count = Math.min(seq - this.#first + 1, this.size);
    if (count <= 0) return;
    this.#dropOldest(count);
    // The own log has this session as its only reader: letting go there costs nothing.
    this.#own?.trim();
  }

  /** True if `seq` is a number this session could have sent (0 means "nothing yet"). */
  isValidAck(seq: number): boolean {
    return Number.isSafeInteger(seq) && seq >= 0 && seq < this.nextSeq;
  }

  /** Everything after `seq`, and the range that is no longer held, if any. */
  since(seq: number): Replay {
    const from = seq + 1;
    const first = this.#first;
    const gap: [number, number] | undefined = from < first ? [from, first - 1] : undefined;
    const messages: SharedMessage[] = [];
    let skip = Math.max(0, from - first);
    for (const run of this.#held()) {
      const length = run.to - run.from;
      if (skip >= length) {
        skip -= length;
        continue;
      }
      for (let position = run.from + skip; position < run.to; position++) messages.push(run.log.at(position));
      skip = 0;
    }
    return { next: Math.max(from, first), gap, messages };
  }

  /**
   * The session is over. A closed polling session still answers one last poll: `keep` makes
   * private copies of what it holds, so no shared log is kept for it; otherwise it lets go.
   */
  release(keep: boolean): void {
    for (const log of [...this.#logs]) {
      if (!keep) log.release(this);
      else if (log !== this.#own) this.detach(log);
    }
    if (keep) return;
    this.#runs = undefined;
    this.#head = 0;
    this.#tailLog = undefined;
    this.#countLeft = this.maxMessages;
    this.#bytesLeft = this.maxBytes;
  }

  /** @internal LogReader: the oldest position of `log` held here. */
  oldestIn(log: MessageLog): number | undefined {
    const runs = this.#runs ?? [];
    for (let i = this.#head; i < runs.length; i++) if ((runs[i] as Run).log === log) return (runs[i] as Run).from;
    return this.#tailLog === log ? this.#tailFrom : undefined;
  }

  /** @internal LogReader: what is held of `log` is copied into logs of this session's own. */
  detach(log: MessageLog): void {
    const runs = this.#runs ?? [];
    for (let i = this.#head; i < runs.length; i++) {
      const run = runs[i] as Run;
      if (run.log !== log) continue;
      run.log = this.#copyOf(log, run.from, run.to);
      run.to -= run.from;
      run.from = 0;
    }
    if (this.#tailLog === log) {
      this.#tailLog = this.#copyOf(log, this.#tailFrom, this.#tailEnd);
      this.#tailEnd -= this.#tailFrom;
      this.#tailFrom = 0;
    }
    log.release(this);
  }

  /** @internal LogReader */
  released(log: MessageLog): void {
    this.#logs.delete(log);
  }

  #copyOf(log: MessageLog, from: number, to: number): MessageLog {
    const copy = log.copy(from, to);
    copy.hold(this);
    this.#logs.add(copy);
    return copy;
  }

  #openRun(log: MessageLog, position: number): void {
    if (this.#tailLog !== undefined) (this.#runs ??= []).push({ log: this.#tailLog, from: this.#tailFrom, to: this.#tailEnd });
    this.#tailLog = log;
    this.#tailFrom = position;
    if (this.#logs.has(log)) return;
    this.#logs.add(log);
    log.hold(this);
  }

  /** Every run held, oldest first (the newest as a snapshot of the tail fields). */
  #held(): Run[] {
    const runs = this.#runs?.slice(this.#head) ?? [];
    if (this.#tailLog !== undefined) runs.push({ log: this.#tailLog, from: this.#tailFrom, to: this.#tailEnd });
    return runs;
  }

  #enforceBounds(): void {
    while (this.#countLeft < 0 || (this.#bytesLeft < 0 && this.size > 1)) this.#dropOldest(1);
  }

  #dropOldest(count: number): void {
    while (count > 0) {
      const taken = this.#runs !== undefined ? this.#dropFromOlderRun(this.#runs, count) : this.#dropFromTail(count);
      this.#countLeft += taken;
      count -= taken;
    }
  }

  #dropFromTail(count: number): number {
    const log = this.#tailLog as MessageLog;
    const taken = Math.min(count, this.#tailEnd - this.#tailFrom);
    this.#bytesLeft += log.bytesBetween(this.#tailFrom, this.#tailFrom + taken);
    this.#tailFrom += taken;
    // Nothing held: the next message opens a run afresh (and holds its log again if need be).
    if (this.#tailFrom === this.#tailEnd) this.#tailLog = undefined;
    return taken;
  }

  #dropFromOlderRun(runs: Run[], count: number): number {
    const run = runs[this.#head] as Run;
    const taken = Math.min(count, run.to - run.from);
    this.#bytesLeft += run.log.bytesBetween(run.from, run.from + taken);
    run.from += taken;
    if (run.from < run.to) return taken;
    this.#head++;
    if (this.#head === runs.length) {
      this.#runs = undefined;
      this.#head = 0;
    } else if (this.#head >= 32 && this.#head * 2 >= runs.length) {
      runs.splice(0, this.#head);
      this.#head = 0;
    }
    return taken;
  }
}
