import { debug, debugEnabled, tag } from '../debug.js';
import type { CloseReason } from '../protocol/close-reasons.js';
import type { ClientControl } from '../protocol/control.js';
import { LoggedMessage, type MessageLog } from '../sessions/message-log.js';
import { Session, type HandedSession, type SessionOwner } from '../sessions/session.js';
import { payloadBytes } from '../transports/payload.js';
import type { Head, Payload, SendFields, TransportName, Wire, WireSink } from '../transports/wire.js';
import { hasRoom } from './flow-control.js';
import { ChannelHandlers, type CloseHandler, type HandlerOwner, type Message, type MessageHandler } from './handlers.js';
import type { Counters } from './counters.js';
import type { ChannelSettings, RequestContext, WireRequest } from './host.js';
import { newChannelId } from './ids.js';
import type { NormalizedSend } from './send-data.js';

/**
 * What a channel needs from the `live` instance that made it. The hub implements it; the
 * channel never sees the hub itself, nor how a transport is opened.
 */
export interface ChannelHost {
  readonly options: ChannelSettings;
  readonly counters: Counters;
  /**
   * Opens the transport: completes the WebSocket handshake, writes the SSE headers. Returns
   * the close reason instead when the connection was refused (the client is answered then).
   */
  openWire(request: WireRequest): Wire | CloseReason;
  channelOpened(channel: ChannelCore): void;
  channelClosed(channel: ChannelCore): void;
  reportError(error: unknown): void;
}

/** Something that keeps a channel as a member (a group) and must forget it when it closes. */
export interface Membership {
  /** The group's name in its registry (undefined for a standalone group): a session taken over elsewhere joins it there. */
  readonly group: string | undefined;
  /** Where the group keeps its broadcasts for session members. */
  readonly log: MessageLog | undefined;
  /** The channel closed: drop it. */
  leave(channel: ChannelCore): void;
}

/** The request a channel is made for, the transport its headers chose, and whether it is a session. */
export interface ChannelRequest {
  context: RequestContext;
  transport: TransportName;
  session: boolean;
  /** A session taken over from another process: it goes on here from its state there. */
  handed?: HandedSession | undefined;
}

const enum State {
  Unclaimed,
  Open,
  Closed,
}

/**
 * The working side of one channel: its state, its transport (the wire), its handlers, its
 * session and its groups. Users hold the {@link Channel} in front of it (channel.ts); the
 * library's own parts (groups, the hub, session requests, wires) talk to this object.
 */
export class ChannelCore implements WireSink, HandlerOwner, SessionOwner {
  /** Unguessable, unique per channel (128 random bits); a session channel's session id. */
  readonly id: string;
  /** True for a session taken over from another process (the route runs again for it). */
  readonly resumed: boolean;
  readonly #host: ChannelHost;
  // The request that created the channel, until it is claimed: then the wire holds what it
  // needs, and an idle channel does not keep the whole request alive.
  #context: RequestContext | undefined;
  #transport: TransportName;
  #state: State = State.Unclaimed;
  #wire: Wire | undefined;
  readonly #handlers = new ChannelHandlers(this);
  #readingPaused = false;
  #memberships: Set<Membership> | undefined;
  /** The session side, for a channel that asked for one. */
  readonly session: Session | undefined;

  constructor(host: ChannelHost, { context, transport, session, handed }: ChannelRequest) {
    this.#host = host;
    this.#context = handed === undefined ? context : undefined; // a handed-over one is opened by adopt()
    this.#transport = transport;
    this.id = handed?.id ?? newChannelId();
    this.resumed = handed !== undefined;
    if (session || handed !== undefined) this.session = new Session(this, host.options, handed);
    // Received (and counted) by the old owner, not yet taken by a handler there: delivered here.
    for (const message of handed?.held ?? []) this.#handlers.receive(message);
  }

  get transport(): TransportName {
    return this.#transport;
  }

  get isOpen(): boolean {
    return this.#state !== State.Closed;
  }

  get closeReason(): CloseReason | undefined {
    return this.#handlers.closeReason;
  }

