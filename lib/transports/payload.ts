/** A message body as the server sends it: text stays text, bytes stay bytes. */
export type Payload = string | Buffer;

/** Normalizes a body: strings stay strings; any byte view becomes a Buffer over the same memory. */
export function toPayload(body: string | Uint8Array): Payload {
  if (typeof body === 'string' || Buffer.isBuffer(body)) return body;
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** Bytes a payload occupies on the wire, for buffer accounting. */
export function payloadBytes(payload: Payload | undefined): number {
  if (payload === undefined) return 0;
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}
