import { isCloseReason, type CloseReason } from '../protocol/close-reasons.js';
import { invalidArgument } from '../errors.js';
import { hasRoom } from './flow-control.js';
import { ChannelHandlers, type CloseHandler, type HandlerOwner, type Message, type MessageHandler } from './handlers.js';
import type { ChannelHost, RequestContext } from './host.js';
import { newChannelId } from './ids.js';
import { normalizeSendData, type SendData } from './send-data.js';
import { payloadBytes } from '../transports/payload.js';
import { LoggedMessage, type MessageLog } from '../sessions/message-log.js';
import { SessionLink } from '../sessions/session.js';
import { assertNotReserved, assertSseFields } from '../transports/sse-format.js';
import type { ClientControl } from '../protocol/control.js';
import type { Head, Payload, SendFields, TransportName, Wire, WireSink } from '../transports/wire.js';
import { createWire } from '../http/claim.js';

export type { CloseHandler, Message, MessageHandler } from './handlers.js';

/** Options of {@link Channel.send}. */
export interface SendOptions {
  /**
   * http-kit's close-after-send: close the channel once this message is written.
   * @defaultValue true on `'http'` (one send answers a long-poll), false elsewhere
   */
  close?: boolean;
  /** SSE `event:` field (the event's type). May not contain CR, LF or NUL. */
  event?: string;
  /** SSE `id:` field (the client's `Last-Event-ID`). Ignored on sessions, which number events themselves. */
  id?: string | number;
}

/** What became of a POST of client messages (docs/protocol.md, "Sending"). */
export interface PostOutcome {
  received: number;
  outcome: 'ok' | 'out-of-order' | 'closed' | 'busy';
}

/** Something that keeps a channel as a member and must forget it when it closes. */
export interface Membership {
  delete(channel: Channel): boolean;
  /** @internal Where the group keeps its broadcasts for session members. */
  readonly log?: MessageLog;
}

const enum State {
  Unclaimed,
  Open,
  Closed,
}

/**
 * One client connection, whatever carries it: http-kit's channel. Obtained as `req.channel`;
 * claimed (handshake done, headers written) on first use. A session channel (asked for by the
 * client library) outlives its connections: see docs/sessions.md.
 */
export class Channel implements WireSink, HandlerOwner {
  /** Unguessable, unique per channel (128 random bits); a session channel's session id. */
  readonly id: string = newChannelId();
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
  readonly #session: SessionLink | undefined;
  // The log whose broadcasts this session takes without calling into its buffer (see
  // SessionBuffer, "implicit"): checked for every member of every broadcast, so it lives on
  // the channel, which the broadcast reads anyway, rather than one object further.
  #sessionLog: MessageLog | undefined;

  /** @internal Made by the middleware; use `req.channel`. */
  constructor(host: ChannelHost, context: RequestContext, transport: TransportName, session: boolean) {
    this.#host = host;
    this.#context = context;
    this.#transport = transport;
    if (session) this.#session = new SessionLink(this, host.options);
  }

  /** The transport carrying this channel now (a session may come back on another). */
  get transport(): TransportName {
    return this.#transport;
  }

  /** http-kit's `open?`: false once the channel closed, whoever closed it. */
  get isOpen(): boolean {
    return this.#state !== State.Closed;
  }

  /** http-kit's `websocket?`: true while a WebSocket carries the channel. */
  get isWebSocket(): boolean {
    return this.#transport === 'websocket';
  }

  /** True for a session channel, which survives reconnects (docs/sessions.md). */
  get isSession(): boolean {
    return this.#session !== undefined;
  }

  /** Why the channel closed, or undefined while it is open. */
  get closeReason(): CloseReason | undefined {
    return this.#handlers.closeReason;
  }

