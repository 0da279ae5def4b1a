import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import compression from 'compression';
import { EventSource } from 'eventsource';
import express, { type Express } from 'express';
import { channels, type Channel, type ChannelsOptions, type CloseReason, type Live } from '../../lib/index.js';
import { testScope, within, type TestScope, type TestServer } from '../../lib/testing/index.js';
import { deferred, Inbox, rawExchange } from '../support/harness.js';

/** An Express app with `live`; `setup` adds the routes (and anything before `live`). */
async function sseServer(
  t: TestContext,
  setup: (app: Express, live: Live) => void,
  options: ChannelsOptions = {},
  before?: (app: Express) => void,
): Promise<TestServer & { live: Live; scope: TestScope }> {
  const live = channels({ heartbeat: 0, ...options });
  const app = express();
  before?.(app);
  app.use(live);
  setup(app, live);
  const scope = testScope(t);
  return { ...(await scope.listen(app, { live })), live, scope };
}

/** A real EventSource (the `eventsource` package), closed after the test. */
function eventSource(t: TestContext, url: string): EventSource {
  const es = new EventSource(url);
  t.after(() => es.close());
  return es;
}

describe('SSE channel', () => {
  it('writes exactly the event-stream headers and is an sse channel', async (t) => {
    const seen = deferred<Channel>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.send('hi');
        seen.resolve(req.channel!);
      }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal(stream.status, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(stream.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(stream.headers['x-accel-buffering'], 'no');
    assert.equal(stream.headers['content-encoding'], undefined);
    assert.equal((await stream.next()).data, 'hi');
    const ch = await seen.promise;
    assert.equal(ch.transport, 'sse');
    assert.equal(ch.isWebSocket, false);
    assert.equal(ch.isOpen, true);
  });

  it('delivers data with \\n, \\r and \\r\\n intact to a real EventSource', async (t) => {
    const texts = ['line 1\nline 2', 'cr\rsplit', 'crlf\r\nsplit', 'trailing\n', '\n\nleading blank lines', 'plain'];
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        for (const text of texts) req.channel!.send(text);
      }),
    );
    const es = eventSource(t, s.url('/events'));
    const received = new Inbox<string>();
    es.onmessage = (event) => received.push(event.data as string);
    const got: string[] = [];
    for (let i = 0; i < texts.length; i++) got.push(await received.next());
    // EventSource rebuilds every line end as \n.
    assert.deepEqual(got, ['line 1\nline 2', 'cr\nsplit', 'crlf\nsplit', 'trailing\n', '\n\nleading blank lines', 'plain']);
  });

  it('turns opts.event and opts.id into fields: typed events and lastEventId', async (t) => {
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.send('{"n":1}', { event: 'update', id: 'u-1' });
        req.channel!.send('numbered', { id: 2 });
      }),
    );
    const es = eventSource(t, s.url('/events'));
    const updates = new Inbox<MessageEvent>();
    const messages = new Inbox<MessageEvent>();
    es.addEventListener('update', (event) => updates.push(event));
    es.onmessage = (event) => messages.push(event);
    const update = await updates.next();
    assert.equal(update.data, '{"n":1}');
    assert.equal(update.lastEventId, 'u-1');
    const message = await messages.next();
    assert.equal(message.data, 'numbered');
    assert.equal(message.lastEventId, '2');
  });

  it('throws a TypeError for an event or id with CR, LF or NUL before anything is written', async (t) => {
    const errors = new Inbox<{ code: unknown; message: string; headersSent: boolean; isOpen: boolean }>();
    const s = await sseServer(t, (app, live) =>
      app.get('/events', (req, res) => {
        const ch = req.channel!;
        for (const options of [{ event: 'a\nb' }, { event: 'x\r' }, { id: 'nul\0' }]) {
          try {
            ch.send('must not appear', options);
          } catch (error) {
            const e = error as TypeError & { code?: string };
            assert.ok(e instanceof TypeError);
            errors.push({ code: e.code, message: e.message, headersSent: res.headersSent, isOpen: live.channels.has(ch) });
          }
        }
        ch.send('first', { event: 'ok' });
        try {
          ch.send('must not appear either', { event: 'data: injected\n\ndata: x' });
        } catch {
          ch.send('second', { event: 'ok' });
        }
      }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.deepEqual(await errors.next(), { code: 'ERR_CHANNEL_INVALID_FIELD', message: 'SSE event must not contain CR, LF or NUL: "a\\nb"', headersSent: false, isOpen: false });
    assert.deepEqual(await errors.next(), { code: 'ERR_CHANNEL_INVALID_FIELD', message: 'SSE event must not contain CR, LF or NUL: "x\\r"', headersSent: false, isOpen: false });
    assert.deepEqual(await errors.next(), { code: 'ERR_CHANNEL_INVALID_FIELD', message: 'SSE id must not contain CR, LF or NUL: "nul\\u0000"', headersSent: false, isOpen: false });
    assert.deepEqual(await stream.next(), { event: 'ok', id: undefined, data: 'first' });
    assert.deepEqual(await stream.next(), { event: 'ok', id: undefined, data: 'second' });
    assert.equal(stream.chunks.join(''), 'event: ok\ndata: first\n\nevent: ok\ndata: second\n\n');
  });

  it('writes a comment heartbeat every heartbeat period', async (t) => {
    const s = await sseServer(t, (app) => app.get('/events', (req) => req.channel!.onClose(() => undefined)), { heartbeat: 50 });
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal(await stream.nextComment(1000), '', 'a heartbeat');
    assert.equal(await stream.nextComment(1000), '', 'a second heartbeat');
    assert.equal(stream.events.length, 0);
  });

  for (const behindCompression of [false, true]) {
    it(`flushes each event at once${behindCompression ? ' behind compression() middleware' : ''}`, async (t) => {
      const next = new Inbox<void>();
      const s = await sseServer(
        t,
        (app) =>
          app.get('/events', async (req) => {
            const ch = req.channel!;
            for (let i = 1; i <= 3; i++) {
              ch.send(`event ${i}`);
              // The next event is sent only once the client has this one.
              await next.next(2000, `the client to receive event ${i}`);
            }
          }),
        {},
        behindCompression ? (app) => app.use(compression({ threshold: 0 })) : undefined,
      );
      const stream = await s.scope.eventStream(s.url('/events'), { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(stream.headers['content-encoding'], undefined);
      for (let i = 1; i <= 3; i++) {
        assert.equal((await stream.next()).data, `event ${i}`);
        next.push();
      }
    });
  }

  it("reports 'client-close' when the client goes away", async (t) => {
    const reasons = new Inbox<CloseReason>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.onClose((reason) => reasons.push(reason));
        req.channel!.send('hello');
      }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    await stream.next();
    stream.close();
    assert.equal(await reasons.next(), 'client-close');
    assert.equal(s.live.channels.size, 0);
  });

  it("ends the stream on close() and reports 'server-close'; later sends return false", async (t) => {
    const results = deferred<boolean[]>();
    const reasons = new Inbox<CloseReason>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        const ch = req.channel!;
        ch.onClose((reason) => reasons.push(reason));
        results.resolve([ch.send('only'), ch.close(), ch.close(), ch.send('after')]);
      }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal((await stream.next()).data, 'only');
    assert.equal((await stream.closed(2000)).reason, 'end', 'the end of the stream');
    assert.deepEqual(await results.promise, [true, true, false, false]);
    assert.equal(await reasons.next(), 'server-close');
  });

  it('applies status and headers of the first send only', async (t) => {
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.send({ status: 201, headers: { 'x-stream': 'one' }, body: 'first' });
        req.channel!.send({ status: 500, headers: { 'x-late': 'dropped' }, body: 'second' });
      }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal(stream.status, 201);
    assert.equal(stream.headers['x-stream'], 'one');
    assert.equal(stream.headers['x-late'], undefined);
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal((await stream.next()).data, 'first');
    assert.equal((await stream.next()).data, 'second');
  });

  it('writes the default status and headers when claimed by onClose, before any send', async (t) => {
    const parked = new Inbox<Channel>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.onClose(() => undefined);
        parked.push(req.channel!);
      }),
    );
    // The headers are out at the claim: the response arrives before anything is sent.
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal(stream.status, 200);
    const ch = await parked.next();
    assert.equal(ch.send({ status: 201, headers: { 'x-too-late': 'yes' }, body: 'data only' }), true);
    assert.equal(stream.headers['x-too-late'], undefined);
    assert.equal((await stream.next()).data, 'data only');
  });

  it('keeps headers set by earlier middleware (CORS and the like)', async (t) => {
    const s = await sseServer(
      t,
      (app) => app.get('/events', (req) => req.channel!.send('x')),
      {},
      (app) =>
        app.use((_req, res, next) => {
          res.setHeader('access-control-allow-origin', '*');
          next();
        }),
    );
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal(stream.headers['access-control-allow-origin'], '*');
  });

  it('throws on a header-injection attempt in a header value and writes nothing', async (t) => {
    const outcome = deferred<{ code: unknown; headersSent: boolean; open: number }>();
    const s = await sseServer(t, (app, live) =>
      app.get('/events', (req, res) => {
        try {
          req.channel!.send({ headers: { 'x-evil': 'a\r\nSet-Cookie: pwned=1' }, body: 'x' });
        } catch (error) {
          outcome.resolve({ code: (error as { code?: unknown }).code, headersSent: res.headersSent, open: live.channels.size });
          res.status(400).send('refused');
        }
      }),
    );
    const response = await fetch(s.url('/events'), { headers: { accept: 'text/event-stream' } });
    assert.deepEqual(await within(outcome.promise, 2000, 'the throw'), { code: 'ERR_INVALID_CHAR', headersSent: false, open: 0 });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('set-cookie'), null);
    assert.equal(await response.text(), 'refused');
  });

  it('writes no body on a HEAD request, even if the handler sends', async (t) => {
    const reasons = new Inbox<CloseReason>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req) => {
        req.channel!.onClose((reason) => reasons.push(reason));
        req.channel!.send('not for HEAD');
      }),
    );
    const raw = await rawExchange(s.port, 'HEAD /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n');
    const [head = '', body] = raw.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\ncontent-type: text\/event-stream; charset=utf-8/i);
    assert.equal(body, '');
    assert.equal(await reasons.next(), 'client-close');
  });

  it("hands the stream to its socket: Node lets go of the response, no keep-alive timeout or closeIdleConnections() ends it, and res.on('close') hears its end", async (t) => {
    const claimed = deferred<{ channel: Channel; res: ServerResponse; socket: Socket }>();
    const heard: string[] = [];
    const reasons = new Inbox<CloseReason>();
    const s = await sseServer(t, (app) =>
      app.get('/events', (req, res) => {
        const channel = req.channel!;
        channel.onClose((reason) => reasons.push(reason));
        channel.send('first');
        res.on('close', () => heard.push('res close'));
        claimed.resolve({ channel, res, socket: req.socket });
      }),
    );
    s.server.keepAliveTimeout = 1; // would end an idle keep-alive connection at once
    const stream = await s.scope.eventStream(s.url('/events'));
    assert.equal((await stream.next()).data, 'first');
    const { channel, res, socket } = await claimed.promise;
    if (!res.writableFinished) await once(res, 'finish');
    await new Promise(setImmediate); // the response's own 'close' would come on the next tick
    assert.equal(res.socket, null, 'detached from its socket');
    assert.equal(socket.timeout, 0);
    assert.deepEqual(heard, [], "no 'close' while the stream is open");
    assert.equal(channel.send('second'), true);
    assert.equal((await stream.next()).data, 'second');
    // What server.close() does first (Node 19+): an open stream is not an idle connection.
    s.server.closeIdleConnections();
    assert.equal(channel.send('third'), true);
    assert.equal((await stream.next()).data, 'third');
    stream.close();
    assert.equal(await reasons.next(), 'client-close');
    assert.deepEqual(heard, ['res close']);
  });

  it('drops the connection of a client that pipelines a request behind its event stream, and answers nothing onto the stream', async (t) => {
    const reasons = new Inbox<CloseReason>();
    const s = await sseServer(t, (app) => {
      app.get('/events', (req) => {
        req.channel!.onClose((reason) => reasons.push(reason));
        req.channel!.send('hello');
      });
      app.get('/other', (_req, res) => res.end('ANSWERED'));
    });
    const raw = await rawExchange(s.port, 'GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\nGET /other HTTP/1.1\r\nHost: x\r\n\r\n');
    // The stream's own head may or may not have left before the connection was dropped.
    assert.doesNotMatch(raw, /ANSWERED|HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1/);
    assert.equal(await reasons.next(), 'client-close');
  });
});
