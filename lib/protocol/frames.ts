import type { Hello } from '../sessions/replay-buffer.js';
import type { Payload, SendFields } from '../transports/wire.js';
import { formatSseEvent } from '../transports/sse-format.js';

/** Control messages (docs/protocol.md): server → client hello/ack, client → server ack. */
export type ServerControl = ({ type: 'hello' } & Hello) | { type: 'ack'; received: number } | { type: 'close'; reason: string };
export type ClientControl = { type: 'ack'; seq: number };

/** A message as JSON carries it in poll answers and POST bodies. */
export type JsonMessage = string | { base64: string };

// --- WebSocket: text frames carry a one-character type; binary frames are messages. ---

/** The text a session WebSocket sends for a text message. */
export function webSocketMessageText(text: string): string {
  return 'm' + text;
}

/** The text of a control frame. */
export function webSocketControlText(control: ServerControl): string {
  return 'c' + JSON.stringify(control);
}

/** Reads a client's text frame on a session WebSocket. */
export function parseClientText(text: string): { message: string } | { control: ClientControl } | { error: string } {
  if (text.startsWith('m')) return { message: text.slice(1) };
  if (!text.startsWith('c')) return { error: 'a session text frame must start with "m" or "c"' };
  const control = parseJson(text.slice(1));
  if (isClientAck(control)) return { control };
  return { error: 'unknown control frame' };
}

// --- SSE ---

/** The `id:` line of a session event: session id and sequence number, for Last-Event-ID. */
export function sseIdLine(sessionId: string, seq: number): string {
  return `id: ${sessionId}.${seq}\n`;
}

/** A session event's bytes after its `id:` line (binary as base64 under `ec-binary`). */
export function sseSessionEvent(payload: Payload, fields: SendFields): string {
  if (typeof payload === 'string') return formatSseEvent(payload, { event: fields.event });
  return formatSseEvent(payload.toString('base64'), { event: 'ec-binary' });
}

/** A control event: `ec-hello` or `ec-ack`, never with an `id:` (Last-Event-ID is unaffected). */
export function sseControlEvent(control: ServerControl): string {
  const { type, ...data } = control;
  return formatSseEvent(JSON.stringify(data), { event: `ec-${type}` });
}

// --- JSON bodies (poll answers, POSTs) ---

export function toJsonMessage(payload: Payload): JsonMessage {
  return typeof payload === 'string' ? payload : { base64: payload.toString('base64') };
}

/** Reads a POST body: a JSON array of messages. Returns an error sentence when malformed. */
export function parseMessageList(body: string): Payload[] | { error: string } {
  const parsed = parseJson(body);
  if (!Array.isArray(parsed)) return { error: 'the body must be a JSON array of messages' };
  const messages: Payload[] = [];
  for (const item of parsed) {
    if (typeof item === 'string') messages.push(item);
    else if (isBase64Message(item)) messages.push(Buffer.from(item.base64, 'base64'));
    else return { error: 'each message must be a string or {"base64": "..."}' };
  }
  return messages;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // malformed JSON is reported by the caller as a bad request
  }
}

function isClientAck(value: unknown): value is ClientControl {
  const v = value as { type?: unknown; seq?: unknown } | null;
  return typeof v === 'object' && v !== null && v.type === 'ack' && Number.isSafeInteger(v.seq) && (v.seq as number) >= 0;
}

function isBase64Message(value: unknown): value is { base64: string } {
  const v = value as { base64?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.base64 === 'string';
}
