import { MessageLog, type LogReader, type LoggedMessage } from './message-log.js';

/** What a client that acknowledged up to some sequence number is owed. */
export interface Replay {
  next: number;
  gap: [number, number] | undefined;
  messages: readonly LoggedMessage[];
  /**
   * True when `messages` stop before a lost broadcast: a connection that carried them must
   * end there, so that its client comes back and is told of the gap where it is.
   */
  truncated: boolean;
}

/** Bounds of the replay buffer. */
export interface SessionLimits {
  messages: number;
  bytes: number;
}

// What the older runs are when there are none: read by every trim pass for every reader.
const noRuns: readonly Run[] = [];

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
 * The messages themselves live in logs (sessions/message-log.ts): a broadcast is stored once in its
 * group's log, a message sent to this channel alone in the session's own log. The buffer keeps
 * runs of consecutive log positions, oldest first; sequence numbers are implied by order. The
 * newest run lives in this object's fields (`#tail*`), older ones in `#runs`.
 *
 * The newest run may be *implicit*: after `append` returns with `implicitLog` set, the
 * channel takes that log's next broadcasts without calling here at all (it only checks the
 * message's log against the one it remembers), and the run is read as reaching the log's
 * newest position. That is what makes a broadcast to 5,000 sessions cost no more per member
 * than to plain channels. The channel ends it by calling `append` (a message from elsewhere),
 * `skipped` (left out of a broadcast) or `left` (out of the group). Because of it, the bounds
 * are applied lazily, whenever the buffer is read (`#settle`), never per message.
 */
export class ReplayBuffer implements LogReader {
  // The newest run: positions #tailFrom (inclusive) to #tailEnd of #tailLog, or while
  // #implicit, to the log's next position.
  #tailLog: MessageLog | undefined;
  #tailFrom = 0;
  #tailEnd = 0;
  #implicit = false;
  // The number of the oldest message held (of the next one, with nothing held).
  #first = 1;
  // Older runs, oldest first from #head (dropping the oldest run is O(1)); undefined when the
  // newest run is all there is.
  #runs: Run[] | undefined;
  #head = 0;
  #olderCount = 0;
  #olderBytes = 0;
  readonly maxMessages: number;
  readonly maxBytes: number;
  #own: MessageLog | undefined;
  // How many runs (the newest included) this buffer holds in each log: a log is let go the
  // moment its count reaches 0, so a session never keeps a quiet group's log, or a copy, alive.
  readonly #logs = new Map<MessageLog, number>();

  constructor(limits: SessionLimits) {
    this.maxMessages = limits.messages;
    this.maxBytes = limits.bytes;
  }

  /** The number the next appended message gets. */
  get nextSeq(): number {
    return this.#first + this.#olderCount + this.#tailCount();
  }

  /**
   * Messages held (sent, not yet acknowledged, still within bounds). A method, not a getter:
   * it applies the bounds first, which may let the oldest go.
   */
  held(): number {
    this.#settle();
    return this.#olderCount + this.#tailCount();
  }

