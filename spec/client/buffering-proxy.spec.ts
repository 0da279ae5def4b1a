// The client behind a proxy that knows no upgrades and holds every response back until it is
// complete, headers included (what nginx with `proxy_ignore_headers X-Accel-Buffering` does;
// spec/deployment/nginx.spec.ts runs the real one). Here the proxy is a few lines of
// node:http, so the fallback is tested wherever the suite runs.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type ChannelErrorEvent } from '../../lib/client/node.js';
import { nextEvent, startServer } from './support.js';

const hopByHop = new Set(['connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol']);

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !hopByHop.has(name)));
}

/** A proxy to `upstreamPort` that drops upgrade headers and answers only once the upstream response has ended. */
async function bufferingProxy(t: TestContext, upstreamPort: number): Promise<string> {
  const proxy = createServer((req, res) => {
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: forwardable(req.headers) }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(answer.statusCode ?? 502, { ...forwardable(answer.headers), 'content-length': body.length }).end(body);
      });
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy()); // the client left: so does the upstream request
    req.pipe(upstream);
  });
  // Upgrades are requests like any other here: their upgrade headers are dropped.
  proxy.on('upgrade', (req, socket) => {
    const upstream = request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: forwardable(req.headers) }, (answer) => {
      answer.resume();
      answer.on('end', () => socket.end(`HTTP/1.1 ${answer.statusCode ?? 502} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
    });
    upstream.on('error', () => socket.destroy());
    upstream.end();
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  t.after(() => {
    proxy.closeAllConnections();
    return new Promise((resolve) => proxy.close(resolve));
  });
  return `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
}

describe('the client behind a proxy that buffers everything and knows no upgrades', () => {
  it('gives up WebSocket at once and SSE when its hello is held back, and polls: messages both ways', async (t) => {
    const srv = await startServer(t, { sessionTimeout: 1000 }, (ch) => {
      if (ch.isSession) ch.send('welcome');
    });
    const origin = await bufferingProxy(t, Number(new URL(srv.url).port));
    const conn = connect(`${origin}/live`, { reconnect: { minDelay: 5, maxDelay: 40 } });
    t.after(() => conn.close());
    const errors: ChannelErrorEvent[] = [];
    conn.addEventListener('error', (e) => errors.push(e));
    const first = await nextEvent(conn, 'message', 8000);
    assert.equal(first.data, 'welcome');
    assert.equal(conn.transport, 'poll');
    assert.deepEqual(errors.map((e) => [e.transport, e.error.code]), [['websocket', 'refused'], ['sse', 'buffered']]);
    assert.match(errors[1]?.error.message ?? '', /no hello within 600 ms: a proxy is holding the stream back/);
    // The request meant as a WebSocket became no channel; the held-back SSE session closes
    // 'client-away' once its client does not come back.
    assert.deepEqual(srv.channels.map((ch) => ch.isSession), [true, true]);
    const mine = srv.channels.find((ch) => ch.id === conn.sessionId);
    const abandoned = srv.channels.find((ch) => ch !== mine);
    assert.ok(mine !== undefined && abandoned !== undefined);
    await new Promise<void>((resolve) => (abandoned.isOpen ? abandoned.onClose((reason) => (assert.equal(reason, 'client-away'), resolve())) : resolve()));
    conn.send('from the client');
    assert.deepEqual(await srv.receivedCount(mine, 1), ['from the client']);
    mine.send('from the server');
    assert.equal((await nextEvent(conn, 'message')).data, 'from the server');
  });
});
