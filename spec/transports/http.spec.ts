import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import compression from 'compression';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { channels, ChannelError, type Channel, type ChannelsOptions, type CloseReason, type Live } from '../../lib/index.js';
import { deferred, Inbox, rawExchange, serve, withTimeout, type Served } from '../support/harness.js';

/** An Express app with `live` (and optionally something before it); `setup` adds routes. */
async function httpServer(
  t: TestContext,
  setup: (app: Express, live: Live) => void,
  before?: (app: Express) => void,
  options: ChannelsOptions = {},
): Promise<Served & { live: Live }> {
  const live = channels({ heartbeat: 0, ...options });
  const app = express();
  before?.(app);
  app.use(live);
  setup(app, live);
  return { ...(await serve(t, app, live)), live };
}

/** A route that parks each request's channel (claimed by onClose) for the test to answer. */
function parking(app: Express, path: string, parked: Inbox<Channel>, reasons?: Inbox<CloseReason>): void {
  app.get(path, (req) => {
    const ch = req.channel!;
    ch.onClose((reason) => reasons?.push(reason));
    parked.push(ch);
  });
}

/** GET with Node's client, resolving with the response as soon as its head arrives. */
async function getResponse(t: TestContext, url: string, agent?: Agent): Promise<IncomingMessage> {
  const req = get(url, agent === undefined ? {} : { agent });
  t.after(() => req.destroy());
  const [res] = (await withTimeout(once(req, 'response'), 2000, `the response of ${url}`)) as [IncomingMessage];
  return res;
}

async function readBody(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk as string;
  return body;
}

