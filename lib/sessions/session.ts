import type { Channel } from '../channel/channel.js';
import type { CloseReason } from '../protocol/close-reasons.js';
import type { ResolvedOptions } from '../options.js';
import type { Hello } from '../protocol/control.js';
import { SessionBuffer, type Replay } from './replay-buffer.js';
import { toJsonMessage } from '../transports/json-messages.js';
import type { PollAnswer, PollSource } from '../transports/poll.js';
import type { Wire } from '../transports/wire.js';
import type { SessionWiring } from '../http/claim.js';

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

/**
 * The session side of a channel: its replay buffer, the count of client messages delivered,
 * the timer that closes it with `'client-away'` when its client does not come back.
 */
export class SessionLink extends SessionBuffer implements PollSource {
  readonly #channel: Channel;
  readonly #options: ResolvedOptions;
  #received = 0;
  #awayTimer: NodeJS.Timeout | undefined;
  #ackWire: Wire | undefined;
  // The number of the last frame received on the current WebSocket (docs/protocol.md).
  #frameNumber = 0;

  constructor(channel: Channel, options: ResolvedOptions) {
    // The buffer is this object's base class rather than a field: one object less per session,
    // and the counted path (a message from elsewhere than the group it follows) reaches it
    // straight from the channel.
    super({ messages: options.sessionMessages, bytes: options.sessionBytes });
    this.#channel = channel;
    this.#options = options;
  }

  /** True if a connection ending for `reason` ends the session as well. */
  static endsSession(reason: CloseReason): boolean {
    return sessionEnders.has(reason);
  }

  /** Client messages delivered to `onReceive` so far. */
  get received(): number {
    return this.#received;
  }

  /** Messages sent and not yet acknowledged. */
  get queued(): number {
    return this.size;
  }

  /** Forgets what the client acknowledged; an acknowledgement of unsent messages is ignored. */
  override acknowledge(seq: number): void {
    if (this.isValidAck(seq)) super.acknowledge(seq);
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

  /** @internal */
  sendReceivedAck(): void {
    const wire = this.#ackWire;
    this.#ackWire = undefined;
    try {
      wire?.sendControl?.({ type: 'ack', received: this.#received });
    } catch (error) {
      this.#channel.failed(error);
    }
  }

  wiring(ack: number): SessionWiring {
    return { id: this.#channel.id, ack, source: this };
  }

  /**
   * Tells a new connection where it stands (the hello), then replays what the client missed.
   * A poll is answered at once when it opens the session or when something is waiting.
   */
  greet(wire: Wire, ack: number, opening: boolean): void {
    const replay = this.since(ack);
    this.#frameNumber = this.#received;
    if (wire.name === 'poll') {
      // A poll's answer carries the hello and the messages itself (pollAnswer): a send only
      // tells it to answer now instead of waiting.
      if (opening || replay.messages.length > 0 || replay.gap !== undefined) wire.send(undefined, {}, false);
      return;
    }
    wire.sendControl?.({ type: 'hello', ...this.#hello(replay) });
    replay.messages.forEach((message, i) => wire.writeShared(message, replay.next + i));
  }

  pollAnswer(ack: number): PollAnswer {
    const replay = this.since(ack);
    return { ...this.#hello(replay), messages: replay.messages.map((m) => toJsonMessage(m.payload)) };
  }

  /** Closes the channel with 'client-away' unless its client is back within sessionTimeout. */
  startAwayTimer(alreadySilentFor = 0): void {
    clearTimeout(this.#awayTimer);
    this.#awayTimer = setTimeout(closeAway, Math.max(0, this.#options.sessionTimeout - alreadySilentFor), this.#channel);
    this.#awayTimer.unref();
  }

  stopAwayTimer(): void {
    clearTimeout(this.#awayTimer);
    this.#awayTimer = undefined;
  }

  #hello(replay: Replay): Hello {
    const hello: Hello = {
      session: this.#channel.id,
      next: replay.next,
      received: this.#received,
      heartbeat: this.#options.heartbeat,
      sessionTimeout: this.#options.sessionTimeout,
    };
    if (replay.gap !== undefined) hello.gap = replay.gap;
    return hello;
  }
}

// Scheduled by the library itself: a throw here would take the process down, so it fails
// the channel concerned instead.
function sendReceivedAck(link: SessionLink): void {
  link.sendReceivedAck();
}

function closeAway(channel: Channel): void {
  try {
    channel.close('client-away');
  } catch (error) {
    channel.failed(error);
  }
}
