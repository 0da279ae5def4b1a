import { debug, debugEnabled, tag } from '../debug.js';
import type { CloseReason } from '../protocol/close-reasons.js';
import type { Hello } from '../protocol/control.js';
import { toJsonMessage } from '../transports/json-messages.js';
import type { PollAnswer, PollSource, SessionWiring, Wire } from '../transports/wire.js';
import type { LoggedMessage, MessageLog } from './message-log.js';
import { ReplayBuffer, type Replay } from './replay-buffer.js';
import { newSessionSecret, ResumeTicket, sameSecret } from './secret.js';
import type { HandedMessage, LateBroadcast } from './directory.js';
import { handedMessage, keptMessage, lateMessages } from './handover.js';

/** A session taken over from another process, as this one adopts it. */
export interface HandedSession {
  /** The session id (the channel's id, on every process). */
  id: string;
  secret: string;
  received: number;
  /** The sequence number of `messages[0]`. */
  first: number;
  messages: readonly HandedMessage[];
  /** Broadcasts that reached this process and not the old owner during the takeover. */
  late: readonly LateBroadcast[];
  /** Client messages the old owner counted in `received` and held for a handler. */
  held: ReadonlyArray<string | Buffer>;
}

// A connection that ends for one of these reasons ends the session too: the client said
// goodbye (1000) or broke the protocol. Any other end is a lost connection to come back from.
const sessionEnders: ReadonlySet<CloseReason> = new Set<CloseReason>([
  'normal',
  'protocol-error',
  'unsupported',
  'invalid-payload-data',
  'policy-violation',
  'message-too-big',
  'mandatory-extension',
]);

/** The channel a session belongs to, as the session sees it. */
export interface SessionOwner {
  /** The session id. */
  readonly id: string;
  close(reason: CloseReason): boolean;
  /** Something the session ran on its own threw: the owner reports it and closes. */
  failed(error: unknown): void;
  /** Ends the current connection as lost: its client comes back and resumes. */
  dropConnection(): void;
}

/** What a request presents to prove it comes from the session's client (docs/protocol.md). */
export interface SessionProof {
  secret?: string | undefined;
  ticket?: string | undefined;
}

/** The options a session reads (a subset of `channels()`'s, resolved). */
export interface SessionSettings {
  readonly sessionMessages: number;
  readonly sessionBytes: number;
  readonly sessionTimeout: number;
  readonly heartbeat: number;
  readonly pollTimeout: number;
}

/**
 * The session side of a channel: its replay buffer, the count of client messages delivered,
 * the timer that closes it with `'client-away'` when its client does not come back.
 */
export class Session implements PollSource {
  readonly #owner: SessionOwner;
  readonly #settings: SessionSettings;
  readonly #buffer: ReplayBuffer;
  #received = 0;
  #awayTimer: NodeJS.Timeout | undefined;
  #ackWire: Wire | undefined;
  // The number of the last frame received on the current WebSocket (docs/protocol.md).
  #frameNumber = 0;
  /** Proves a request comes from this session's client; told once, in the first hello. */
  readonly secret: string;
  #secretTold = false;
  #ticket: ResumeTicket | undefined;

  /** `handed`: a session taken over from another process, which goes on from its state there. */
  constructor(owner: SessionOwner, settings: SessionSettings, handed?: HandedSession) {
    this.#owner = owner;
    this.#settings = settings;
    this.#buffer = new ReplayBuffer({ messages: settings.sessionMessages, bytes: settings.sessionBytes });
    this.secret = handed?.secret ?? newSessionSecret();
    if (handed !== undefined) this.#adopt(handed);
  }