describe('HTTP channel', () => {
  describe('long-poll (close-after-send, the default)', () => {
    it("answers the waiting request with one send, closes, and reports 'server-close'", async (t) => {
      const parked = new Inbox<Channel>();
      const reasons = new Inbox<CloseReason>();
      const s = await httpServer(t, (app) => parking(app, '/poll', parked, reasons));
      const response = getResponse(t, `${s.url}/poll`);
      const ch = await parked.next();
      assert.equal(ch.transport, 'http');
      assert.equal(ch.isWebSocket, false);
      assert.equal(ch.isOpen, true);
      assert.deepEqual([...s.live.channels], [ch]);
      assert.equal(ch.send('the answer'), true);
      assert.equal(ch.isOpen, false);
      assert.equal(ch.send('too late'), false);
      assert.equal(ch.close(), false);
      const res = await response;
      assert.equal(res.statusCode, 200);
      assert.equal(await readBody(res), 'the answer');
      assert.equal(await reasons.next(), 'server-close');
      assert.equal(ch.closeReason, 'server-close');
      assert.equal(s.live.channels.size, 0);
    });

    it('answers with Content-Length, so a proxy passes the answer on without waiting for more (docs/deployment.md)', async (t) => {
      const parked = new Inbox<Channel>();
      const s = await httpServer(t, (app) => parking(app, '/poll', parked));
      const plain = getResponse(t, `${s.url}/poll`);
      (await parked.next()).send('héllo');
      const res = await plain;
      assert.equal(res.headers['content-length'], String(Buffer.byteLength('héllo')));
      assert.equal(res.headers['transfer-encoding'], undefined);
      assert.equal(await readBody(res), 'héllo');
      // A length the application gave wins.
      const own = getResponse(t, `${s.url}/poll`);
      (await parked.next()).send({ headers: { 'Content-Length': '2' }, body: 'ok' });
      assert.equal((await own).headers['content-length'], '2');
    });

    it('a stream says X-Accel-Buffering: no and no-transform unless the first send set its own', async (t) => {
      const parked = new Inbox<Channel>();
      const s = await httpServer(t, (app) => parking(app, '/stream', parked));
      const defaults = getResponse(t, `${s.url}/stream`);
      const first = await parked.next();
      first.send('a', { close: false });
      const res = await defaults;
      assert.equal(res.headers['x-accel-buffering'], 'no');
      assert.equal(res.headers['cache-control'], 'no-cache, no-transform');
      assert.equal(res.headers['content-length'], undefined);
      first.close();
      const own = getResponse(t, `${s.url}/stream`);
      const second = await parked.next();
      second.send({ headers: { 'Cache-Control': 'private, max-age=5', 'X-Accel-Buffering': 'yes' }, body: 'b' }, { close: false });
      const ownRes = await own;
      assert.equal(ownRes.headers['cache-control'], 'private, max-age=5');
      assert.equal(ownRes.headers['x-accel-buffering'], 'yes');
      second.close();
    });

    it('applies status, headers and body of a response map', async (t) => {
      const s = await httpServer(t, (app) =>
        app.get('/poll', (req) => {
          req.channel!.send({ status: 202, headers: { 'content-type': 'application/json; charset=utf-8', 'x-answer': ['a', 'b'] }, body: '{"ok":true}' });
        }),
      );
      const res = await request(s.server).get('/poll');
      assert.equal(res.status, 202);
      assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(res.headers['x-answer'], 'a, b');
      assert.deepEqual(res.body, { ok: true });
    });

    it('sends bytes as they are', async (t) => {
      const s = await httpServer(t, (app) => app.get('/poll', (req) => void req.channel!.send(new Uint8Array([0, 255, 10]))));
      const res = await request(s.server)
        .get('/poll')
        .buffer(true)
        .parse((r, done) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => done(null, Buffer.concat(chunks)));
        });
      assert.deepEqual([...(res.body as Buffer)], [0, 255, 10]);
    });

    it("reports 'client-close' when the waiting client goes away", async (t) => {
      const parked = new Inbox<Channel>();
      const reasons = new Inbox<CloseReason>();
      const s = await httpServer(t, (app) => parking(app, '/poll', parked, reasons));
      const req = get(`${s.url}/poll`);
      req.on('error', () => undefined);
      const ch = await parked.next();
      req.destroy();
      assert.equal(await reasons.next(), 'client-close');
      assert.equal(ch.isOpen, false);
      assert.equal(ch.send('nobody there'), false);
      assert.equal(s.live.channels.size, 0);
    });

    it('answers an unclaimed channel closed by the server with an empty 200 (close() claims first)', async (t) => {
      const s = await httpServer(t, (app) => app.get('/poll', (req) => void req.channel!.close()));
      const res = await request(s.server).get('/poll');
      assert.equal(res.status, 200);
      assert.equal(res.text, '');
    });
  });

  describe('streaming (send with { close: false })', () => {
    for (const behindCompression of [false, true]) {
      it(`delivers chunks one by one${behindCompression ? ' behind compression() middleware' : ''}`, async (t) => {
        const parked = new Inbox<Channel>();
        const reasons = new Inbox<CloseReason>();
        const s = await httpServer(
          t,
          (app) => {
            app.use('/stream', (_req, res, next) => {
              res.setHeader('content-type', 'text/plain; charset=utf-8');
              next();
            });
            parking(app, '/stream', parked, reasons);
          },
          behindCompression ? (app) => app.use(compression({ threshold: 0 })) : undefined,
        );
        const response = fetch(`${s.url}/stream`, { headers: { 'accept-encoding': 'gzip' } });
        const ch = await parked.next();
        // Headers go out with the first chunk, so fetch resolves only then.
        assert.equal(ch.send('chunk 1;', { close: false }), true);
        const res = await withTimeout(response, 2000, 'the response head');
        // no-transform: compression() leaves a stream alone, as CDNs and transforming proxies do.
        assert.equal(res.headers.get('content-encoding'), null);
        assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
        assert.equal(res.headers.get('x-accel-buffering'), 'no');
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        const readChunk = async (): Promise<string> => {
          const { value } = await withTimeout(reader.read(), 2000, 'a chunk');
          return decoder.decode(value);
        };
        assert.equal(await readChunk(), 'chunk 1;');
        // Each chunk is sent only after the client got the one before.
        assert.equal(ch.send('chunk 2;', { close: false }), true);
        assert.equal(await readChunk(), 'chunk 2;');
        assert.equal(ch.send('chunk 3;', { close: false }), true);
        assert.equal(await readChunk(), 'chunk 3;');
        assert.equal(ch.isOpen, true);
        assert.equal(ch.close(), true);
        assert.equal((await withTimeout(reader.read(), 2000, 'the end')).done, true);
        assert.equal(await reasons.next(), 'server-close');
      });
    }

    it('ends the stream with a last send that keeps the default close', async (t) => {
      const s = await httpServer(t, (app) =>
        app.get('/stream', (req) => {
          const ch = req.channel!;
          ch.send('a', { close: false });
          ch.send({ status: 500, headers: { 'x-late': 'dropped' }, body: 'b' }, { close: false });
          ch.send('c');
        }),
      );
      const res = await request(s.server).get('/stream');
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-late'], undefined);
      assert.equal(res.text, 'abc');
    });

    it("reports 'client-close' when a streaming client goes away", async (t) => {
      const parked = new Inbox<Channel>();
      const reasons = new Inbox<CloseReason>();
      const s = await httpServer(t, (app) => parking(app, '/stream', parked, reasons));
      const req = get(`${s.url}/stream`);
      req.on('error', () => undefined);
      const ch = await parked.next();
      ch.send('first', { close: false });
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      await once(res, 'data');
      req.destroy();
      assert.equal(await reasons.next(), 'client-close');
    });
  });

  describe('a slow consumer of a stream', () => {
    it("destroys the socket of a client that stopped reading, a second after its 'slow-consumer' close, and keeps serving a reader", async (t) => {
      const parked = new Inbox<{ ch: Channel; socket: Socket; reason: Promise<CloseReason> }>();
      const s = await httpServer(
        t,
        (app) =>
          app.get('/stream', (req) => {
            const closed = deferred<CloseReason>();
            req.channel!.onClose(closed.resolve);
            parked.push({ ch: req.channel!, socket: req.socket, reason: closed.promise });
          }),
        undefined,
        { maxBufferedBytes: 64 * 1024 },
      );
      // The reader, served before, during and after the slow one's end.
      const response = fetch(`${s.url}/stream`);
      const reader = await parked.next();
      reader.ch.send('first;', { close: false });
      const body = (await withTimeout(response, 2000, 'the response head')).body!.getReader();
      const decoder = new TextDecoder();
      const readChunk = async (): Promise<string> => decoder.decode((await withTimeout(body.read(), 2000, 'a chunk')).value);
      assert.equal(await readChunk(), 'first;');

      // The slow one asks for the stream and never reads it (no 'data' listener).
      const client = connect(s.port, '127.0.0.1');
      client.on('error', () => undefined);
      t.after(() => client.destroy());
      client.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const slow = await parked.next();
      const socketClosed = once(slow.socket, 'close');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      // Fills the client's and the kernel's buffers, then passes maxBufferedBytes.
      let chunks = 0;
      while (slow.ch.send(chunk, { close: false })) {
        assert.ok(++chunks < 4096, 'the stream never passed maxBufferedBytes');
        await new Promise(setImmediate);
      }
      assert.equal(await withTimeout(slow.reason, 2000, 'the slow consumer to close'), 'slow-consumer');
      const closedAt = performance.now();
      assert.equal(reader.ch.send('second;', { close: false }), true);
      assert.equal(await readChunk(), 'second;');

      await withTimeout(socketClosed, 3000, "the slow consumer's socket to be destroyed");
      const held = performance.now() - closedAt;
      assert.equal(slow.socket.destroyed, true);
      assert.ok(held >= 900 && held < 2500, `the socket went ${held.toFixed(0)} ms after the close, not about 1000`);
      assert.equal(reader.ch.send('third;', { close: false }), true);
      assert.equal(await readChunk(), 'third;');
      assert.equal(reader.ch.isOpen, true);
    });

    it('leaves the keep-alive socket of a slow consumer that caught up within the grace to its next request', async (t) => {
      const parked = new Inbox<{ ch: Channel; reason: Promise<CloseReason> }>();
      const s = await httpServer(
        t,
        (app) =>
          app.get('/stream', (req) => {
            const closed = deferred<CloseReason>();
            req.channel!.onClose(closed.resolve);
            parked.push({ ch: req.channel!, reason: closed.promise });
          }),
        undefined,
        { maxBufferedBytes: 64 * 1024 },
      );
      const client = connect(s.port, '127.0.0.1');
      client.on('error', () => undefined);
      t.after(() => client.destroy());
      client.setEncoding('latin1');
      client.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const first = await parked.next();
      const chunk = Buffer.alloc(64 * 1024, 'x');
      while (first.ch.send(chunk, { close: false })) await new Promise(setImmediate);
      assert.equal(await withTimeout(first.reason, 2000, 'the slow consumer to close'), 'slow-consumer');
      const closedAt = performance.now();
      // It reads again, to the end of the stream, and asks for the next one on the same socket.
      const received = new Inbox<string>();
      let tail = '';
      client.on('data', (text: string) => {
        tail = (tail + text).slice(-64);
        received.push(tail);
      });
      while (!(await received.next()).endsWith('\r\n0\r\n\r\n'));
      assert.ok(performance.now() - closedAt < 900, 'the client caught up within the grace');
      client.write('GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const second = await parked.next();
      // Served past the grace of the first response: its timer must not take this socket.
      let ticks = 0;
      while (performance.now() - closedAt < 1500) {
        assert.equal(second.ch.send(`tick ${++ticks};`, { close: false }), true);
        while (!(await received.next()).includes(`tick ${ticks};`));
      }
      assert.equal(client.destroyed, false);
      assert.equal(second.ch.isOpen, true);
    });
  });

  describe('responses without a body', () => {
    it('writes no body for HEAD', async (t) => {
      const s = await httpServer(t, (app) => app.get('/poll', (req) => void req.channel!.send('body for GET only')));
      const raw = await rawExchange(s.port, 'HEAD /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const [head, body] = raw.split('\r\n\r\n');
      assert.match(head ?? '', /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(body, '');
    });

    for (const status of [204, 304]) {
      it(`writes no body for a first send with status ${status}`, async (t) => {
        const s = await httpServer(t, (app) => app.get('/poll', (req) => void req.channel!.send({ status, body: 'must not be sent' })));
        const raw = await rawExchange(s.port, 'GET /poll HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        const [head, body] = raw.split('\r\n\r\n');
        assert.match(head ?? '', new RegExp(`^HTTP/1\\.1 ${status} `));
        assert.doesNotMatch(head ?? '', /transfer-encoding/i);
        assert.equal(body, '');
      });
    }

    it('keeps a keep-alive connection usable after HEAD and 204 answers', async (t) => {
      const s = await httpServer(t, (app) => {
        app.get('/head', (req) => void req.channel!.send('body for GET only'));
        app.get('/empty', (req) => void req.channel!.send({ status: 204, body: 'ignored' }));
      });
      // Three pipelined requests on one socket: a leaked body would corrupt the next answer.
      const raw = await rawExchange(
        s.port,
        'HEAD /head HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\nGET /head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      const statusLines = raw.split('\r\n').filter((line) => line.startsWith('HTTP/1.1'));
      assert.deepEqual(statusLines, ['HTTP/1.1 200 OK', 'HTTP/1.1 204 No Content', 'HTTP/1.1 200 OK']);
      const bodyAt = raw.indexOf('body for GET only');
      assert.ok(bodyAt > raw.lastIndexOf('HTTP/1.1 200 OK'), 'the only body comes after the last status line');
      assert.equal(raw.split('body for GET only').length, 2, 'the body appears once, after the GET');
    });
  });

  it("applies the first send's status and headers after a claim by onClose (http-kit's long-polling example)", async (t) => {
    const parked = new Inbox<Channel>();
    const s = await httpServer(t, (app) => parking(app, '/poll', parked));
    const response = getResponse(t, `${s.url}/poll`);
    const ch = await parked.next();
    ch.send({ status: 201, headers: { 'content-type': 'application/json; charset=utf-8', 'x-answer': 'yes' }, body: '[1]' });
    const res = await response;
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(res.headers['x-answer'], 'yes');
    assert.equal(await readBody(res), '[1]');
  });

  it("closes a claimed channel with 'server-close' when something else answers the request", async (t) => {
    const reasons = new Inbox<CloseReason>();
    const s = await httpServer(t, (app) => {
      app.get('/poll', (req) => {
        req.channel!.onClose((reason) => reasons.push(reason));
        throw new Error('route failed after claiming');
      });
      app.use((_error: unknown, _req: Request, res: Response, _next: NextFunction) => void res.status(500).end());
    });
    const res = await request(s.server).get('/poll');
    assert.equal(res.status, 500);
    assert.equal(await reasons.next(), 'server-close');
    assert.equal(s.live.channels.size, 0);
  });

  it('gives each request on a reused keep-alive socket its own channel (http-kit #375)', async (t) => {
    const seen = new Inbox<{ id: string; socket: Socket }>();
    const s = await httpServer(t, (app) =>
      app.get('/poll', (req) => {
        const ch = req.channel!;
        seen.push({ id: ch.id, socket: req.socket });
        ch.send(ch.id);
      }),
    );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push(await readBody(await getResponse(t, `${s.url}/poll`, agent)));
    const [a, b, c] = [await seen.next(), await seen.next(), await seen.next()];
    assert.equal(a.socket, b.socket, 'the agent reused the connection');
    assert.equal(b.socket, c.socket);
    assert.equal(new Set([a.id, b.id, c.id]).size, 3);
    assert.deepEqual(bodies, [a.id, b.id, c.id]);
  });

  it('throws ERR_CHANNEL_RESPONSE_SENT when the route already answered', async (t) => {
    const thrown = deferred<unknown>();
    const s = await httpServer(t, (app) =>
      app.get('/answered', (req, res) => {
        res.send('plain answer');
        try {
          req.channel!.send('channel answer');
        } catch (error) {
          thrown.resolve(error);
        }
      }),
    );
    const res = await request(s.server).get('/answered');
    assert.equal(res.text, 'plain answer');
    const error = (await withTimeout(thrown.promise, 2000, 'the throw')) as ChannelError;
    assert.ok(error instanceof ChannelError);
    assert.equal(error.code, 'ERR_CHANNEL_RESPONSE_SENT');
    assert.equal(error.message, 'cannot claim the http channel of GET /answered: a response was already sent on it');
  });

  it('throws on a header-injection attempt, writes nothing and leaves no open channel behind', async (t) => {
    const outcome = deferred<{ code: unknown; headersSent: boolean }>();
    const s = await httpServer(t, (app) =>
      app.get('/poll', (req, res) => {
        try {
          req.channel!.send({ headers: { 'x-evil': 'a\r\nSet-Cookie: pwned=1' }, body: 'x' });
        } catch (error) {
          outcome.resolve({ code: (error as { code?: unknown }).code, headersSent: res.headersSent });
          res.status(400).send('refused');
        }
      }),
    );
    const res = await request(s.server).get('/poll');
    assert.deepEqual(await withTimeout(outcome.promise, 2000, 'the throw'), { code: 'ERR_INVALID_CHAR', headersSent: false });
    assert.equal(res.status, 400);
    assert.equal(res.headers['set-cookie'], undefined);
    assert.equal(res.text, 'refused');
    assert.equal(s.live.channels.size, 0);
  });
});
