import { invalidArgument } from '../errors.js';

/** Fields of one Server-Sent Event besides its data. */
export interface SseFields {
  /** The `event:` field: the event's type, as `EventSource` dispatches it. */
  event?: string | undefined;
  /** The `id:` field: becomes the client's `Last-Event-ID`. */
  id?: string | number | undefined;
}

// A field value may not contain CR or LF (they would end the field and let the value
// inject fields of its own), and NUL in `id` makes the spec ignore the field.
const unsafeFieldValue = /[\r\n\0]/;

/** Throws a TypeError, before anything is written, if `fields` cannot be sent safely. */
export function assertSseFields(fields: SseFields): void {
  for (const name of ['event', 'id'] as const) {
    const value = fields[name];
    if (value !== undefined && unsafeFieldValue.test(String(value))) {
      throw invalidArgument('ERR_CHANNEL_INVALID_FIELD', `SSE ${name} must not contain CR, LF or NUL: ${JSON.stringify(String(value))}`);
    }
  }
}

/** Event names starting with `ec-` carry the session protocol (docs/protocol.md). */
export function assertNotReserved(event: string | undefined): void {
  if (event?.startsWith('ec-') === true) {
    throw invalidArgument('ERR_CHANNEL_INVALID_FIELD', `SSE event names starting with "ec-" are reserved for the session protocol, got ${JSON.stringify(event)}`);
  }
}

/**
 * Encodes one event. Every line ending in the data (`\r\n`, `\r` or `\n`, all of which the
 * spec treats as line ends) starts a new `data:` line, so the client rebuilds the text with
 * `\n` between lines. Callers validate fields first with {@link assertSseFields}.
 */
export function formatSseEvent(data: string, fields: SseFields = {}): string {
  let out = '';
  if (fields.event !== undefined) out += `event: ${fields.event}\n`;
  if (fields.id !== undefined) out += `id: ${fields.id}\n`;
  out += 'data: ' + data.replace(/\r\n|\r|\n/g, '\ndata: ') + '\n\n';
  return out;
}

/** A comment line: ignored by clients, but it keeps proxies from closing an idle stream. */
export const sseHeartbeat = ':\n\n';

/** The `retry:` field, telling the client how long to wait before reconnecting. */
export function formatSseRetry(milliseconds: number): string {
  return `retry: ${Math.max(0, Math.floor(milliseconds))}\n\n`;
}
