// A broadcast as it travels through Redis: one binary message per broadcast, so that bytes
// stay bytes and text is not escaped into JSON. Layout: a 4-byte big-endian length, that many
// bytes of JSON header, then the payload as it was (UTF-8 for text).
import type { AdapterMessage } from '../groups/adapter.js';
import type { Payload } from '../transports/payload.js';

/** What the header says, besides the payload. */
interface Header {
  /** The publishing `live` instance. */
  o: string;
  /** The group. */
  g: string;
  /** The publisher's number for this broadcast in this group: 1, 2, 3… */
  s: number;
  /** True when the payload is bytes, not text. */
  b?: 1;
  /** SSE `event:` and `id:` fields. */
  e?: string;
  i?: string | number;
}

/** A numbered broadcast, decoded. */
export interface Envelope {
  message: AdapterMessage;
  seq: number;
}

export function encodeEnvelope(message: AdapterMessage, seq: number): Buffer {
  const header: Header = { o: message.origin, g: message.group, s: seq };
  if (typeof message.payload !== 'string') header.b = 1;
  if (message.fields.event !== undefined) header.e = message.fields.event;
  if (message.fields.id !== undefined) header.i = message.fields.id;
  const json = Buffer.from(JSON.stringify(header));
  const body = typeof message.payload === 'string' ? Buffer.from(message.payload) : message.payload;
  const out = Buffer.allocUnsafe(4 + json.length + body.length);
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  body.copy(out, 4 + json.length);
  return out;
}

/** The envelope in `bytes`, or undefined when they are not one (another writer on the channel). */
export function decodeEnvelope(bytes: Buffer): Envelope | undefined {
  if (bytes.length < 4) return undefined;
  const length = bytes.readUInt32BE(0);
  if (4 + length > bytes.length) return undefined;
  const header = parseHeader(bytes.toString('utf8', 4, 4 + length));
  if (header === undefined) return undefined;
  const body = bytes.subarray(4 + length);
  const payload: Payload = header.b === 1 ? Buffer.from(body) : body.toString('utf8');
  return { message: { origin: header.o, group: header.g, payload, fields: { event: header.e, id: header.i } }, seq: header.s };
}

function parseHeader(text: string): Header | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const h = value as Partial<Header> | null;
  if (typeof h !== 'object' || h === null || typeof h.o !== 'string' || typeof h.g !== 'string' || !Number.isSafeInteger(h.s)) return undefined;
  return h as Header;
}
