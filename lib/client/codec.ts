// The session protocol's encodings (docs/protocol.md), pure so they are tested without sockets.
// No Node built-ins: base64 goes through atob/btoa, which browsers and Node 20 both have.
// The shapes both sides share are lib/protocol/'s; what is here is the client's reading of them.
import { parseJson, type ClientControl, type Hello as SessionHello, type JsonMessage } from '../protocol/control.js';
import { webSocketMessageText } from '../protocol/frames.js';
import { invalidArgument } from './errors.js';

/** A message as the application sees it: text, or bytes as an ArrayBuffer. */
export type Data = string | ArrayBuffer;
/** A message waiting to be sent: text, or a private copy of the caller's bytes. */
export type Outgoing = string | Uint8Array;

/**
 * What the server says first on every connection and in every poll answer: the protocol's
 * hello, with `heartbeat` and `sessionTimeout` optional. The client tolerates a hello
 * without them, and a poll session resumed by an empty POST opens from an answer that
 * carries neither (transports/poll.ts).
 */
export type Hello = Omit<SessionHello, 'heartbeat' | 'sessionTimeout'> & Partial<Pick<SessionHello, 'heartbeat' | 'sessionTimeout'>>;

/** A message as a transport hands it on: its data, and the name the server sent it with, if any. */
export interface Received {
  data: Data;
  name?: string | undefined;
}

/** A frame from the server, decoded. */
export type Frame =
  | ({ kind: 'message' } & Received)
  | { kind: 'hello'; hello: Hello }
  | { kind: 'ack'; received: number }
  | { kind: 'ignored' };

export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  // Chunks keep String.fromCharCode's argument list far below engines' limits.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function base64ToBuffer(text: string): ArrayBuffer {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Copies what `send` was given, so later changes by the caller do not reach the wire. */
export function toOutgoing(data: unknown): Outgoing {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const hint = typeof data === 'object' && data !== null ? 'send JSON.stringify(value)' : 'convert it with String(value)';
  throw invalidArgument('invalid-data', `send() takes a string, an ArrayBuffer or a Uint8Array, got ${data === null ? 'null' : typeof data}: ${hint}`);
}

export function toWire(message: Outgoing): JsonMessage {
  return typeof message === 'string' ? message : { base64: bytesToBase64(message) };
}

export function fromWire(message: unknown): Data | undefined {
  if (typeof message === 'string') return message;
  if (isRecord(message) && typeof message['base64'] === 'string') return base64ToBuffer(message['base64']);
  return undefined;
}

/** A message of a poll answer: text, `{ base64 }`, or a named one; undefined when malformed. */
export function receivedFromWire(message: unknown): Received | undefined {
  if (isRecord(message) && 'event' in message) return fromNamed(message);
  const data = fromWire(message);
  return data === undefined ? undefined : { data };
}

/** A named message, `{ event, data }` (text) or `{ event, base64 }` (bytes); undefined when malformed. */
export function fromNamed(value: unknown): Received | undefined {
  if (!isRecord(value) || typeof value['event'] !== 'string') return undefined;
  const data = typeof value['data'] === 'string' ? value['data'] : fromWire({ base64: value['base64'] });
  return data === undefined ? undefined : { data, name: value['event'] };
}

/** A WebSocket frame for a message: `m` + text, or the bytes as a binary frame. */
export function encodeFrame(message: Outgoing): string | Uint8Array {
  return typeof message === 'string' ? webSocketMessageText(message) : message;
}

/** The WebSocket control frame acknowledging server messages up to `seq`. */
export function ackFrame(seq: number): string {
  const ack: ClientControl = { type: 'ack', seq };
  return 'c' + JSON.stringify(ack);
}

/** A server frame: binary (a message), or text whose first character says what it is. */
export function decodeFrame(data: unknown): Frame | undefined {
  if (data instanceof ArrayBuffer) return { kind: 'message', data };
  if (ArrayBuffer.isView(data)) return { kind: 'message', data: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer };
  if (typeof data !== 'string') return undefined;
  if (data[0] === 'm') return { kind: 'message', data: data.slice(1) };
  const json = parseJson(data.slice(1));
  if (data[0] === 'e') {
    const named = fromNamed(json);
    return named && { kind: 'message', ...named };
  }
  return data[0] === 'c' ? decodeControl(json) : undefined;
}

/** A control frame's JSON: the hello, an acknowledgement, or one this client skips. */
function decodeControl(control: unknown): Frame | undefined {
  if (!isRecord(control)) return undefined;
  if (control['type'] === 'hello') {
    const hello = parseHello(control);
    return hello && { kind: 'hello', hello };
  }
  if (control['type'] === 'ack') {
    const received = control['received'];
    return isCount(received) ? { kind: 'ack', received } : undefined;
  }
  // Control types this client does not know are skipped: newer servers may add some.
  return { kind: 'ignored' };
}

/** Validates a hello (or the hello part of a poll answer); undefined if it is not one. */
export function parseHello(value: unknown): Hello | undefined {
  if (!isRecord(value)) return undefined;
  const { session, next, received, gap, heartbeat, sessionTimeout, secret } = value;
  if (typeof session !== 'string' || session === '' || !isCount(next) || next < 1 || !isCount(received)) return undefined;
  const hello: Hello = { session, next, received };
  if (isGap(gap)) hello.gap = [gap[0], gap[1]];
  if (isCount(heartbeat)) hello.heartbeat = heartbeat;
  if (isCount(sessionTimeout)) hello.sessionTimeout = sessionTimeout;
  if (typeof secret === 'string' && secret !== '') hello.secret = secret;
  return hello;
}

/** A gap as the hello gives it: `[first, last]`, inclusive. */
function isGap(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && isCount(value[0]) && isCount(value[1]) && value[0] <= value[1];
}

/** The count in an SSE `ec-ack` event's data: the server delivered the client's messages up to it. */
export function ackReceived(data: string): number | undefined {
  const body = parseJson(data);
  const received = isRecord(body) ? body['received'] : undefined;
  return isCount(received) ? received : undefined;
}

/** The reason in an SSE `ec-close` event's data. */
export function closeReason(data: string): string {
  const body = parseJson(data);
  const reason = isRecord(body) ? body['reason'] : undefined;
  return typeof reason === 'string' ? reason : 'server-close';
}

/** The sequence number in an SSE `id:` (`SESSION.SEQ`). */
export function seqFromEventId(id: string | undefined): number | undefined {
  if (id === undefined) return undefined;
  const seq = Number(id.slice(id.lastIndexOf('.') + 1));
  return isCount(seq) && seq > 0 ? seq : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Bytes a message takes in a JSON body, roughly: enough to keep POSTs under a size. */
export function wireSize(message: Outgoing): number {
  return typeof message === 'string' ? message.length + 2 : Math.ceil(message.length / 3) * 4 + 14;
}
