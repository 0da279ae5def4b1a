import { invalidArgument } from '../errors.js';
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

/** Checks and normalizes `send`'s argument; throws a TypeError a caller can act on. */
export function normalizeSendData(data: SendData): NormalizedSend {
  if (typeof data === 'string' || data instanceof Uint8Array) return { head: {}, payload: toPayload(data) };
  if (data === null || typeof data !== 'object') throw invalidData(data);
  const { status, headers, body } = data;
  assertStatus(status);
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) throw invalidData(body);
  return { head: { status, headers }, payload: body === undefined ? undefined : toPayload(body) };
}

function assertStatus(status: number | undefined): void {
  if (status === undefined || (Number.isInteger(status) && status >= 100 && status <= 999)) return;
  throw invalidArgument('ERR_CHANNEL_INVALID_DATA', `status must be an integer from 100 to 999, got ${String(status)}`);
}

function invalidData(value: unknown): TypeError {
  return invalidArgument(
    'ERR_CHANNEL_INVALID_DATA',
    `send() takes a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }, got ${value === null ? 'null' : typeof value}`,
  );
}
