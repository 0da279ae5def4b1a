// The session protocol's messages (docs/protocol.md): what the server says first on every
// connection, and the control messages both sides exchange. Pure: no Node built-ins, so the
// server and the client read one definition.

/** What a client is told when it (re)connects: docs/protocol.md, "The hello". */
export interface Hello {
  session: string;
  next: number;
  received: number;
  heartbeat: number;
  sessionTimeout: number;
  gap?: [number, number];
  /** Only in a session's first hello: the secret that proves later requests are its client's. */
  secret?: string;
}

/** Control messages from the server: the hello, an acknowledgement of client messages, a close. */
export type ServerControl = ({ type: 'hello' } & Hello) | { type: 'ack'; received: number } | { type: 'close'; reason: string };

/** The one control message from a client: it has every server message up to `seq`. */
export type ClientControl = { type: 'ack'; seq: number };

/** A message as JSON carries it in poll answers and POST bodies: text, or bytes in base64. */
export type JsonMessage = string | { base64: string };

/**
 * A message the server sent with an event name (`send(x, { event })`), where the name has no
 * field of its own to travel in (a WebSocket `e` frame, a poll answer, a named `ec-binary`
 * event): the name, and text as `data` or bytes as `base64`.
 */
export type NamedJsonMessage = { event: string; data: string } | { event: string; base64: string };

/** True for a well-formed client acknowledgement. */
export function isClientAck(value: unknown): value is ClientControl {
  const v = value as { type?: unknown; seq?: unknown } | null;
  return typeof v === 'object' && v !== null && v.type === 'ack' && Number.isSafeInteger(v.seq) && (v.seq as number) >= 0;
}

/** Parses JSON, or returns undefined: malformed input is reported by the caller. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
