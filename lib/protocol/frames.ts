// Session WebSocket frames (docs/protocol.md, "WebSocket"): text frames carry a one-character
// type, binary frames are messages. Pure: no Node built-ins.
import { isClientAck, parseJson, type ClientControl, type NamedJsonMessage, type ServerControl } from './control.js';

/** The text a session WebSocket sends for a text message. */
export function webSocketMessageText(text: string): string {
  return 'm' + text;
}

/** The text a session WebSocket sends for a named message: `e` and the message as JSON. */
export function webSocketNamedText(message: NamedJsonMessage): string {
  return 'e' + JSON.stringify(message);
}

/** The text of a control frame. */
export function webSocketControlText(control: ServerControl): string {
  return 'c' + JSON.stringify(control);
}

/**
 * The beat a session WebSocket sends every heartbeat, beside its ping: a browser cannot see
 * ping frames, so this is what tells its client the connection is alive. A control frame with
 * no type: the cheapest one every client already skips (docs/protocol.md, "WebSocket").
 */
export const webSocketBeatText = 'c{}';

/** Reads a client's text frame on a session WebSocket. */
export function parseClientText(text: string): { message: string } | { control: ClientControl } | { error: string } {
  if (text.startsWith('m')) return { message: text.slice(1) };
  if (!text.startsWith('c')) return { error: 'a session text frame must start with "m" or "c"' };
  const control = parseJson(text.slice(1));
  if (isClientAck(control)) return { control };
  return { error: 'unknown control frame' };
}

/**
 * The `id:` line of a session SSE event, `SESSION.SECRET.SEQ`: what a plain EventSource sends
 * back in its Last-Event-ID header to resume (a header, so the secret stays out of URLs).
 */
export function sseIdLine(prefix: string, seq: number): string {
  return `id: ${prefix}.${seq}\n`;
}
