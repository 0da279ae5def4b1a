// Body parsers mounted before `live` (docs/deployment.md, "Body parsers"): whatever they left in
// req.body, the client's messages on SSE and polling sessions still arrive, once and in order;
// a body consumed with nothing left is a clear 400, which the client reports once and does not
// retry.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express, { type RequestHandler } from 'express';
import express4 from 'express4';
import { channels, type Message } from '../../lib/index.js';
import { connect, type ChannelErrorEvent, type TransportName } from '../../lib/client/node.js';
import { serve, withTimeout } from '../support/harness.js';
import { nextEvent, quick } from '../client/support.js';

/** Reads the whole body and leaves nothing behind, as a logging or signature middleware might. */
const drainer: RequestHandler = (req, _res, next) => {
  req.on('data', () => undefined);
  req.on('end', () => next());
};

const parsers: Array<[string, RequestHandler]> = [
  ['express.json()', express.json()],
  ["express.text({ type: '*/*' })", express.text({ type: '*/*' })],
  ['express.raw()', express.raw({ type: 'application/json' })],
  ["express.raw({ type: '*/*' })", express.raw({ type: '*/*' })],
  ['express.urlencoded() (not JSON: leaves the body to live)', express.urlencoded({ extended: false })],
  // Express 4's body-parser 1.x sets req.body = {} even when it does not read the body.
  ['express 4: express.json()', express4.json() as unknown as RequestHandler],
  ["express 4: express.text({ type: '*/*' })", express4.text({ type: '*/*' }) as unknown as RequestHandler],
  ["express 4: express.raw({ type: '*/*' })", express4.raw({ type: '*/*' }) as unknown as RequestHandler],
  ['express 4: express.urlencoded()', express4.urlencoded({ extended: false }) as unknown as RequestHandler],
];

async function app(t: TestContext, before: RequestHandler) {
  const live = channels();
  const server = express();
  server.use(before);
  server.use(live);
  const received: Message[] = [];
  const arrivals = new Set<() => void>();
  server.get('/live', (req) => {
    req.channel!.onReceive((m) => {
      received.push(m);
      for (const check of arrivals) check();
    });
  });
  const served = await serve(t, server, live);
  const receivedCount = (count: number) =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = () => received.length >= count && resolve();
        arrivals.add(check);
        check();
      }),
      5000,
      `${count} messages at the server (got ${received.length})`,
    );
  return { url: `${served.url}/live`, received, receivedCount, live };
}

const transports: TransportName[] = ['sse', 'poll'];

describe('session POSTs behind a body parser mounted before live', () => {
  for (const [name, parser] of parsers) {
    for (const transport of transports) {
      it(`${name}: the client's messages arrive once and in order over ${transport}`, async (t) => {
        const s = await app(t, parser);
        const conn = connect(s.url, { ...quick, transports: [transport] });
        t.after(() => conn.close());
        await nextEvent(conn, 'open');
        const errors: ChannelErrorEvent[] = [];
        conn.addEventListener('error', (e) => errors.push(e));
        const numbers = Array.from({ length: 50 }, (_, i) => `m${i + 1}`);
        for (const n of numbers) conn.send(n);
        conn.send(new Uint8Array([0, 1, 255]));
        await s.receivedCount(51);
        assert.deepEqual(s.received.slice(0, 50), numbers);
        assert.deepEqual([...(s.received[50] as Buffer)], [0, 1, 255]);
        assert.deepEqual(errors, []);
      });
    }
  }

  it('a middleware that consumed the body and left nothing: 400 naming the cause', async (t) => {
    const s = await app(t, drainer);
    const conn = connect(s.url, { ...quick, transports: ['poll'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const { error } = await (async () => {
      const failed = nextEvent(conn, 'error');
      conn.send('lost to the drainer');
      return failed;
    })();
    assert.equal(error.status, 400);
    assert.equal(error.code, 'bad-request');
    assert.match(error.message, /POST answered 400: The request body was read by a middleware mounted before live \(a body parser\)/);
    assert.match(error.message, /mount live before your body parsers/);
  });

  it('the client reports a POST refused with 400 once and sends no more POSTs on that connection', async (t) => {
    const posts: string[] = [];
    const counting: RequestHandler = (req, res, next) => {
      if (req.method === 'POST') posts.push(req.url);
      drainer(req, res, next);
    };
    const s = await app(t, counting);
    const conn = connect(s.url, { ...quick, transports: ['sse'] });
    t.after(() => conn.close());
    await nextEvent(conn, 'open');
    const errors: ChannelErrorEvent[] = [];
    conn.addEventListener('error', (e) => errors.push(e));
    const failed = nextEvent(conn, 'error');
    conn.send('one');
    await failed;
    conn.send('two'); // would POST again at once if the client still tried
    conn.send('three');
    // A round trip through the server (a fresh connection's hello) proves nothing more went out.
    const probe = connect(s.url, { ...quick, transports: ['poll'] });
    t.after(() => probe.close());
    await nextEvent(probe, 'open');
    assert.equal(posts.length, 1);
    assert.equal(errors.length, 1);
    assert.equal(conn.readyState, 1, 'still open: server messages still arrive');
    assert.equal(conn.queued, 3, 'the messages wait for the next connection');
    assert.deepEqual(s.received, []);
  });
});
