// The events of a session SSE stream (docs/protocol.md, "Server-Sent Events").
import type { ServerControl } from '../protocol/control.js';
import { namedJsonMessage } from './json-messages.js';
import { formatSseEvent } from './sse-format.js';
import type { Payload, SendFields } from './wire.js';

/**
 * A session event's bytes after its `id:` line. Text goes under its own name (so a plain
 * EventSource's addEventListener(name) hears it), binary as base64 under `ec-binary`, or for
 * a named binary message as the JSON `{ event, base64 }` there (base64 never starts with `{`).
 */
export function sseSessionEvent(payload: Payload, fields: SendFields): string {
  if (typeof payload === 'string') return formatSseEvent(payload, { event: fields.event });
  const data = fields.event === undefined ? payload.toString('base64') : JSON.stringify(namedJsonMessage(payload, fields.event));
  return formatSseEvent(data, { event: 'ec-binary' });
}

/** A control event: `ec-hello`, `ec-ack` or `ec-close`, never with an `id:` (Last-Event-ID is unaffected). */
export function sseControlEvent(control: ServerControl): string {
  const { type, ...data } = control;
  return formatSseEvent(JSON.stringify(data), { event: `ec-${type}` });
}
