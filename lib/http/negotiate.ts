import type { IncomingHttpHeaders } from 'node:http';
import type { TransportName } from '../transports/wire.js';

/**
 * Chooses the transport from a request's headers alone (pure, so it is tested as a table).
 * `Upgrade` is a comma-separated, case-insensitive token list (RFC 9110 §7.8); `Accept` may
 * carry `text/event-stream` among other types and with parameters.
 */
export function transportFromHeaders(headers: IncomingHttpHeaders): TransportName {
  // An Upgrade without the "upgrade" connection option is not an upgrade request (RFC 9110
  // §7.8): Node hands it to the app as a plain request, so it must be served as one.
  if (hasToken(headers.upgrade, 'websocket') && hasToken(headers.connection, 'upgrade')) return 'websocket';
  if (acceptsEventStream(headers.accept)) return 'sse';
  return 'http';
}

function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  return value.split(',').some((part) => part.trim().toLowerCase() === token);
}

function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';');
    if (type.trim().toLowerCase() !== 'text/event-stream') return false;
    // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p));
  });
}
