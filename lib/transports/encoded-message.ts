import { webSocketMessageText, webSocketNamedText } from '../protocol/frames.js';
import { namedJsonMessage } from './json-messages.js';
import { payloadBytes } from './payload.js';
import { sseSessionEvent } from './sse-session-events.js';
import { eventForSse } from './sse.js';
import { frameForWebSocket } from './websocket.js';
import type { EncodedMessage, Payload, SendFields } from './wire.js';

/**
 * One message's bytes, built lazily and at most once per transport: the first WebSocket
 * member of a broadcast builds the frame, the first SSE member the event, and every other
 * member reuses it.
 */
export class LazyEncodedMessage implements EncodedMessage {
  readonly payload: Payload;
  readonly fields: SendFields;
  /** The payload's size in bytes, measured once: buffer accounting reads it for every member. */
  readonly byteLength: number;
  #webSocketFrame: Buffer[] | undefined;
  #sseEvent: Buffer | undefined;
  #sessionWebSocketFrame: readonly Buffer[] | undefined;
  #sessionSseEvent: Buffer | undefined;

  constructor(payload: Payload, fields: SendFields) {
    this.payload = payload;
    this.fields = fields;
    this.byteLength = payloadBytes(payload);
  }

  forWebSocket(): readonly Buffer[] {
    return (this.#webSocketFrame ??= frameForWebSocket(this.payload));
  }

  forSse(): Buffer {
    return (this.#sseEvent ??= eventForSse(this.payload, this.fields));
  }

  // Called for every session member of a broadcast: the cached frame is the first thing read.
  forSessionWebSocket(): readonly Buffer[] {
    return (this.#sessionWebSocketFrame ??= this.#buildSessionWebSocketFrame());
  }

  #buildSessionWebSocketFrame(): readonly Buffer[] {
    const { payload, fields } = this;
    // A named message is an `e` frame (name and data as JSON); an unnamed binary frame carries
    // no type prefix on sessions, the same frame as for plain members.
    if (fields.event !== undefined) return frameForWebSocket(webSocketNamedText(namedJsonMessage(payload, fields.event)));
    if (typeof payload !== 'string') return this.forWebSocket();
    return frameForWebSocket(webSocketMessageText(payload));
  }

  forSessionSse(): Buffer {
    return (this.#sessionSseEvent ??= Buffer.from(sseSessionEvent(this.payload, this.fields)));
  }
}
