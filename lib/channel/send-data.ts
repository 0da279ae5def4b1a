import { invalidArgument } from '../errors.js';
import { unknownKey } from './option-names.js';
import { toPayload, type Payload } from '../transports/payload.js';
import type { Head } from '../transports/wire.js';

/** What `send` accepts: a body, or http-kit's response map. */
export type SendData = string | Buffer | Uint8Array | ResponseMap;

/**
 * http-kit's response map. `status` and `headers` apply to the first send of an `'http'` or
 * `'sse'` channel only; they are dropped on WebSocket and on every later send.
 */
export interface ResponseMap {
  /** The status of an HTTP-based channel's response (its first send only). @defaultValue 200 */
  status?: number;
  /** Headers of an HTTP-based channel's response (its first send only). */
  headers?: Readonly<Record<string, string | number | readonly string[]>>;
  /** The message itself. */
  body?: string | Buffer | Uint8Array;
}

/** A send, split into what the head needs and what the wire writes. */
export interface NormalizedSend {
  head: Head;
  payload: Payload | undefined;
}

const responseMapKeys = ['status', 'headers', 'body'];

/** Checks and normalizes `send`'s argument; throws a TypeError a caller can act on. */
export function normalizeSendData(data: SendData): NormalizedSend {
  if (typeof data === 'string' || data instanceof Uint8Array) return { head: {}, payload: toPayload(data) };
  if (!isResponseMap(data)) throw unsendable('send', data);
  const { status, headers, body } = data;
  assertStatus(status);
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) throw unsendable('send', body);
  return { head: { status, headers }, payload: body === undefined ? undefined : toPayload(body) };
}

// A response map is a plain object with no key but status, headers and body. Any other object
// (`{ type: 'chat' }`, an array, a Date) is a message the caller meant to send as JSON: taken
// as a map it would send nothing and still return true.
function isResponseMap(data: unknown): data is ResponseMap {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  const prototype: unknown = Object.getPrototypeOf(data);
  return (prototype === Object.prototype || prototype === null) && unknownKey(data, responseMapKeys) === undefined;
}

/**
 * The TypeError for a value `send` or `broadcast` cannot carry: a message is text or bytes,
 * so the message says how to turn the value into text.
 */
export function unsendable(method: 'send' | 'broadcast', value: unknown): TypeError {
  const takes = method === 'send' ? 'a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }' : 'a string or a Buffer/Uint8Array';
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  const fix = typeof value === 'object' && value !== null ? 'send JSON.stringify(value), and JSON.parse the text on the client' : 'convert it with String(value) or JSON.stringify(value)';
  return invalidArgument('ERR_CHANNEL_INVALID_DATA', `${method}() takes ${takes}, got ${got}: ${fix}`);
}

function assertStatus(status: number | undefined): void {
  if (status === undefined || (Number.isInteger(status) && status >= 100 && status <= 999)) return;
  throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `status must be an integer from 100 to 999, got ${String(status)}`);
}
