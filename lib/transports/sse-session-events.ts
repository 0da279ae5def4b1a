// The events of a session SSE stream (docs/protocol.md, "Server-Sent Events").
import type { ServerControl } from '../protocol/control.js';
import { formatSseEvent } from './sse-format.js';
import type { Payload, SendFields } from './wire.js';

/** A session event's bytes after its `id:` line (binary as base64 under `ec-binary`). */
export function sseSessionEvent(payload: Payload, fields: SendFields): string {
  if (typeof payload === 'string') return formatSseEvent(payload, { event: fields.event });
  return formatSseEvent(payload.toString('base64'), { event: 'ec-binary' });
}

/** A control event: `ec-hello`, `ec-ack` or `ec-close`, never with an `id:` (Last-Event-ID is unaffected). */
export function sseControlEvent(control: ServerControl): string {
  const { type, ...data } = control;
  return formatSseEvent(JSON.stringify(data), { event: `ec-${type}` });
}
