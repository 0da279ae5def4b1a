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

// Every request of every transport passes here: the one-token values clients send
// (`websocket`, `Upgrade`, `text/event-stream`) are answered without splitting.
function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  if (value.length === token.length) return value.toLowerCase() === token;
  return value.split(',').some((part) => part.trim().toLowerCase() === token);
}

function acceptsEventStream(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  if (accept === 'text/event-stream') return true;
  return accept.split(',').some((range) => {
    const [type = '', ...params] = range.split(';');
    if (type.trim().toLowerCase() !== 'text/event-stream') return false;
    // `q=0` means "not acceptable" (RFC 9110 §12.4.2).
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p));
  });
}
