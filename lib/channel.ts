import { randomBytes } from 'node:crypto';
import { isCloseReason, type CloseReason } from './close-reasons.js';
import { ChannelError, invalidArgument } from './errors.js';
import type { ChannelHost, RequestContext } from './host.js';
import { normalizeSendData, payloadBytes, type SendData } from './message.js';
import type { TransportName } from './negotiate.js';
import { assertSseFields } from './sse-format.js';
import { HttpWire } from './transports/http.js';
import { SseWire } from './transports/sse.js';
import { acceptWebSocket } from './transports/websocket.js';
import type { Head, SharedMessage, Wire, WireSink } from './transports/wire.js';

/** A client message: a string for text, a Buffer for binary. */
export type Message = string | Buffer;
/** Called with each client message, in the order the client sent them. */
export type MessageHandler = (message: Message) => void;
/** Called once with the reason the channel closed. */
export type CloseHandler = (reason: CloseReason) => void;

/** Options of {@link Channel.send}. */
export interface SendOptions {
  /**
   * http-kit's close-after-send: close the channel once this message is written.
   * @defaultValue true on `'http'` (one send answers a long-poll), false elsewhere
   */
  close?: boolean;
  /** SSE `event:` field (the event's type). May not contain CR, LF or NUL. */
  event?: string;
  /** SSE `id:` field (the client's `Last-Event-ID`). May not contain CR, LF or NUL. */
  id?: string | number;
}

/** Something that keeps a channel as a member and must forget it when it closes. */
export interface Membership {
  delete(channel: Channel): boolean;
}

const enum State {
  Unclaimed,
  Open,
  Closed,
}

/**
 * One client connection, whatever carries it: http-kit's channel. Obtained as `req.channel`;
 * claimed (handshake done, headers written) on first use.
 */
export class Channel implements WireSink {
  /** Unguessable, unique per channel (128 random bits). */
  readonly id: string = randomBytes(16).toString('base64url');
  readonly #host: ChannelHost;
  readonly #context: RequestContext;
  readonly #transport: TransportName;
  #state: State = State.Unclaimed;
  #wire: Wire | undefined;
  #receivers: MessageHandler[] = [];
  #closers: CloseHandler[] = [];
  #held: Message[] = [];
  #readingPaused = false;
  #closeReason: CloseReason | undefined;
  #memberships: Set<Membership> | undefined;

  /** @internal Made by the middleware; use `req.channel`. */
  constructor(host: ChannelHost, context: RequestContext, transport: TransportName) {
    this.#host = host;
    this.#context = context;
    this.#transport = transport;
  }

  /** The transport carrying this channel, chosen from the request's headers. */
  get transport(): TransportName {
    return this.#transport;
  }

  /** http-kit's `open?`: false once the channel closed, whoever closed it. */
  get isOpen(): boolean {
    return this.#state !== State.Closed;
  }

  /** http-kit's `websocket?`. */
  get isWebSocket(): boolean {
    return this.#transport === 'websocket';
  }

