import type { CloseReason } from '../protocol/close-reasons.js';
import type { ClientControl, Hello, JsonMessage, NamedJsonMessage, ServerControl } from '../protocol/control.js';
import type { Payload } from './payload.js';

export type { Payload } from './payload.js';

/** The four ways a channel talks to its client. */
export type TransportName = 'websocket' | 'sse' | 'http' | 'poll';

/** Status and headers of an HTTP-based channel's response; used by its first send only. */
export interface Head {
  status?: number | undefined;
  headers?: Readonly<Record<string, string | number | readonly string[]>> | undefined;
}

/** Per-send fields: SSE's `event:`/`id:`; other transports ignore them. */
export interface SendFields {
  /** SSE `event:` field. */
  event?: string | undefined;
  /** SSE `id:` field. */
  id?: string | number | undefined;
}

/**
 * The bytes of one message, built at most once per transport however many channels receive
 * it. Wires call `forWebSocket()`/`forSse()`; the first call builds, the rest reuse.
 */
export interface EncodedMessage {
  readonly payload: Payload;
  readonly fields: SendFields;
  /** The payload's size in bytes. */
  readonly byteLength: number;
  forWebSocket(): readonly Buffer[];
  forSse(): Buffer;
  /** The frame for session WebSockets (text prefixed with `m`, docs/protocol.md). */
  forSessionWebSocket(): readonly Buffer[];
  /** The event for session SSE streams, without its per-channel `id:` line. */
  forSessionSse(): Buffer;
}

/** A poll answer (docs/protocol.md, "Polling"). */
export interface PollAnswer extends Hello {
  /** How long the server holds a poll while nothing waits (ms): the client's watchdog reads it. */
  pollTimeout?: number;
  messages: Array<JsonMessage | NamedJsonMessage>;
  /** Set when the channel closed: the client must not poll again (but see `retry`). */
  closed?: CloseReason;
  /** On `closed: 'shutdown'`: ms to wait before coming back (to another process), as SSE's `retry:`. */
  retry?: number;
}

/** Where a poll reads its answer from: the session, as of the poll's acknowledgement. */
export interface PollSource {
  pollAnswer(ack: number): PollAnswer;
}

/** What a session wire needs besides the request: the session id and where polls read. */
export interface SessionWiring {
  id: string;
  /** `SESSION.SECRET`: what a plain EventSource's `id:` lines start with (docs/protocol.md). */
  eventIdPrefix: string;
  ack: number;
  source: PollSource;
}

/** Where a wire reports what its peer did. The channel implements it. */
export interface WireSink {
  /** A client message arrived: a string for text, a Buffer for binary. */
  received(message: string | Buffer): void;
  /** The connection ended on its own (peer left, protocol error, dead peer). */
  ended(reason: CloseReason): void;
  /** A session client sent a control message (an acknowledgement). */
  control(control: ClientControl): void;
  /** A session wire is done (a poll was answered, a stream replaced) but the session goes on. */
  released(wire: Wire): void;
  /**
   * Something the library ran for this connection on its own (a timer, a socket event, a
   * scheduled answer) threw: reported to `live.on('error')`, and this channel alone closes.
   */
  failed(error: unknown): void;
}

/**
 * The property under which a wire keeps its channel's sink on the object it listens to (a ws
 * WebSocket, a ServerResponse), and `kWire` the wire itself where a listener needs it: the
 * listeners are then module-level functions bound once, reading `this[kSink]`, with no
 * closure per connection. One symbol per role for every transport.
 */
export const kSink = Symbol('express-channel.sink');
export const kWire = Symbol('express-channel.wire');

/** Where a detached (superseded) connection reports: nowhere. */
// Nothing a detached wire does reaches a channel, so nothing it does can fail one either.
export const detachedSink: WireSink = { received() {}, ended() {}, control() {}, released() {}, failed() {} };

/**
 * What a transport does, and nothing more: move bytes. The channel above it holds the
 * contract (ids, open/closed, handlers, ordering, buffer policy). A wire reports what the
 * peer does by calling the channel's internal `received`/`ended` methods.
 */
export interface Wire {
  readonly name: TransportName;
  /** Bytes written but not yet handed to the kernel. */
  readonly bufferedBytes: number;
  /**
   * Writes one message of a plain channel; with `closeAfter`, it is the last one (http-kit's
   * close-after-send). Session messages always go through `writeShared`, numbered.
   */
  send(payload: Payload | undefined, fields: SendFields, closeAfter: boolean): void;
  /** Writes a broadcast's shared bytes (with its sequence number on a session wire). */
  writeShared(message: EncodedMessage, seq?: number): void;
  /** True if every session message written needs its own sequence number: `seq` is then always given. */
  readonly numbered?: boolean;
  /** Writes out what this tick's cork holds; true if there was a cork to lift. */
  flush?(): boolean;
  /** HTTP: a send's status and headers, used if the response has not started yet. */
  applyHead?(head: Head): void;
  /**
   * A wire that answers from the session's buffer (a poll): answer now with what it holds,
   * instead of waiting for a message or the poll timeout.
   */
  answerNow?(): void;
  /** Session wires: writes a control message (hello, ack). */
  sendControl?(control: ServerControl): void;
  /** Session wires: stop reporting to the sink and end the connection quietly (superseded). */
  detach?(): void;
  /**
   * Session stream wires: stop reporting to the sink and end the connection after what was
   * written to it, as a lost connection the client comes back from (unlike detach, which
   * drops what is still buffered).
   */
  release?(): void;
  /** Milliseconds since the peer was last heard from, where the wire knows. */
  readonly silentFor?: number;
  /** One heartbeat period passed: ping, or report a dead peer by returning false. */
  heartbeat(): boolean;
  /** Stops reading the peer's messages (true) or starts again (false). */
  pauseReading(paused: boolean): void;
  /** Ends the connection because the channel closed for `reason`. Never calls back. */
  end(reason: CloseReason): void;
}
