import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage, RequestListener } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import connect from 'connect';
import express, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import request from 'supertest';
import WebSocket from 'ws';
import { channels, ChannelError, type Channel, type CloseReason, type Live } from '../lib/index.js';
import { deferred, Inbox, openSse, openWebSocket, serve, withTimeout, wsInbox, type Served } from './support/harness.js';

// Plain Node handlers: they only use req.channel, which is on IncomingMessage.
function echoRoute(req: IncomingMessage): void {
  const ch = req.channel!;
  ch.onReceive((message) => ch.send(message));
}

function eventsRoute(req: IncomingMessage): void {
  req.channel!.send('from sse', { event: 'greeting', id: 1 });
}

function pollRoute(req: IncomingMessage): void {
  const ch = req.channel!;
  // Answer a little later, as a long-poll does when its event comes.
  setImmediate(() => ch.send({ status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ transport: ch.transport }) }));
}

/** One WebSocket echo, one SSE event and one long-poll against a served app. */
async function exerciseEveryTransport(t: TestContext, s: Served): Promise<void> {
  const ws = await openWebSocket(t, `${s.wsUrl}/echo`);
  ws.send('ping over ws');
  const echoed = await wsInbox(ws).next();
  assert.deepEqual([echoed.data.toString(), echoed.isBinary], ['ping over ws', false]);

  const stream = await openSse(t, `${s.url}/events`);
  assert.equal(stream.response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  assert.deepEqual(await stream.events.next(), { event: 'greeting', id: '1', data: 'from sse' });
  stream.close();

  const poll = await request(s.server).get('/poll');
  assert.equal(poll.status, 200);
  assert.deepEqual(poll.body, { transport: 'http' });
}

describe('channels() middleware', () => {
  describe('works the same in every framework', () => {
    it('in Express 5', async (t) => {
      const live = channels({ heartbeat: 0 });
      const app = express();
      app.use(live);
      app.get('/echo', echoRoute);
      app.get('/events', eventsRoute);
      app.get('/poll', pollRoute);
      await exerciseEveryTransport(t, await serve(t, app, live));
    });

    it('in Express 4', async (t) => {
      const live = channels({ heartbeat: 0 });
      const app = express4();
      app.use(live);
      app.get('/echo', echoRoute);
      app.get('/events', eventsRoute);
      app.get('/poll', pollRoute);
      await exerciseEveryTransport(t, await serve(t, app, live));
    });

    it('in a plain connect() app', async (t) => {
      const live = channels({ heartbeat: 0 });
      const app = connect();
      app.use(live);
      app.use('/echo', echoRoute);
      app.use('/events', eventsRoute);
      app.use('/poll', pollRoute);
      await exerciseEveryTransport(t, await serve(t, app as unknown as RequestListener, live));
    });
  });

  describe('errors in user handlers', () => {
    it("refuses live.on() for any event but 'error', and a listener that is not a function", () => {
      const live = channels();
      const on = live.on as (event: string, listener: unknown) => Live;
      assert.throws(() => on('connection', () => undefined), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_DATA', message: `live.on() knows one event, 'error'; got "connection"` });
      assert.throws(() => on('error', 'log'), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_DATA', message: `live.on('error', listener) takes a function, got string` });
      assert.throws(() => (live.off as (event: string, listener: unknown) => Live)('eror', () => undefined), { code: 'ERR_CHANNEL_INVALID_DATA' });
      assert.equal(live.on('error', () => undefined), live);
    });

    it("reports an error thrown in onReceive to live.on('error') and keeps serving", async (t) => {
      const live = channels({ heartbeat: 0 });
      const errors = new Inbox<Error>();
      assert.equal(
        live.on('error', (error) => errors.push(error)),
        live,
      );
      const app = express();
      app.use(live);
      app.get('/echo', (req) => {
        const ch = req.channel!;
        ch.onReceive((message) => {
          if (message === 'boom') throw new Error('handler exploded');
          ch.send(message);
        });
      });
      const s = await serve(t, app, live);
      const ws = await openWebSocket(t, `${s.wsUrl}/echo`);
      ws.send('boom');
      ws.send('after the boom');
      const error = await errors.next();
      assert.equal(error.message, 'handler exploded');
      // The same channel goes on, and so does the server.
      assert.equal((await wsInbox(ws).next()).data.toString(), 'after the boom');
      const other = await openWebSocket(t, `${s.wsUrl}/echo`);
      other.send('new client');
      assert.equal((await wsInbox(other).next()).data.toString(), 'new client');
    });

    it("reports an error thrown in onClose to live.on('error'), and other close handlers still run", async (t) => {
      const live = channels({ heartbeat: 0 });
      const errors = new Inbox<Error>();
      live.on('error', (error) => errors.push(error));
      const reasons = new Inbox<CloseReason>();
      const app = express();
      app.use(live);
      app.get('/echo', (req) => {
        req.channel!.onClose(() => {
          throw new Error('close handler exploded');
        });
        req.channel!.onClose((reason) => reasons.push(reason));
      });
      const s = await serve(t, app, live);
      const ws = await openWebSocket(t, `${s.wsUrl}/echo`);
      ws.close(1000);
      assert.equal((await errors.next()).message, 'close handler exploded');
      assert.equal(await reasons.next(), 'normal');
    });

    it("stops reporting to a listener removed with live.off('error')", async (t) => {
      const live = channels({ heartbeat: 0 });
      const kept = new Inbox<Error>();
      const removed: Error[] = [];
      const removedListener = (error: Error): void => void removed.push(error);
      live.on('error', removedListener);
      live.on('error', (error) => kept.push(error));
      assert.equal(live.off('error', removedListener), live);
      const app = express();
      app.use(live);
      app.get('/echo', (req) =>
        req.channel!.onReceive(() => {
          throw new Error('once');
        }),
      );
      const s = await serve(t, app, live);
      const ws = await openWebSocket(t, `${s.wsUrl}/echo`);
      ws.send('x');
      assert.equal((await kept.next()).message, 'once');
      assert.deepEqual(removed, []);
    });
  });

  describe('requests that never touch req.channel', () => {
    it('answer exactly as without the middleware', async (t) => {
      const build = (live?: Live): express.Express => {
        const app = express();
        if (live) app.use(live);
        app.use(express.json());
        app.post('/api/items', (req, res) => void res.status(201).json({ got: req.body as unknown, accept: req.headers.accept ?? null }));
        return app;
      };
      const live = channels({ heartbeat: 0 });
      const withLive = await serve(t, build(live), live);
      const without = await serve(t, build());
      // Even an Accept that asks for an event stream is a plain request until the channel is used.
      for (const accept of ['application/json', 'text/event-stream']) {
        const [a, b] = await Promise.all(
          [withLive, without].map((s) => request(s.server).post('/api/items').set('accept', accept).send({ name: 'x' })),
        );
        assert.ok(a !== undefined && b !== undefined);
        assert.equal(a.status, 201);
        assert.equal(a.status, b.status);
        assert.deepEqual(a.body, { got: { name: 'x' }, accept });
        assert.deepEqual(a.body, b.body);
        const headers = (r: typeof a): Record<string, string> => {
          const { date: _date, ...rest } = r.headers as Record<string, string>;
          return rest;
        };
        assert.deepEqual(headers(a), headers(b));
      }
      assert.equal(live.channels.size, 0);
      assert.deepEqual(live.stats().open, { websocket: 0, sse: 0, http: 0, poll: 0 });
    });

    it('make no channel: req.channel is a lazy, non-enumerable getter that builds one on first access', async (t) => {
      const live = channels({ heartbeat: 0 });
      const seen = deferred<{ enumerable: boolean; keys: boolean; same: boolean; channel: Channel }>();
      const app = express();
      app.use(live);
      app.get('/look', (req, res) => {
        // On the request or, for an Express app, on its requests' prototype (app.request).
        const descriptor = Object.getOwnPropertyDescriptor(req, 'channel') ?? Object.getOwnPropertyDescriptor(Object.getPrototypeOf(req) as object, 'channel');
        const first = req.channel!;
        seen.resolve({ enumerable: descriptor?.enumerable ?? true, keys: Object.keys(req).includes('channel'), same: req.channel === first, channel: first });
        res.send('looked');
      });
      const s = await serve(t, app, live);
      assert.equal((await request(s.server).get('/look')).text, 'looked');
      const result = await seen.promise;
      assert.deepEqual({ ...result, channel: undefined }, { enumerable: false, keys: false, same: true, channel: undefined });
      // Looking at the channel does not claim it.
      assert.equal(result.channel.isOpen, true);
      assert.equal(live.channels.size, 0);
    });
    it('gives no channel to a request the middleware did not see (a route before app.use(live)), also once another request had one', async (t) => {
      const live = channels({ heartbeat: 0 });
      const app = express();
      app.get('/before', (req, res) => res.send(req.channel === undefined ? 'none' : 'one'));
      app.use(live);
      app.get('/after', (req, res) => res.send(req.channel === undefined ? 'none' : 'one'));
      const s = await serve(t, app, live);
      assert.equal((await request(s.server).get('/after')).text, 'one');
      assert.equal((await request(s.server).get('/before')).text, 'none');
      assert.equal((await request(s.server).get('/after')).text, 'one');
    });
  });

  describe('a WebSocket upgrade without live.attach', () => {
    it('reaches the app as a plain request (Node does so without an upgrade listener) and claiming throws ERR_CHANNEL_NOT_ATTACHED', async (t) => {
      const live = channels({ heartbeat: 0 });
      const caught = deferred<unknown>();
      const app = express();
      app.use(live);
      app.get('/echo', echoRoute);
      app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
        caught.resolve(error);
        res.status(500).send('not attached');
      });
      const s = await serve(t, app, live, { attach: false });
      const ws = new WebSocket(`${s.wsUrl}/echo`);
      ws.on('error', () => undefined);
      t.after(() => ws.terminate());
      const [, res] = (await withTimeout(once(ws, 'unexpected-response'), 2000, 'the answer')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 500);
      const error = (await withTimeout(caught.promise, 2000, 'the ChannelError')) as ChannelError;
      assert.ok(error instanceof ChannelError);
      assert.equal(error.name, 'ChannelError');
      assert.equal(error.code, 'ERR_CHANNEL_NOT_ATTACHED');
      assert.equal(error.message, 'a WebSocket upgrade reached the middleware through a plain request; call live.attach(server) after app.listen()');
    });
  });

  describe('live', () => {
    it('counts open channels per transport in stats() and lists them in channels', async (t) => {
      const live = channels({ heartbeat: 0 });
      const opened = new Inbox<Channel>();
      const app = express();
      app.use(live);
      app.get('/any', (req) => {
        req.channel!.onClose(() => undefined);
        opened.push(req.channel!);
      });
      const s = await serve(t, app, live);
      await openWebSocket(t, `${s.wsUrl}/any`);
      await openSse(t, `${s.url}/any`);
      const poll = fetch(`${s.url}/any`).catch(() => undefined);
      const all = [await opened.next(), await opened.next(), await opened.next()];
      assert.deepEqual(live.stats().open, { websocket: 1, sse: 1, http: 1, poll: 0 });
      assert.deepEqual(new Set(live.channels), new Set(all));
      for (const ch of all) ch.close();
      await poll;
      assert.equal(live.channels.size, 0);
    });

    it("closes every channel with 'shutdown' on live.close(): WebSocket 1001, SSE retry hint, long-poll answered", async (t) => {
      const live = channels({ heartbeat: 0, shutdownRetry: 1234 });
      const reasons = new Inbox<CloseReason>();
      const opened = new Inbox<Channel>();
      const app = express();
      app.use(live);
      app.get('/any', (req) => {
        req.channel!.onClose((reason) => reasons.push(reason));
        opened.push(req.channel!);
      });
      const s = await serve(t, app, live);
      const ws = await openWebSocket(t, `${s.wsUrl}/any`);
      const wsClosed = once(ws, 'close');
      const stream = await openSse(t, `${s.url}/any`);
      const poll = request(s.server).get('/any').then((r) => r);
      for (let i = 0; i < 3; i++) await opened.next();
      await withTimeout(live.close(), 2000, 'live.close()');
      assert.deepEqual([await reasons.next(), await reasons.next(), await reasons.next()], ['shutdown', 'shutdown', 'shutdown']);
      const [code] = (await withTimeout(wsClosed, 2000, 'the WebSocket close')) as [number];
      assert.equal(code, 1001);
      await withTimeout(stream.ended, 2000, 'the end of the event stream');
      const chunks: string[] = [];
      while (stream.chunks.size > 0) chunks.push(await stream.chunks.next());
      assert.equal(chunks.join(''), 'retry: 1234\n\n');
      assert.equal((await poll).status, 200);
      assert.equal(live.channels.size, 0);
    });
  });
});
