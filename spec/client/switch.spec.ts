// A POST still on its way when the client switches from SSE to WebSocket: the WebSocket
// numbers client messages from the hello's `received`, so what the POST delivers afterwards
// must be neither lost nor delivered twice (found in review).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { describe, it } from 'node:test';
import express from 'express';
import { channels } from '../../lib/index.js';
import { connect } from '../../lib/client/node.js';
import { deferred, withTimeout } from '../support/harness.js';

async function until(condition: () => boolean, what: string): Promise<void> {
  await withTimeout(
    (async () => {
      while (!condition()) await new Promise((resolve) => setImmediate(resolve));
    })(),
    5000,
    what,
  );
}

describe('client switching transports with a POST in flight', () => {
  it('delivers every client message once, in order, and ends with nothing queued', async (t) => {
    const live = channels({ heartbeat: 0 });
    const app = express();
    const gate = { refuseWebSocket: true, refuseSse: false, hold: undefined as Promise<void> | undefined, held: deferred() };
    const sseSockets = new Set<Socket>();
    app.use((req, res, next) => {
      const sse = /event-stream/.test(req.headers.accept ?? '');
      if (req.headers.upgrade !== undefined && gate.refuseWebSocket) return void res.status(403).end();
      if (sse && gate.refuseSse) return void res.status(403).end();
      if (sse) sseSockets.add(req.socket);
      if (req.method === 'POST' && gate.hold !== undefined) {
        gate.held.resolve();
        return void gate.hold.then(() => next());
      }
      next();
    });
    app.use(live);
    const received: string[] = [];
    app.get('/live', (req) => req.channel!.onReceive((m) => received.push(String(m))));
    const server = createServer(app);
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => sockets.add(s));
    live.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(async () => {
      await live.close();
      for (const s of sockets) s.destroy();
      server.close();
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;

    const conn = connect(url, { transports: ['websocket', 'sse'], reconnect: { minDelay: 1, maxDelay: 5 } });
    t.after(() => conn.close());
    await until(() => conn.readyState === 1 && conn.transport === 'sse', 'the SSE session');
    conn.send('m1');
    await until(() => received.length === 1, 'm1');

    const release = deferred();
    gate.hold = release.promise;
    conn.send('m2'); // POSTed now, and held before it reaches `live`
    await gate.held.promise;
    conn.send('m3'); // waits behind it
    gate.refuseWebSocket = false;
    gate.refuseSse = true;
    for (const s of sseSockets) s.destroy(); // the stream is lost; the next round opens a WebSocket
    await until(() => conn.readyState === 1 && conn.transport === 'websocket', 'the switch to WebSocket');

    gate.hold = undefined;
    release.resolve(); // the POST lands: m2 is delivered after the WebSocket's hello
    await until(() => received.length === 3, 'm2 and m3');
    conn.send('m4');
    await until(() => received.length === 4 && conn.queued === 0, 'm4, and nothing left queued');
    assert.deepEqual(received, ['m1', 'm2', 'm3', 'm4']);
  });
});
