// The handshake pacer (lib/http/handshake-pacer.ts): at most a tenth of `handshakeRate` upgrades
// start in any 100 ms, the rest wait in order; over real sockets on 127.0.0.1.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect as connectTcp, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { HandshakePacer } from '../../lib/http/handshake-pacer.js';
import { channels } from '../../lib/index.js';
import { deferred, withTimeout } from '../support/harness.js';
import { startLiveServer } from '../support/live-server.js';
import { busiestWindow as busiest } from '../support/windows.js';

/** `count` real server-side sockets, each with its client end. */
async function socketPairs(t: TestContext, count: number): Promise<Array<{ server: Socket; client: Socket }>> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const client = connectTcp(port, '127.0.0.1');
    await once(client, 'connect');
    clients.push(client);
  }
  while (accepted.length < count) await once(server, 'connection');
  t.after(() => {
    for (const socket of [...accepted, ...clients]) socket.destroy();
    server.close();
  });
  return clients.map((client, i) => ({ client, server: accepted[i] as Socket }));
}

describe('HandshakePacer', () => {
  it('starts at once while the window has room, then in arrival order, never more than a tenth of the rate in any 100 ms', async (t) => {
    const pairs = await socketPairs(t, 25);
    const pacer = new HandshakePacer({ perSecond: 100, maxWait: 5000 });
    const order: number[] = [];
    const times: number[] = [];
    const all = deferred<void>();
    pairs.forEach(({ server }, i) =>
      pacer.admit(server, () => {
        order.push(i);
        times.push(performance.now());
        if (order.length === pairs.length) all.resolve();
      }),
    );
    assert.equal(order.length, 10, 'the first ten start at once');
    assert.equal(pacer.waiting, 15);
    await withTimeout(all.promise, 2000, 'every upgrade to start');
    assert.deepEqual(order, [...Array(25).keys()]);
    assert.equal(busiest(times, 100), 10);
    assert.ok((times[24] as number) - (times[0] as number) >= 200, 'three windows for 25 at 10 a window');
  });

  it('skips an upgrade whose client gave up while it waited', async (t) => {
    const pairs = await socketPairs(t, 3);
    const pacer = new HandshakePacer({ perSecond: 10, maxWait: 5000 });
    const started: number[] = [];
    const last = deferred<void>();
    pacer.admit(pairs[0]!.server, () => started.push(0));
    pacer.admit(pairs[1]!.server, () => started.push(1));
    pacer.admit(pairs[2]!.server, () => (started.push(2), last.resolve()));
    pairs[1]!.server.destroy();
    await withTimeout(last.promise, 1000, 'the third upgrade');
    assert.deepEqual(started, [0, 2]);
  });

  it('answers 503 busy with Retry-After an upgrade that waited longer than maxWait', async (t) => {
    const pairs = await socketPairs(t, 2);
    const pacer = new HandshakePacer({ perSecond: 10, maxWait: 0 });
    const started: number[] = [];
    pacer.admit(pairs[0]!.server, () => started.push(0));
    pacer.admit(pairs[1]!.server, () => started.push(1));
    const client = pairs[1]!.client;
    let answer = '';
    client.setEncoding('utf8');
    client.on('data', (chunk: string) => (answer += chunk));
    await withTimeout(once(client, 'end'), 1000, 'the refusal');
    assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    assert.match(answer, /\r\nRetry-After: 1\r\n/);
    assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: string }).error, 'busy');
    assert.deepEqual(started, [0]);
  });
});

describe('handshakeRate', () => {
  it('spreads WebSocket handshakes through the app at the rate asked, and every client opens', async (t) => {
    const starts: number[] = [];
    const server = await startLiveServer({ handshakeRate: 100 }, (app) => app.get('/live', (req) => req.channel!.send('hi')), (req, _res, next) => {
      if (req.headers.upgrade !== undefined) starts.push(performance.now());
      next();
    });
    t.after(() => server.close());
    const sockets = Array.from({ length: 30 }, () => new WebSocket(server.wsUrl('/live')));
    const firsts = sockets.map((ws) => once(ws, 'message'));
    assert.equal(server.live.stats().handshakesWaiting, 0);
    const greetings = await withTimeout(Promise.all(firsts), 5000, 'every client to be greeted');
    assert.deepEqual(greetings.map(([data]) => String(data)), Array(30).fill('hi'));
    // Seen from the middleware, a start lands a little after the pacer counted it, so two
    // windows may overlap by a start or two; unpaced, all 30 would land within a few ms.
    assert.ok(busiest(starts, 100) <= 12, `${busiest(starts, 100)} handshakes in the busiest 100 ms`);
    assert.ok((starts[29] as number) - (starts[0] as number) >= 200, 'three windows for 30 at 10 a window');
    assert.equal(server.live.stats().handshakesWaiting, 0);
    for (const ws of sockets) ws.terminate();
  });

  it('takes a positive rate or Infinity, and refuses anything else by name', () => {
    assert.doesNotThrow(() => channels({ handshakeRate: Infinity }));
    for (const value of [0, -1, Number.NaN]) assert.throws(() => channels({ handshakeRate: value }), /handshakeRate/);
  });
});
