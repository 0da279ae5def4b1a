import { payloadBytes } from '../channel/send-data.js';
import type { MessageLog } from '../sessions/message-log.js';
import { sseSessionEvent, webSocketMessageText } from '../protocol/frames.js';
import { eventForSse } from './sse.js';
import { frameForWebSocket } from './websocket.js';
import type { Payload, SendFields, SharedMessage } from './wire.js';

/**
 * One broadcast's bytes, built lazily and at most once per transport: the first WebSocket
 * member builds the frame, the first SSE member the event, and every other member reuses it.
 */
export class BroadcastMessage implements SharedMessage {
  readonly payload: Payload;
  readonly fields: SendFields;
  /** The payload's size in bytes, measured once: buffer accounting reads it for every member. */
  readonly byteLength: number;
  readonly log: MessageLog | undefined;
  position = -1;
  #webSocketFrame: Buffer[] | undefined;
  #sseEvent: Buffer | undefined;
  #sessionWebSocketFrame: Buffer[] | undefined;
  #sessionSseEvent: Buffer | undefined;

  /** `log`: where sessions keep it (a group's); without one, each session keeps its own copy. */
  constructor(payload: Payload, fields: SendFields, log?: MessageLog) {
    this.payload = payload;
    this.fields = fields;
    this.byteLength = payloadBytes(payload);
    this.log = log;
  }

  forWebSocket(): readonly Buffer[] {
    return (this.#webSocketFrame ??= frameForWebSocket(this.payload));
  }

  forSse(): Buffer {
    return (this.#sseEvent ??= eventForSse(this.payload, this.fields));
  }

  forSessionWebSocket(): readonly Buffer[] {
    const payload = this.payload;
    // Binary frames carry no type prefix on sessions: the same frame as for plain members.
    if (typeof payload !== 'string') return this.forWebSocket();
    return (this.#sessionWebSocketFrame ??= frameForWebSocket(webSocketMessageText(payload)));
  }

  forSessionSse(): Buffer {
    return (this.#sessionSseEvent ??= Buffer.from(sseSessionEvent(this.payload, this.fields)));
  }
}