  /**
   * http-kit's `send!`. Writes (or queues) one message and returns true; returns false when
   * the channel is closed or the message was dropped by the `'drop'` buffer policy.
   * @param data - a string, bytes, or a response map `{ status?, headers?, body }`.
   * @param options - close-after-send, and SSE `event`/`id`.
   * @throws TypeError for data or fields that cannot be sent (nothing is written then).
   */
  send(data: SendData, options: SendOptions = {}): boolean {
    if (this.#state === State.Closed) return false;
    const { head, payload } = normalizeSendData(data);
    assertSseFields(options);
    if (this.#session !== undefined) assertNotReserved(options.event);
    const closeAfter = options.close ?? this.#transport === 'http';
    if (this.#state === State.Unclaimed) {
      if (this.#claim(head) === undefined) return false;
    } else {
      this.#wire?.applyHead?.(head); // http-kit: claimed by onClose, answered by a later send
    }
    const sent = this.#session !== undefined ? this.#sendOnSession(payload, options) : this.#sendOnWire(payload, options, closeAfter);
    if (sent && closeAfter && this.#state === State.Open) this.#finish('server-close');
    return sent;
  }

  /**
   * Closes the channel. Idempotent: returns true only for the call that actually closed it.
   * @param reason - reported to `onClose` handlers; the WebSocket close code follows from it.
   * @defaultValue reason `'server-close'`
   */
  close(reason: CloseReason = 'server-close'): boolean {
    if (!isCloseReason(reason)) {
      throw invalidArgument('ERR_CHANNEL_INVALID_REASON', `close() takes one of the documented close reasons, got ${JSON.stringify(reason)}`);
    }
    if (this.#state === State.Closed) return false;
    // Claim first so the client gets a proper close (handshake then close frame, headers
    // then end of stream); a refused handshake leaves nothing to close.
    if (this.#state === State.Unclaimed && this.#claim({}) === undefined) return false;
    this.#finish(reason);
    return true;
  }

  /** Calls `handler` with each client message, in the order sent. Claims the channel. */
  onReceive(handler: MessageHandler): void {
    assertFunction('onReceive', handler);
    this.#handlers.addReceiver(handler);
    if (this.#state === State.Unclaimed) this.#claim({});
  }

  /**
   * Calls `handler` once, with the close reason, after the last message was delivered. A
   * handler registered after the close runs on the next tick with the recorded reason.
   */
  onClose(handler: CloseHandler): void {
    assertFunction('onClose', handler);
    if (this.#state === State.Unclaimed) this.#claim({});
    this.#handlers.addCloser(handler);
  }

  /** @internal A wire's peer sent a message. */
  received(message: Message): void {
    if (this.#state === State.Closed) return;
    // A session WebSocket's frames are numbered from the hello's `received`: one a POST in
    // flight already delivered is skipped, so each client message arrives once.
    if (this.#session?.isRepeatedFrame() === true) {
      this.#session.scheduleAck(this.#wire); // so the client can let it go
      return;
    }
    this.#accept(message);
  }

  #accept(message: Message): void {
    this.#host.counters.received++;
    this.#session?.countReceived(this.#wire);
    this.#handlers.receive(message);
    // Held past the bound: stop reading the socket (nothing is lost) until a handler listens.
    if (this.#handlers.heldCount >= this.#host.options.maxHeldMessages && !this.#readingPaused) {
      this.#readingPaused = true;
      this.#wire?.pauseReading(true);
    }
  }

  /** @internal Held messages were delivered. */
  heldDrained(): void {
    if (!this.#readingPaused || this.#state === State.Closed) return;
    this.#readingPaused = false;
    this.#wire?.pauseReading(false);
  }

  /** @internal */
  reportError(error: unknown): void {
    this.#host.reportError(error);
  }

  /**
   * @internal Something the library ran for this channel on its own (a timer, a socket
   * event, a scheduled poll answer) threw. No client may take the process down: the error
   * goes to `live.on('error')` and this channel alone closes with 'internal-server-error'.
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

  /** @internal A wire's connection ended by itself. */
  ended(reason: CloseReason): void {
    if (this.#state === State.Closed) return;
    if (this.#session !== undefined && !SessionLink.endsSession(reason)) this.#disconnect();
    else this.#finish(reason);
  }

  /** @internal A session client acknowledged messages. */
  control(control: ClientControl): void {
    this.#session?.acknowledge(control.seq);
  }

  /** @internal A session wire is done (a poll answered); the session waits for the next. */
  released(wire: Wire): void {
    if (wire === this.#wire) this.#disconnect();
  }

  /** @internal The session's client came back on a new request: carry on there. */
  resume(context: RequestContext, transport: TransportName, ack: number): void {
    const session = this.#session;
    if (session === undefined || this.#state !== State.Open) return;
    // The new connection first: a refused one (403, bad handshake) leaves the session as it
    // was, its current connection up or its away timer running.
    const wire = createWire(transport, context, this.#host, this, {}, session.wiring(ack));
    if (typeof wire === 'string') return;
    const previous = this.#wire;
    this.#wire = undefined;
    previous?.detach?.();
    session.stopAwayTimer();
    session.acknowledge(ack);
    if (this.#readingPaused) wire.pauseReading(true); // held messages still wait for a handler
    this.#transport = transport;
    this.#wire = wire;
    session.greet(wire, ack, false);
  }

  /** @internal Client messages POSTed to a session, the first numbered `first`. */
  receivePosted(first: number, messages: readonly Payload[]): PostOutcome {
    const session = this.#session;
    if (session === undefined || this.#state === State.Closed) return { received: 0, outcome: 'closed' };
    if (first > session.received + 1) return { received: session.received, outcome: 'out-of-order' };
    const limit = this.#host.options.maxHeldMessages;
    // Skip what an earlier (retried) POST already delivered; take no more than the handler
    // can be holding for (a client POSTing to a route that never listens is told to wait).
    for (const message of messages.slice(session.received + 1 - first)) {
      if (!this.isOpen || this.#handlers.heldCount >= limit) break;
      this.#accept(message);
    }
    const accepted = session.received >= first;
    if (!accepted && this.#handlers.heldCount >= limit && first === session.received + 1) return { received: session.received, outcome: 'busy' };
    return { received: session.received, outcome: 'ok' };
  }

  /** @internal */
  get session(): SessionLink | undefined {
    return this.#session;
  }

  /** @internal Claims the channel for a group and remembers the membership. */
  joined(membership: Membership): boolean {
    if (this.#state === State.Unclaimed) this.#claim({});
    if (this.#state === State.Closed) return false;
    (this.#memberships ??= new Set()).add(membership);
    return true;
  }

  /** @internal */
  left(membership: Membership): void {
    this.#memberships?.delete(membership);
    if (membership.log !== undefined && membership.log === this.#sessionLog) {
      this.#session?.left(membership.log);
      this.#sessionLog = undefined;
    }
  }

  /** @internal Left out of a broadcast (its `except`). */
  skipped(message: LoggedMessage): void {
    if (message.log === undefined || message.log !== this.#sessionLog) return;
    this.#session?.skipped(message);
    this.#sessionLog = undefined;
  }

  /** @internal Writes a broadcast's shared bytes; false if closed or dropped. */
  sendShared(message: LoggedMessage): boolean {
    if (this.#state !== State.Open) return false;
    if (this.#session !== undefined) {
      this.#queueOnSession(message);
      this.#host.counters.sent++;
      return true;
    }
    const wire = this.#wire;
    if (wire === undefined || !this.#admit(wire, message.byteLength)) return false;
    wire.writeShared(message);
    this.#host.counters.sent++;
    if (this.#transport === 'http') this.#finish('server-close');
    return true;
  }

  /** @internal One heartbeat period passed. */
  heartbeat(): void {
    const wire = this.#wire;
    if (this.#state !== State.Open || wire?.heartbeat() !== false) return;
    // A session's clock starts when its client was last heard, not when we noticed.
    if (this.#session !== undefined) this.#disconnect(wire.silentFor ?? 0);
    else this.#finish('client-away');
  }

  #sendOnWire(payload: Payload | undefined, fields: SendFields, closeAfter: boolean): boolean {
    const wire = this.#wire;
    if (wire === undefined || !this.#admit(wire, payloadBytes(payload))) return false;
    wire.send(payload, fields, closeAfter);
    this.#host.counters.sent++;
    return true;
  }

  #sendOnSession(payload: Payload | undefined, fields: SendFields): boolean {
    if (payload === undefined) return true;
    // Without a log of its own, the message is kept in the session's own log.
    this.#queueOnSession(new LoggedMessage(payload, { event: fields.event }));
    this.#host.counters.sent++;
    return true;
  }

  // A session message is numbered and kept until acknowledged, then written if a connection
  // is up. A connection too slow to take it is dropped: the client resumes from its last
  // acknowledgement and nothing is lost while the session buffer holds.
  #queueOnSession(message: LoggedMessage): void {
    const wire = this.#wire;
    const log = message.log;
    let seq: number | undefined;
    if (log !== undefined && log === this.#sessionLog) {
      // The common case: the next broadcast of the group this session follows. Its buffer
      // counts it without being called; the message only needs its place in the log. Only a
      // stream that numbers each message (a plain EventSource's id lines) asks its number.
      if (message.position < 0) log.positionOf(message);
      if (wire?.numbered === true) seq = (this.#session as SessionLink).nextSeq - 1;
    } else {
      const session = this.#session as SessionLink;
      seq = session.append(message);
      this.#sessionLog = session.implicitLog;
    }
    if (wire === undefined) return;
    if (hasRoom(wire, message.byteLength, this.#host.options.maxBufferedBytes)) wire.writeShared(message, seq);
    else this.#disconnect();
  }

  #claim(head: Head): Wire | undefined {
    const session = this.#session;
    const context = this.#context as RequestContext;
    // A throw (an invalid header) leaves the channel unclaimed, its request still there.
    const wire = createWire(this.#transport, context, this.#host, this, head, session?.wiring(0));
    this.#context = undefined;
    if (typeof wire === 'string') {
      // Refused, and the client already answered (503, 403 or ws's 400): closed from the start.
      this.#state = State.Closed;
      this.#handlers.closed(wire);
      return undefined;
    }
    this.#wire = wire;
    this.#state = State.Open;
    this.#host.channelOpened(this);
    session?.greet(wire, 0, true);
    return wire;
  }

  // The buffer policy of a plain channel: 'drop' skips the message, 'close' the channel.
  #admit(wire: Wire, bytes: number): boolean {
    const options = this.#host.options;
    if (hasRoom(wire, bytes, options.maxBufferedBytes)) return true;
    if (options.bufferPolicy === 'drop') this.#host.counters.dropped++;
    else this.#finish('slow-consumer');
    return false;
  }

  // A session lost its connection: forget the wire and wait sessionTimeout (less the time
  // the client has already been silent) for it to come back.
  #disconnect(silentFor = 0): void {
    const wire = this.#wire;
    this.#wire = undefined;
    wire?.detach?.();
    this.#session?.startAwayTimer(silentFor);
  }

  #finish(reason: CloseReason): void {
    this.#state = State.Closed;
    this.#sessionLog = undefined; // a closed channel the application still holds keeps no log
    // Records the reason at once; the handlers themselves run on a later tick.
    this.#handlers.closed(reason);
    this.#session?.stopAwayTimer();
    this.#wire?.end(reason);
    if (this.#memberships !== undefined) {
      for (const membership of this.#memberships) membership.delete(this);
      this.#memberships = undefined;
    }
    this.#host.channelClosed(this);
  }
}

function assertFunction(method: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `${method}() takes a function, got ${value === null ? 'null' : typeof value}`);
  }
}
