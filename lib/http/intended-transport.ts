import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RefusalCause } from '../channel/counters.js';
import { debug, debugEnabled } from '../debug.js';
import { intendedTransport } from '../protocol/params.js';
import { transportFromHeaders } from './negotiate.js';

const refusals = {
  websocket: {
    status: 426,
    error: 'upgrade-required',
    message:
      'This request was sent as a WebSocket (ect=ws) but arrived without its Upgrade headers: a proxy in front ' +
      'dropped them. nginx needs proxy_http_version 1.1 and proxy_set_header Upgrade/Connection (docs/deployment.md). ' +
      'The client library goes on to its next transport.',
  },
  sse: {
    status: 406,
    error: 'event-stream-required',
    message:
      'This request was sent as an event stream (eco=1) but arrived without Accept: text/event-stream: a proxy in ' +
      'front changed it (docs/deployment.md). The client library goes on to its next transport.',
  },
} as const;

/**
 * Refuses, at once, a request the client library meant for one transport that reached us as
 * another: a WebSocket whose upgrade headers a proxy dropped, an event stream whose `Accept` it
 * rewrote. Served as a plain HTTP channel it would join groups and swallow broadcasts that no
 * one reads while the client waits out its open timeout. True when it answered the request.
 */
export function refuseMismatchedTransport(req: IncomingMessage, res: ServerResponse, host: { refused(cause: RefusalCause): void }): boolean {
  const intended = intendedTransport(req.url);
  if (intended === undefined) return false;
  const actual = transportFromHeaders(req.headers);
  if (actual === intended) return false;
  const refusal = refusals[intended];
  host.refused('bad-handshake');
  if (debugEnabled) debug('refused a %s request that arrived as %s: %d %s', intended, actual, refusal.status, refusal.error);
  const body = JSON.stringify({ error: refusal.error, message: refusal.message });
  res.writeHead(refusal.status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
  return true;
}
