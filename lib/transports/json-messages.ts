import { parseJson, type JsonMessage, type NamedJsonMessage } from '../protocol/control.js';
import type { Payload } from './wire.js';

/** A message as a poll answer carries it: text as is, bytes in base64; with its name, if it has one. */
export function toJsonMessage(payload: Payload, event?: string): JsonMessage | NamedJsonMessage {
  if (event !== undefined) return namedJsonMessage(payload, event);
  return typeof payload === 'string' ? payload : { base64: payload.toString('base64') };
}

/** A named message as JSON: `{ event, data }` for text, `{ event, base64 }` for bytes. */
export function namedJsonMessage(payload: Payload, event: string): NamedJsonMessage {
  return typeof payload === 'string' ? { event, data: payload } : { event, base64: payload.toString('base64') };
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

function isBase64Message(value: unknown): value is { base64: string } {
  const v = value as { base64?: unknown } | null;
  return typeof v === 'object' && v !== null && typeof v.base64 === 'string';
}
