// What both SSE readers (fetch + eventsource-parser in sse.ts, the runtime's EventSource in
// eventsource.ts) make of a session's events (docs/protocol.md, "Server-Sent Events").
import { ackReceived, base64ToBuffer, fromNamed, parseHello, type Hello, type Received } from '../codec.js';
import { ClientError } from '../errors.js';
import { parseJson } from '../../protocol/control.js';
import type { TransportSink } from './transport.js';

/** The hello of an `ec-hello` event, or the error when it is malformed or not the first. */
export function helloEvent(data: string, previous: Hello | undefined): Hello | ClientError {
  const hello = parseHello(parseJson(data));
  return hello === undefined || previous !== undefined ? new ClientError('protocol', 'SSE: malformed or repeated ec-hello') : hello;
}

/** An `ec-ack` event: the server delivered the client's messages up to its count (a malformed one is skipped). */
export function ackEvent(data: string, sink: TransportSink): void {
  const received = ackReceived(data);
  if (received !== undefined) sink.received(received);
}

/**
 * A message event: text under its name (none for `message`), bytes in base64 under
 * `ec-binary`, or there a named binary message as JSON. Undefined when malformed.
 */
export function messageEvent(event: string | undefined, data: string): Received | undefined {
  if (event !== 'ec-binary') return { data, name: event === 'message' ? undefined : event };
  return data[0] === '{' ? fromNamed(parseJson(data)) : { data: base64ToBuffer(data) };
}
