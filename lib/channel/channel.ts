import { invalidArgument } from '../errors.js';
import { isCloseReason, type CloseReason } from '../protocol/close-reasons.js';
import { assertNotReserved, assertSseFields } from '../transports/sse-format.js';
import type { TransportName } from '../transports/wire.js';
import type { ChannelCore } from './core.js';
import type { CloseHandler, MessageHandler } from './handlers.js';
import { assertKnownOptions } from './option-names.js';
import { normalizeSendData, type SendData } from './send-data.js';

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

const sendOptionNames = Object.keys({ close: true, event: true, id: true } satisfies Record<keyof SendOptions, true>);

// The two ways between a channel and the core behind it, for the library's own parts only:
// they are module functions, not members, so a user's code cannot reach the core.
let coreOfChannel: (channel: Channel) => ChannelCore;
let newChannel: (core: ChannelCore) => Channel;
// One channel in front of each core, made when first asked for (req.channel, a group's
// iterator): a channel nobody asked for costs nothing.
const channels = new WeakMap<ChannelCore, Channel>();

/**
 * One client connection, whatever carries it: http-kit's channel. Obtained as `req.channel`;
 * claimed (handshake done, headers written) on first use. A session channel (asked for by the
 * client library) outlives its connections: see docs/sessions.md.
 */
export class Channel {
  static {
    coreOfChannel = (channel) => channel.#core;
    newChannel = (core) => new Channel(core);
  }

  readonly #core: ChannelCore;

  private constructor(core: ChannelCore) {
    this.#core = core;
  }

  /** Unguessable, unique per channel (128 random bits); a session channel's session id. */
  get id(): string {
    return this.#core.id;
  }

  /** The transport carrying this channel now (a session may come back on another). */
  get transport(): TransportName {
    return this.#core.transport;
  }

  /** http-kit's `open?`: false once the channel closed, whoever closed it. */
  get isOpen(): boolean {
    return this.#core.isOpen;
  }

  /** http-kit's `websocket?`: true while a WebSocket carries the channel. */
  get isWebSocket(): boolean {
    return this.#core.transport === 'websocket';
  }

  /** True for a session channel, which survives reconnects (docs/sessions.md). */
  get isSession(): boolean {
    return this.#core.session !== undefined;
  }

  /**
   * True when this session was taken over from another process (docs/scaling.md,
   * "Takeover"): the route runs again for it there, with its named groups already joined and
   * its unacknowledged messages already on their way; it should register its handlers and
   * not greet the client again. False for every channel the route sees the first time.
   */
  get resumed(): boolean {
    return this.#core.resumed;
  }

  /** Why the channel closed, or undefined while it is open. */
  get closeReason(): CloseReason | undefined {
    return this.#core.closeReason;
  }

  /**
   * http-kit's `send!`. Writes (or queues) one message and returns true; returns false when
   * the channel is closed or the message was dropped by the `'drop'` buffer policy.
   * @param data - a string, bytes, or a response map `{ status?, headers?, body }`.
   * @param options - close-after-send, and SSE `event`/`id`.
   * @throws TypeError for data or fields that cannot be sent (nothing is written then).
   */
  send(data: SendData, options: SendOptions = {}): boolean {
    const core = this.#core;
    // Checked first, so that a bad call throws also when it races a disconnect.
    const normalized = normalizeSendData(data);
    if (normalized.payload === undefined && (core.transport === 'websocket' || core.transport === 'poll')) throw headOnly(core.transport);
    assertKnownOptions('send()', options, sendOptionNames);
    assertSseFields(options);
    if (!core.isOpen) return false;
    if (core.session !== undefined) assertNotReserved(options.event);
    return core.send(normalized, options, options.close ?? core.transport === 'http');
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
    return this.#core.close(reason);
  }

  /** Calls `handler` with each client message, in the order sent. Claims the channel. */
  onReceive(handler: MessageHandler): void {
    assertFunction('onReceive', handler);
    this.#core.onReceive(handler);
  }

  /**
   * Calls `handler` once, with the close reason, after the last message was delivered. A
   * handler registered after the close runs on the next tick with the recorded reason.
   */
  onClose(handler: CloseHandler): void {
    assertFunction('onClose', handler);
    this.#core.onClose(handler);
  }
}

/** The core behind `channel`: for the library's own parts (groups, sessions), never users. */
export function coreOf(channel: Channel): ChannelCore {
  if (!(channel instanceof Channel)) {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `expected a channel (req.channel), got ${channel === null ? 'null' : typeof channel}`);
  }
  return coreOfChannel(channel);
}

/** The channel in front of `core`, the one users hold. */
export function channelOf(core: ChannelCore): Channel {
  let channel = channels.get(core);
  if (channel === undefined) {
    channel = newChannel(core);
    channels.set(core, channel);
  }
  return channel;
}

function assertFunction(method: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `${method}() takes a function, got ${value === null ? 'null' : typeof value}`);
  }
}

// A response map without a body is a head: on a WebSocket or a poll there is no head to
// write, so it would send nothing and still return true.
function headOnly(transport: TransportName): TypeError {
  return invalidArgument('ERR_CHANNEL_INVALID_DATA', `send() of a response map without a body sends nothing on a ${transport} channel (status and headers apply to an HTTP or SSE response only): give it a body`);
}