  /**
   * Numbers the next message `seq`: a session taken over from another process goes on from
   * where it was there. Only while nothing is held.
   */
  startAt(seq: number): void {
    if (this.#tailLog !== undefined || this.#runs !== undefined) throw new Error('startAt() on a buffer that holds messages');
    this.#first = seq;
  }

  /** The log whose broadcasts the channel may now take without calling here, if any. */
  get implicitLog(): MessageLog | undefined {
    return this.#implicit ? this.#tailLog : undefined;
  }

  /**
   * Appends a message and returns its sequence number. A message with a log (a broadcast) is
   * kept there, and its log becomes the implicit one; any other goes to the session's own log.
   */
  append(message: LoggedMessage): number {
    const shared = message.log;
    const log = shared ?? (this.#own ??= new MessageLog());
    const position = shared === undefined ? log.append(message) : shared.positionOf(message);
    // An implicit run ends before this message if it is from the same log (it holds a
    // position already), else at its log's newest position.
    this.#endImplicit(log === this.#tailLog ? position : undefined);
    if (log !== this.#tailLog || position !== this.#tailEnd) this.#openRun(log, position);
    this.#tailEnd = position + 1;
    const seq = this.nextSeq - 1;
    // Implicit only from the log's newest message: every later position is one this channel
    // will be handed (or told it was skipped).
    this.#implicit = shared !== undefined && shared.next === position + 1;
    this.#settle();
    return seq;
  }

  /** The channel was left out of `message` (a broadcast's `except`): the implicit run ends before it. */
  skipped(message: LoggedMessage): void {
    const log = message.log;
    if (!this.#implicit || log === undefined || log !== this.#tailLog) return;
    this.#endImplicit(log.positionOf(message));
    this.#dropEmptyTail();
  }

  /** The channel left the group whose log is `log`: the implicit run ends where the log is now. */
  left(log: MessageLog): void {
    if (!this.#implicit || log !== this.#tailLog) return;
    this.#endImplicit(undefined);
    this.#dropEmptyTail();
  }

  /** Forgets every message up to and including `seq`: the client has it. */
  acknowledge(seq: number): void {
    const held = this.held(); // settles first: #first may move
    const count = Math.min(seq - this.#first + 1, held);
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
    this.#settle();
    const from = seq + 1;
    const first = this.#first;
    const gap: [number, number] | undefined = from < first ? [from, first - 1] : undefined;
    return withHoles({ next: Math.max(from, first), gap, messages: this.#heldFrom(from), truncated: false });
  }

  /** Every message held, lost places included, and the number of the first. */
  unacknowledged(): { first: number; messages: LoggedMessage[] } {
    this.#settle();
    return { first: this.#first, messages: this.#heldFrom(this.#first) };
  }

  #heldFrom(from: number): LoggedMessage[] {
    const messages: LoggedMessage[] = [];
    let skip = Math.max(0, from - this.#first);
    for (const run of this.#held()) {
      const length = run.to - run.from;
      if (skip >= length) {
        skip -= length;
        continue;
      }
      for (let position = run.from + skip; position < run.to; position++) messages.push(run.log.at(position));
      skip = 0;
    }
    return messages;
  }

  /**
   * The session is over. A closed polling session still answers one last poll: `keep` makes
   * private copies of what it holds, so no shared log is kept for it; otherwise it lets go.
   */
  release(keep: boolean): void {
    this.#endImplicit(undefined);
    for (const log of [...this.#logs.keys()]) {
      if (!keep) log.release(this);
      else if (log !== this.#own) this.detach(log);
    }
    if (keep) return;
    this.#first = this.nextSeq;
    this.#runs = undefined;
    this.#head = 0;
    this.#olderCount = 0;
    this.#olderBytes = 0;
    this.#tailLog = undefined;
  }

  /** @internal LogReader: the oldest position of `log` held here. */
  oldestIn(log: MessageLog): number | undefined {
    this.#settle();
    const runs = this.#runs ?? noRuns;
    for (let i = this.#head; i < runs.length; i++) if ((runs[i] as Run).log === log) return (runs[i] as Run).from;
    return this.#tailLog === log ? this.#tailFrom : undefined;
  }

  /**
   * @internal LogReader: what is held of `log` is copied into logs of this session's own. An
   * implicit run stays (it is within the bounds, and the channel still takes that log).
   */
  detach(log: MessageLog): void {
    this.#settle();
    const runs = this.#runs ?? noRuns;
    for (let i = this.#head; i < runs.length; i++) {
      const run = runs[i] as Run;
      if (run.log !== log) continue;
      run.log = this.#copyOf(log, run.from, run.to);
      run.to -= run.from;
      run.from = 0;
      this.#unhold(log);
    }
    if (this.#tailLog !== log || this.#implicit) return;
    this.#tailLog = this.#copyOf(log, this.#tailFrom, this.#tailEnd);
    this.#tailEnd -= this.#tailFrom;
    this.#tailFrom = 0;
    this.#unhold(log);
  }

  /** @internal LogReader */
  released(log: MessageLog): void {
    this.#logs.delete(log);
  }

  #tailCount(): number {
    const log = this.#tailLog;
    if (log === undefined) return 0;
    return (this.#implicit ? log.next : this.#tailEnd) - this.#tailFrom;
  }

  #endImplicit(end: number | undefined): void {
    if (!this.#implicit) return;
    this.#tailEnd = end ?? (this.#tailLog as MessageLog).next;
    this.#implicit = false;
  }

  #copyOf(log: MessageLog, from: number, to: number): MessageLog {
    const copy = log.copy(from, to);
    this.#hold(copy);
    return copy;
  }

  #hold(log: MessageLog): void {
    const runs = this.#logs.get(log);
    this.#logs.set(log, (runs ?? 0) + 1);
    if (runs === undefined) log.hold(this);
  }

  // May run inside `log`'s own trim pass (through oldestIn → #settle): releasing the reader
  // being visited is safe there, and the pass's own release of it then does nothing.
  #unhold(log: MessageLog): void {
    const runs = (this.#logs.get(log) ?? 1) - 1;
    if (runs > 0) this.#logs.set(log, runs);
    else log.release(this); // which calls released(), forgetting the count
  }

  #openRun(log: MessageLog, position: number): void {
    // Held before the old newest run may be let go: if both are of the same log, its count
    // must not touch 0 on the way (the log would empty itself).
    this.#hold(log);
    const tail = this.#tailLog;
    if (tail !== undefined && this.#tailFrom < this.#tailEnd) {
      (this.#runs ??= []).push({ log: tail, from: this.#tailFrom, to: this.#tailEnd });
      this.#olderCount += this.#tailEnd - this.#tailFrom;
      this.#olderBytes += tail.bytesBetween(this.#tailFrom, this.#tailEnd);
    } else if (tail !== undefined) {
      this.#unhold(tail); // an empty newest run is just dropped
    }
    this.#tailLog = log;
    this.#tailFrom = position;
  }

  // A newest run that ended empty (left out, or left the group, with nothing unacknowledged).
  #dropEmptyTail(): void {
    const tail = this.#tailLog;
    if (tail === undefined || this.#implicit || this.#tailFrom < this.#tailEnd) return;
    this.#tailLog = undefined;
    this.#unhold(tail);
  }

  /** Every run held, oldest first (the newest as a snapshot of the tail fields). */
  #held(): Run[] {
    const runs = this.#runs?.slice(this.#head) ?? [];
    const tail = this.#tailLog;
    if (tail !== undefined) runs.push({ log: tail, from: this.#tailFrom, to: this.#implicit ? tail.next : this.#tailEnd });
    return runs;
  }

  // Lets the oldest go past the bounds (count, then bytes, always keeping the newest).
  #settle(): void {
    let count = this.#olderCount + this.#tailCount();
    if (count > this.maxMessages) {
      this.#dropOldest(count - this.maxMessages);
      count = this.maxMessages;
    }
    while (count > 1 && this.#bytesHeld() > this.maxBytes) {
      this.#dropOldest(1);
      count--;
    }
  }

  #bytesHeld(): number {
    const tail = this.#tailLog;
    if (tail === undefined) return this.#olderBytes;
    return this.#olderBytes + tail.bytesBetween(this.#tailFrom, this.#implicit ? tail.next : this.#tailEnd);
  }

  #dropOldest(count: number): void {
    while (count > 0) {
      const taken = this.#runs !== undefined ? this.#dropFromOlderRun(this.#runs, count) : this.#dropFromTail(count);
      this.#first += taken;
      count -= taken;
    }
  }

  // `count` is at most what the newest run holds (the older runs are gone by now).
  #dropFromTail(count: number): number {
    this.#tailFrom += count;
    // Nothing held: the next message opens a run afresh (and holds its log again if need be).
    // An implicit run stays open, empty, for the broadcasts to come.
    this.#dropEmptyTail();
    return count;
  }

  #dropFromOlderRun(runs: Run[], count: number): number {
    const run = runs[this.#head] as Run;
    const taken = Math.min(count, run.to - run.from);
    const bytes = run.log.bytesBetween(run.from, run.from + taken);
    this.#olderBytes -= bytes;
    this.#olderCount -= taken;
    run.from += taken;
    if (run.from < run.to) return taken;
    this.#unhold(run.log);
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

/**
 * Lost broadcasts at the start of a replay join its gap; the replay stops before the first
 * lost one after a message (the client learns of that gap when it comes back from there).
 */
function withHoles(replay: Replay): Replay {
  const { messages } = replay;
  let start = 0;
  while (start < messages.length && (messages[start] as LoggedMessage).lost) start++;
  if (start === 0 && !messages.some((m) => m.lost)) return replay;
  const next = replay.next + start;
  const gap: [number, number] | undefined = start > 0 ? [replay.gap?.[0] ?? replay.next, next - 1] : replay.gap;
  let end = start;
  while (end < messages.length && !(messages[end] as LoggedMessage).lost) end++;
  return { next, gap, messages: messages.slice(start, end), truncated: end < messages.length };
}