  /** Why the channel closed, or undefined while it is open. */
  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
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
    const closeAfter = options.close ?? this.#transport === 'http';
    const wire = this.#wire ?? this.#claim(head);
    if (wire === undefined || !this.#admit(wire, payloadBytes(payload))) return false;
    wire.send(payload, options, closeAfter);
    this.#host.counters.sent++;
    if (closeAfter) this.#finish('server-close');
    return true;
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
    // then end of stream); a failed handshake leaves nothing to close.
    if (this.#wire === undefined && this.#claim({}) === undefined) return false;
    this.#finish(reason);
    return true;
  }

  /** Calls `handler` with each client message, in the order sent. Claims the channel. */
  onReceive(handler: MessageHandler): void {
    assertFunction('onReceive', handler);
    this.#receivers.push(handler);
    if (this.#state === State.Unclaimed) this.#claim({});
    if (this.#held.length > 0) process.nextTick(deliverHeld, this);
  }

  /**
   * Calls `handler` once, with the close reason, after the last message was delivered. A
   * handler registered after the close runs on the next tick with the recorded reason.
   */
  onClose(handler: CloseHandler): void {
    assertFunction('onClose', handler);
    if (this.#state === State.Unclaimed) this.#claim({});
    if (this.#state === State.Closed) process.nextTick(runCloseHandler, this, handler);
    else this.#closers.push(handler);
  }

  /** @internal A wire's peer sent a message. */
  received(message: Message): void {
    if (this.#state === State.Closed) return;
    this.#host.counters.received++;
    if (this.#receivers.length === 0 || this.#held.length > 0) {
      this.#held.push(message);
      if (this.#held.length >= this.#host.options.maxHeldMessages && !this.#readingPaused) {
        this.#readingPaused = true;
        this.#wire?.pauseReading(true);
      }
      return;
    }
    this.#deliver(message);
  }

  /** @internal A wire's connection ended by itself. */
  ended(reason: CloseReason): void {
    if (this.#state !== State.Closed) this.#finish(reason);
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
  }

  /** @internal Writes a broadcast's shared bytes; false if closed or dropped. */
  sendShared(message: SharedMessage): boolean {
    const wire = this.#wire;
    if (this.#state !== State.Open || wire === undefined) return false;
    if (!this.#admit(wire, payloadBytes(message.payload))) return false;
    wire.writeShared(message);
    this.#host.counters.sent++;
    if (this.#transport === 'http') this.#finish('server-close');
    return true;
  }

  /** @internal One heartbeat period passed. */
  heartbeat(): void {
    if (this.#state === State.Open && this.#wire?.heartbeat() === false) this.#finish('client-away');
  }

  /** @internal Delivers messages held while no handler was registered. */
  flushHeld(): void {
    if (this.#receivers.length === 0) return;
    const held = this.#held;
    this.#held = [];
    for (const message of held) this.#deliver(message);
    if (this.#readingPaused && this.#state !== State.Closed) {
      this.#readingPaused = false;
      this.#wire?.pauseReading(false);
    }
  }

  /** @internal */
  callCloseHandler(handler: CloseHandler): void {
    try {
      handler(this.#closeReason ?? 'unknown');
    } catch (error) {
      this.#host.reportError(error);
    }
  }

  /** @internal Runs the close handlers registered before the close. */
  runCloseHandlers(): void {
    const closers = this.#closers;
    this.#closers = [];
    for (const handler of closers) this.callCloseHandler(handler);
  }

  #deliver(message: Message): void {
    for (const receive of this.#receivers) {
      try {
        receive(message);
      } catch (error) {
        this.#host.reportError(error);
      }
    }
  }

  #claim(head: Head): Wire | undefined {
    const { req, res, upgrade } = this.#context;
    const host = this.#host;
    if (this.#transport !== 'websocket' && res.headersSent) {
      throw new ChannelError('ERR_CHANNEL_RESPONSE_SENT', `cannot claim the ${this.#transport} channel of ${req.method} ${req.url}: a response was already sent on it`);
    }
    let wire: Wire | undefined;
    if (this.#transport === 'websocket') {
      if (upgrade === undefined) {
        throw new ChannelError('ERR_CHANNEL_NOT_ATTACHED', 'a WebSocket upgrade reached the middleware through a plain request; call live.attach(server) after app.listen()');
      }
      upgrade.release();
      wire = acceptWebSocket(host.webSocketServer(), req, upgrade.socket, upgrade.head, this);
    } else if (this.#transport === 'sse') {
      wire = new SseWire(req, res, head, this, host.options.shutdownRetry);
    } else {
      wire = new HttpWire(req, res, head, this);
    }
    if (wire === undefined) {
      // ws already answered the bad handshake with a 400 and a reason.
      this.#state = State.Closed;
      this.#closeReason = 'protocol-error';
      return undefined;
    }
    this.#wire = wire;
    this.#state = State.Open;
    host.channelOpened(this);
    return wire;
  }

  #admit(wire: Wire, bytes: number): boolean {
    const buffered = wire.bufferedBytes;
    const { maxBufferedBytes, bufferPolicy } = this.#host.options;
    // A message larger than the limit still goes out to an idle channel.
    if (buffered === 0 || buffered + bytes <= maxBufferedBytes) return true;
    if (bufferPolicy === 'drop') {
      this.#host.counters.dropped++;
      return false;
    }
    this.#finish('slow-consumer');
    return false;
  }

  #finish(reason: CloseReason): void {
    this.#state = State.Closed;
    this.#closeReason = reason;
    this.#wire?.end(reason);
    if (this.#memberships !== undefined) {
      for (const membership of this.#memberships) membership.delete(this);
      this.#memberships = undefined;
    }
    this.#host.channelClosed(this);
    // process.nextTick is FIFO, so held messages already scheduled are delivered first.
    process.nextTick(runCloseHandlers, this);
  }
}

function deliverHeld(channel: Channel): void {
  channel.flushHeld();
}

function runCloseHandlers(channel: Channel): void {
  channel.runCloseHandlers();
}

function runCloseHandler(channel: Channel, handler: CloseHandler): void {
  channel.callCloseHandler(handler);
}

function assertFunction(method: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `${method}() takes a function, got ${value === null ? 'null' : typeof value}`);
  }
}