  #adopt(handed: HandedSession): void {
    this.#secretTold = true; // its client has it since the first hello, on the old owner
    this.#received = handed.received;
    this.#buffer.startAt(handed.first);
    for (const message of handed.messages) this.#buffer.append(keptMessage(message));
    for (const late of handed.late) for (const message of lateMessages(late)) this.#buffer.append(message);
  }

  /** What the client has not acknowledged, as another process taking the session over keeps it. */
  unacknowledged(): { first: number; messages: HandedMessage[] } {
    const { first, messages } = this.#buffer.unacknowledged();
    return { first, messages: messages.map(handedMessage) };
  }

  /** True if a connection ending for `reason` ends the session as well. */
  static endsSession(reason: CloseReason): boolean {
    return sessionEnders.has(reason);
  }

  /** True if `proof` carries this session's secret, or its current resume ticket (spent by this). */
  proves(proof: SessionProof): boolean {
    if (sameSecret(this.secret, proof.secret)) return true;
    if (this.#ticket?.admits(proof.ticket) !== true) return false;
    this.#ticket = undefined;
    return true;
  }

  /** A new single-use resume ticket (the previous one is void). */
  issueTicket(): string {
    this.#ticket = new ResumeTicket();
    return this.#ticket.value;
  }

  /** Client messages delivered to `onReceive` so far. */
  get received(): number {
    return this.#received;
  }

  /** Messages sent and not yet acknowledged (applies the buffer's bounds first). */
  queued(): number {
    return this.#buffer.held();
  }

  /** The number the next message gets. */
  get nextSeq(): number {
    return this.#buffer.nextSeq;
  }

  /**
   * Numbers and keeps `message` until the client acknowledges it. Returns its sequence number
   * when `numbered` (a stream that writes each message's number) or when it was counted.
   */
  keep(message: LoggedMessage, numbered: boolean): number | undefined {
    const buffer = this.#buffer;
    const log = message.log;
    // The common case: the next broadcast of the group this session follows. The buffer
    // counts it without being called (ReplayBuffer, "implicit"); the message only needs its
    // place in the log.
    if (log !== undefined && log === buffer.implicitLog) {
      if (message.position < 0) log.positionOf(message);
      return numbered ? buffer.nextSeq - 1 : undefined;
    }
    return buffer.append(message);
  }

  /** Left out of `message` (a broadcast's `except`). */
  skipped(message: LoggedMessage): void {
    this.#buffer.skipped(message);
  }

  /** Left the group whose log is `log`. */
  left(log: MessageLog): void {
    this.#buffer.left(log);
  }

  /** Forgets what the client acknowledged; an acknowledgement of unsent messages is ignored. */
  acknowledge(seq: number): void {
    if (this.#buffer.isValidAck(seq)) this.#buffer.acknowledge(seq);
  }

  /** True if `seq` is a number this session could have sent (0 means "nothing yet"). */
  isValidAck(seq: number): boolean {
    return this.#buffer.isValidAck(seq);
  }

  /** Everything after `seq`, and the range no longer held, if any. */
  since(seq: number): Replay {
    return this.#buffer.since(seq);
  }

  /** The session is over: `keep` holds private copies for one last poll (ReplayBuffer.release). */
  release(keep: boolean): void {
    this.#buffer.release(keep);
  }

  /** Numbers a frame of the current WebSocket; true if that message was delivered already. */
  isRepeatedFrame(): boolean {
    this.#frameNumber++;
    return this.#frameNumber <= this.#received;
  }

  /** Counts a delivered client message; on a WebSocket, acknowledges it once per tick. */
  countReceived(wire: Wire | undefined): void {
    this.#received++;
    this.scheduleAck(wire);
  }

  /** Tells a WebSocket client, once per tick, how many of its messages were delivered. */
  scheduleAck(wire: Wire | undefined): void {
    if (wire?.name !== 'websocket' || this.#ackWire !== undefined) return;
    this.#ackWire = wire;
    process.nextTick(sendReceivedAck, this);
  }

  /** The scheduled acknowledgement; a failure fails the owner, never the process. */
  sendReceivedAck(): void {
    const wire = this.#ackWire;
    this.#ackWire = undefined;
    try {
      wire?.sendControl?.({ type: 'ack', received: this.#received });
    } catch (error) {
      this.#owner.failed(error);
    }
  }

  /** What a session wire needs to start at `ack`. */
  wiring(ack: number): SessionWiring {
    return { id: this.#owner.id, eventIdPrefix: `${this.#owner.id}.${this.secret}`, ack, source: this };
  }

  /**
   * Tells a new connection where it stands (the hello), then replays what the client missed.
   * A poll is answered at once when it opens the session or when something is waiting.
   * Returns whether the client is told of a gap (messages no longer buffered).
   */
  greet(wire: Wire, ack: number, opening: boolean): boolean {
    const replay = this.since(ack);
    this.#frameNumber = this.#received;
    if (debugEnabled && replay.gap !== undefined) {
      debug('session channel %s resumes with a gap: messages %d to %d are no longer kept', tag(this.#owner), replay.gap[0], replay.gap[1]);
    }
    const gap = replay.gap !== undefined;
    if (wire.answerNow !== undefined) {
      // A poll's answer carries the hello and the messages itself (pollAnswer).
      if (opening || replay.messages.length > 0 || gap) wire.answerNow();
      return gap;
    }
    wire.sendControl?.({ type: 'hello', ...this.#hello(replay) });
    replay.messages.forEach((message, i) => wire.writeShared(message, replay.next + i));
    // A lost broadcast after these: the client must come back from there to be told of it.
    if (replay.truncated) this.#owner.dropConnection();
    return gap;
  }

  pollAnswer(ack: number): PollAnswer {
    const replay = this.since(ack);
    // pollTimeout: how long the server may hold the next poll, so the client can tell a poll
    // held too long (a connection that died silently) from one still waiting.
    return { ...this.#hello(replay), pollTimeout: this.#settings.pollTimeout, messages: replay.messages.map((m) => toJsonMessage(m.payload, m.fields.event)) };
  }

  /** Closes the owner with 'client-away' unless its client is back within sessionTimeout. */
  startAwayTimer(alreadySilentFor = 0): void {
    clearTimeout(this.#awayTimer);
    this.#awayTimer = setTimeout(closeAway, Math.max(0, this.#settings.sessionTimeout - alreadySilentFor), this.#owner);
    this.#awayTimer.unref();
  }

  /** Whether the session has no connection and waits for its client to come back. */
  get awaitingClient(): boolean {
    return this.#awayTimer !== undefined;
  }

  stopAwayTimer(): void {
    clearTimeout(this.#awayTimer);
    this.#awayTimer = undefined;
  }

  #hello(replay: Replay): Hello {
    const hello: Hello = {
      session: this.#owner.id,
      next: replay.next,
      received: this.#received,
      heartbeat: this.#settings.heartbeat,
      sessionTimeout: this.#settings.sessionTimeout,
    };
    if (replay.gap !== undefined) hello.gap = replay.gap;
    if (!this.#secretTold) {
      hello.secret = this.secret;
      this.#secretTold = true;
    }
    return hello;
  }
}

// Scheduled by the library itself: a throw here would take the process down, so it fails
// the channel concerned instead.
function sendReceivedAck(session: Session): void {
  session.sendReceivedAck();
}

function closeAway(owner: SessionOwner): void {
  try {
    owner.close('client-away');
  } catch (error) {
    owner.failed(error);
  }
}
