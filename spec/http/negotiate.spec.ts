import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, it } from 'node:test';
import { transportFromHeaders } from '../../lib/http/negotiate.js';
import type { TransportName } from '../../lib/transports/wire.js';

describe('transportFromHeaders', () => {
  const table: [string, IncomingHttpHeaders, TransportName][] = [
    ['no headers at all', {}, 'http'],
    ['Upgrade: websocket with Connection: Upgrade', { upgrade: 'websocket', connection: 'Upgrade' }, 'websocket'],
    ['Upgrade and Connection are case-insensitive', { upgrade: 'WebSocket', connection: 'upgrade' }, 'websocket'],
    ['upgrade among several Connection options', { upgrade: 'websocket', connection: 'keep-alive, Upgrade' }, 'websocket'],
    ['websocket among several Upgrade tokens', { upgrade: 'h2c, websocket', connection: 'Upgrade' }, 'websocket'],
    ['Upgrade: websocket without the upgrade connection option (RFC 9110 §7.8)', { upgrade: 'websocket' }, 'http'],
    ['Upgrade: websocket with Connection: close', { upgrade: 'websocket', connection: 'close' }, 'http'],
    ['a half upgrade asking for an event stream', { upgrade: 'websocket', accept: 'text/event-stream' }, 'sse'],
    ['an Upgrade to something else', { upgrade: 'h2c', connection: 'Upgrade' }, 'http'],
    ['an empty Upgrade', { upgrade: '', connection: 'Upgrade' }, 'http'],
    ['a token that only contains websocket', { upgrade: 'websocketx', connection: 'Upgrade' }, 'http'],
    ['a Connection option that only contains upgrade', { upgrade: 'websocket', connection: 'upgrades' }, 'http'],
    ['Upgrade wins over an SSE Accept', { upgrade: 'websocket', connection: 'Upgrade', accept: 'text/event-stream' }, 'websocket'],
    ['Accept: text/event-stream', { accept: 'text/event-stream' }, 'sse'],
    ['Accept is case-insensitive', { accept: 'Text/Event-Stream' }, 'sse'],
    ['event-stream among other types', { accept: 'application/json, text/event-stream;q=0.9, */*;q=0.1' }, 'sse'],
    ['event-stream with parameters', { accept: 'text/event-stream; charset=utf-8' }, 'sse'],
    ['event-stream with spaces around', { accept: '  text/event-stream  ' }, 'sse'],
    ['event-stream refused with q=0', { accept: 'text/event-stream;q=0, application/json' }, 'http'],
    ['event-stream refused with q=0.000', { accept: 'text/event-stream; q=0.000' }, 'http'],
    ['event-stream with q=0.5 is accepted', { accept: 'text/event-stream;q=0.5' }, 'sse'],
    ['a wildcard Accept is plain HTTP', { accept: '*/*' }, 'http'],
    ['text/* is plain HTTP', { accept: 'text/*' }, 'http'],
    ['an HTML browser Accept', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }, 'http'],
    ['a type that only starts like event-stream', { accept: 'text/event-streams' }, 'http'],
  ];
  for (const [name, headers, expected] of table) {
    it(`chooses ${expected} for ${name}`, () => {
      assert.equal(transportFromHeaders(headers), expected);
    });
  }
});