  /** `send`, its data checked (channel.ts): false when closed or dropped. */
  send({ head, payload }: NormalizedSend, fields: SendFields, closeAfter: boolean): boolean {
    if (this.#state === State.Closed) return false;
    if (this.#state === State.Unclaimed) {
      if (this.#claim(head) === undefined) return false;
    } else {
      this.#wire?.applyHead?.(head); // http-kit: claimed by onClose, answered by a later send
    }
    const sent = this.session !== undefined ? this.#sendOnSession(payload, fields) : this.#sendOnWire(payload, fields, closeAfter);
    if (sent && closeAfter && this.#state === State.Open) this.#finish('server-close');
    return sent;
  }

  /** Idempotent: true only for the call that actually closed the channel. */
  close(reason: CloseReason): boolean {
    if (this.#state === State.Closed) return false;
    // Claim first so the client gets a proper close (handshake then close frame, headers
    // then end of stream); a refused handshake leaves nothing to close.
    if (this.#state === State.Unclaimed && this.#claim({}) === undefined) return false;
    this.#finish(reason);
    return true;
  }

  onReceive(handler: MessageHandler): void {
    this.#handlers.addReceiver(handler);
    if (this.#state === State.Unclaimed) this.#claim({});
  }

  onClose(handler: CloseHandler): void {
    if (this.#state === State.Unclaimed) this.#claim({});
    this.#handlers.addCloser(handler);
  }

  /** A wire's peer sent a message. */
  received(message: Message): void {
    if (this.#state === State.Closed) return;
    // A session WebSocket's frames are numbered from the hello's `received`: one a POST in
    // flight already delivered is skipped, so each client message arrives once.
    if (this.session?.isRepeatedFrame() === true) {
      this.session.scheduleAck(this.#wire); // so the client can let it go
      return;
    }
    this.accept(message);
  }

  /** Held messages were delivered. */
  heldDrained(): void {
    if (!this.#readingPaused || this.#state === State.Closed) return;
    this.#readingPaused = false;
    this.#wire?.pauseReading(false);
  }

  reportError(error: unknown): void {
    this.#host.reportError(error);
  }

  /**
   * Something the library ran for this channel on its own (a timer, a socket event, a
   * scheduled poll answer) threw. No client may take the process down: the error goes to
   * `live.on('error')` and this channel alone closes with 'internal-server-error'.
   */
  failed(error: unknown): void {
    this.#host.reportError(error);
    if (this.#state !== State.Open) return;
    try {
      this.#finish('internal-server-error');
    } catch (closeError) {
      this.#host.reportError(closeError);
    }
  }

  /** A wire's connection ended by itself. */
  ended(reason: CloseReason): void {
    if (this.#state === State.Closed) return;
    if (this.session !== undefined && !Session.endsSession(reason)) this.#disconnect();
    else this.#finish(reason);
  }

  /** A session client acknowledged messages. */
  control(control: ClientControl): void {
    this.session?.acknowledge(control.seq);
  }

  /** A session wire is done (a poll answered); the session waits for the next. */
  released(wire: Wire): void {
    if (wire === this.#wire) this.#disconnect();
  }

  /** The session's client came back on a new request: carry on there. */
  resume(context: RequestContext, transport: TransportName, ack: number): void {
    const session = this.session;
    if (session === undefined || this.#state !== State.Open) return;
    // The new connection first: a refused one (403, bad handshake) leaves the session as it
    // was, its current connection up or its away timer running.
    const wire = this.#host.openWire({ transport, context, sink: this, head: {}, session: session.wiring(ack) });
    if (typeof wire === 'string') return;
    const previous = this.#wire;
    this.#wire = undefined;
    previous?.detach?.();
    if (debugEnabled) debug('resumed session channel %s over %s, the client having messages up to %d', tag(this), transport, ack);
    session.stopAwayTimer();
    session.acknowledge(ack);
    if (this.#readingPaused) wire.pauseReading(true); // held messages still wait for a handler
    // A poll after a poll is the polling transport's own rhythm, not a client coming back.
    if (transport !== 'poll' || this.#transport !== 'poll') this.#host.counters.resumes++;
    this.#transport = transport;
    this.#wire = wire;
    if (session.greet(wire, ack, false)) this.#host.counters.gaps++;
  }

  /**
   * A session taken over from another process resumes on this request's connection at `ack`.
   * Open from here on even when that connection is refused (a limit) or already gone: the
   * session lives here now, and waits for its client.
   */
  adopt(context: RequestContext, ack: number): void {
    this.#state = State.Open;
    this.#host.channelOpened(this);
    this.session?.startAwayTimer();
    this.resume(context, this.#transport, ack);
  }

  /** The named groups this channel is a member of. */
  groupNames(): string[] {
    return [...(this.#memberships ?? [])].flatMap((m) => (m.group === undefined ? [] : [m.group]));
  }

  /**
   * The session went to another process (a takeover): this channel closes with `'moved'`,
   * its connection here, if any, dropped quietly (the client is on its new one). Returns the
   * client messages it held for a handler: counted as received, they are delivered there.
   */
  movedAway(): Message[] {
    this.#wire?.detach?.();
    this.#wire = undefined;
    this.#finish('moved');
    return this.#handlers.takeHeld();
  }

  /** Messages waiting for a handler: what a POST may still add to is bounded by `maxHeldMessages`. */
  get heldCount(): number {
    return this.#handlers.heldCount;
  }

  /** Claims the channel for a group and remembers the membership; false if closed. */
  joined(membership: Membership): boolean {
    if (this.#state === State.Unclaimed) this.#claim({});
    if (this.#state === State.Closed) return false;
    (this.#memberships ??= new Set()).add(membership);
    return true;
  }

  left(membership: Membership): void {
    this.#memberships?.delete(membership);
    if (membership.log !== undefined) this.session?.left(membership.log);
  }

  /** Left out of a broadcast (its `except`). */
  skipped(message: LoggedMessage): void {
    this.session?.skipped(message);
  }

  /** Writes a broadcast's shared bytes; false if closed or dropped. */
  sendShared(message: LoggedMessage): boolean {
    if (this.#state !== State.Open) return false;
    if (this.session !== undefined) {
      this.#queueOnSession(this.session, message);
      countSent(this.#host.counters, message.byteLength);
      return true;
    }
    const wire = this.#wire;
    if (wire === undefined || !this.#admit(wire, message.byteLength)) return false;
    wire.writeShared(message);
    countSent(this.#host.counters, message.byteLength);
    if (this.#transport === 'http') this.#finish('server-close');
    return true;
  }

  /** One heartbeat period passed. */
  heartbeat(): void {
    const wire = this.#wire;
    if (this.#state !== State.Open || wire?.heartbeat() !== false) return;
    // A session's clock starts when its client was last heard, not when we noticed.
    if (this.session !== undefined) this.#disconnect(wire.silentFor ?? 0);
    else this.#finish('client-away');
  }

  /** Delivers a client message to the handlers (held while none listens); counts it. */
  accept(message: Message): void {
    this.#host.counters.received++;
    this.session?.countReceived(this.#wire);
    this.#handlers.receive(message);
    // Held past the bound: stop reading the socket (nothing is lost) until a handler listens.
    if (this.#handlers.heldCount >= this.#host.options.maxHeldMessages && !this.#readingPaused) {
      this.#readingPaused = true;
      this.#wire?.pauseReading(true);
    }
  }

  #sendOnWire(payload: Payload | undefined, fields: SendFields, closeAfter: boolean): boolean {
    const wire = this.#wire;
    const bytes = payloadBytes(payload);
    if (wire === undefined || !this.#admit(wire, bytes)) return false;
    wire.send(payload, fields, closeAfter);
    countSent(this.#host.counters, bytes);
    return true;
  }

  /**
   * A broadcast lost on its way here (groups/group.ts deliverLost): only a session can tell
   * its client. Numbered like the broadcast it stands for; the connection ends, and the
   * client, coming back, is told of the gap in its hello (a poll: by its next answer).
   */
  keepLost(message: LoggedMessage): boolean {
    if (this.#state !== State.Open || this.session === undefined) return false;
    this.session.keep(message, false);
    this.dropConnection();
    return true;
  }

  /** SessionOwner: ends the current connection as lost; the session waits for its client. */
  dropConnection(): void {
    const wire = this.#wire;
    if (wire === undefined || this.session === undefined) return;
    if (wire.answerNow !== undefined) return wire.answerNow(); // a held poll answers what precedes the gap
    // Ended after what it carries (a replay up to the gap): terminating would drop those bytes.
    this.#wire = undefined;
    wire.release?.();
    this.session.startAwayTimer();
  }

  #sendOnSession(payload: Payload | undefined, fields: SendFields): boolean {
    if (payload === undefined) return true;
    // Without a log of its own, the message is kept in the session's own log.
    const message = new LoggedMessage(payload, { event: fields.event });
    this.#queueOnSession(this.session as Session, message);
    countSent(this.#host.counters, message.byteLength);
    return true;
  }

  // A session message is numbered and kept until acknowledged, then written if a connection
  // is up. A connection too slow to take it is dropped: the client resumes from its last
  // acknowledgement and nothing is lost while the session buffer holds.
  #queueOnSession(session: Session, message: LoggedMessage): void {
    const wire = this.#wire;
    // Only a stream that numbers each message (a plain EventSource's id lines) asks its number.
    const seq = session.keep(message, wire?.numbered === true);
    if (wire === undefined) return;
    if (hasRoom(wire, message.byteLength, this.#host.options.maxBufferedBytes)) {
      wire.writeShared(message, seq);
      return;
    }
    if (debugEnabled) debug('session channel %s is a slow consumer: its connection is dropped, the session keeps the messages', tag(this));
    this.#host.counters.slowConsumers++;
    this.#disconnect();
  }

  #claim(head: Head): Wire | undefined {
    const context = this.#context as RequestContext;
    // A throw (an invalid header) leaves the channel unclaimed, its request still there.
    const wire = this.#host.openWire({ transport: this.#transport, context, sink: this, head, session: this.session?.wiring(0) });
    this.#context = undefined;
    if (typeof wire === 'string') {
      // Refused, and the client already answered (503, 403 or ws's 400): closed from the start.
      this.#state = State.Closed;
      this.#handlers.closed(wire);
      return undefined;
    }
    this.#wire = wire;
    this.#state = State.Open;
    if (debugEnabled) debug('claimed %s channel %s%s', this.#transport, tag(this), this.session === undefined ? '' : ' (session)');
    this.#host.channelOpened(this);
    this.session?.greet(wire, 0, true);
    return wire;
  }

  // The buffer policy of a plain channel: 'drop' skips the message, 'close' the channel.
  #admit(wire: Wire, bytes: number): boolean {
    const options = this.#host.options;
    if (hasRoom(wire, bytes, options.maxBufferedBytes)) return true;
    if (debugEnabled) debug('%s channel %s is a slow consumer (past maxBufferedBytes): bufferPolicy %s', this.#transport, tag(this), options.bufferPolicy);
    if (options.bufferPolicy === 'drop') {
      this.#host.counters.dropped++;
      return false;
    }
    this.#host.counters.slowConsumers++;
    this.#finish('slow-consumer');
    return false;
  }

  // A session lost its connection: forget the wire and wait sessionTimeout (less the time
  // the client has already been silent) for it to come back.
  #disconnect(silentFor = 0): void {
    const wire = this.#wire;
    this.#wire = undefined;
    wire?.detach?.();
    if (debugEnabled) debug('session channel %s lost its connection; it waits for its client', tag(this));
    this.session?.startAwayTimer(silentFor);
  }

  #finish(reason: CloseReason): void {
    this.#state = State.Closed;
    if (debugEnabled) debug('closed %s channel %s: %s', this.#transport, tag(this), reason);
    this.#host.counters.closes[reason]++;
    // Records the reason at once; the handlers themselves run on a later tick.
    this.#handlers.closed(reason);
    this.session?.stopAwayTimer();
    this.#wire?.end(reason);
    if (this.#memberships !== undefined) {
      for (const membership of this.#memberships) membership.leave(this);
      this.#memberships = undefined;
    }
    this.#host.channelClosed(this);
  }
}

function countSent(counters: Counters, bytes: number): void {
  counters.sent++;
  counters.sentBytes += bytes;
}
