// The events a Connection dispatches. Plain Event subclasses, so they work with
// addEventListener in browsers and in Node (which has EventTarget and Event globally).
import type { Data } from './codec.js';
import type { ClientError } from './errors.js';

/** The transports the client can use, in the default order of preference. */
export type TransportName = 'websocket' | 'sse' | 'poll';

/** `open`: the connection (re)opened; fired after every successful connect or resume. */
export class OpenEvent extends Event {
  /** false on the first open of a session, true on every resume of it. */
  readonly resumed: boolean;
  /** The transport that opened. */
  readonly transport: TransportName;
  constructor(transport: TransportName, resumed: boolean) {
    super('open');
    this.transport = transport;
    this.resumed = resumed;
  }
}

/**
 * `message`: a message from the server, delivered once and in order. A message the server
 * named (`send(x, { event: 'chat' })`) comes as `message` with `name: 'chat'`, and also as an
 * event of type `'chat'`, for `addEventListener('chat', …)` as on an EventSource.
 */
export class ChannelMessageEvent extends Event {
  /** Text as a string; binary as an ArrayBuffer (on every transport). */
  readonly data: Data;
  /** The server's sequence number of this message in the session (1, 2, 3…). */
  readonly seq: number;
  /** The event name the server sent it with, or undefined for an unnamed message. */
  readonly name: string | undefined;
  // eslint-disable-next-line max-params -- public constructor (exported): MessageEvent's data, then seq and name, then the type it is dispatched as
  constructor(data: Data, seq: number, name?: string, type = 'message') {
    super(type);
    this.data = data;
    this.seq = seq;
    this.name = name;
  }
}

/** `close`: the connection is closed for good and will not reconnect. */
export class ChannelCloseEvent extends Event {
  /** 1000 after close(); the server's code (4404, 4403…) or 4000 (reconnect-failed) otherwise. */
  readonly code: number;
  /** `'client-close'`, `'unknown-session'`, `'resume-refused'` or `'reconnect-failed'`. */
  readonly reason: string;
  /** true when close() ended it. */
  readonly wasClean: boolean;
  /** true when the server said the session no longer exists (expired, closed or unknown). */
  readonly sessionGone: boolean;
  // eslint-disable-next-line max-params -- public constructor (exported): mirrors the DOM's CloseEvent fields (code, reason, wasClean), then sessionGone
  constructor(code: number, reason: string, wasClean: boolean, sessionGone: boolean) {
    super('close');
    this.code = code;
    this.reason = reason;
    this.wasClean = wasClean;
    this.sessionGone = sessionGone;
  }
}

/** `error`: a transport failed to open, a connection was lost, or a POST failed. */
export class ChannelErrorEvent extends Event {
  /** What failed, with a stable `code`. */
  readonly error: ClientError;
  /** The transport that failed. */
  readonly transport: TransportName | undefined;
  constructor(error: ClientError, transport: TransportName | undefined) {
    super('error');
    this.error = error;
    this.transport = transport;
  }
}

/** `reconnecting`: every transport failed or the connection was lost; the next round starts after `delay`. */
export class ReconnectingEvent extends Event {
  /** 1 for the first round after a loss, then 2, 3… (reset when a connection opens). */
  readonly attempt: number;
  /** Milliseconds until the round starts. */
  readonly delay: number;
  constructor(attempt: number, delay: number) {
    super('reconnecting');
    this.attempt = attempt;
    this.delay = delay;
  }
}

/** `transport`: the transport in use changed (also fired on the first open). */
export class TransportEvent extends Event {
  /** The transport now in use. */
  readonly transport: TransportName;
  /** The transport used before, or undefined on the first open. */
  readonly previous: TransportName | undefined;
  constructor(transport: TransportName, previous: TransportName | undefined) {
    super('transport');
    this.transport = transport;
    this.previous = previous;
  }
}

/** `gap`: the server no longer had these messages when the client came back; they are lost. */
export class GapEvent extends Event {
  /** First lost sequence number. */
  readonly first: number;
  /** Last lost sequence number (inclusive). */
  readonly last: number;
  constructor(first: number, last: number) {
    super('gap');
    this.first = first;
    this.last = last;
  }
}

/** Event types of a Connection and the event object each one carries. */
export interface ConnectionEventMap {
  /** The connection (re)opened. */
  open: OpenEvent;
  /** A message from the server. */
  message: ChannelMessageEvent;
  /** Closed for good. */
  close: ChannelCloseEvent;
  /** Something failed; the connection may recover. */
  error: ChannelErrorEvent;
  /** A round of reconnect attempts is scheduled. */
  reconnecting: ReconnectingEvent;
  /** The transport in use changed. */
  transport: TransportEvent;
  /** Messages were lost while away. */
  gap: GapEvent;
}
