import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request, type IncomingMessage } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { channels, type Channel, type ChannelsOptions, type CloseReason, type Message } from '../../lib/index.js';
import { deferred, Inbox, openWebSocket, rawExchange, serve, withTimeout, wsInbox, type Served } from '../support/harness.js';
import { rawWebSocket } from '../support/live-server.js';

/** An Express app with `live` whose `/ws` route hands each channel to `route`. */
async function wsServer(
  t: TestContext,
  route: (ch: Channel) => void | Promise<void>,
  options: ChannelsOptions = {},
): Promise<Served & { live: ReturnType<typeof channels> }> {
  const live = channels({ heartbeat: 0, ...options });
  const app = express();
  app.use(live);
  app.get('/ws', (req) => void route(req.channel!));
  app.get('/plain', (_req, res) => void res.send('still serving'));
  const served = await serve(t, app, live);
  return { ...served, live };
}

/** Claims the channel (with a no-op onClose) and hands it to the test. */
function claimAndKeep(ch: Channel, opened: Inbox<Channel>): void {
  ch.onClose(() => undefined);
  opened.push(ch);
}

/** Records a channel's close reason and resolves with it. */
function closed(ch: Channel): Promise<CloseReason> {
  const done = deferred<CloseReason>();
  ch.onClose(done.resolve);
  return withTimeout(done.promise, 2000, 'onClose');
}

/** A raw upgrade request with RFC 6455's sample key, and the given version header if any. */
function handshake(version: string | undefined): string {
  const versionLine = version === undefined ? '' : `Sec-WebSocket-Version: ${version}\r\n`;
  return `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${versionLine}\r\n`;
}

/** Sends a raw upgrade request and returns the (non-101) response with its body. */
async function rawUpgrade(url: string, headers: Record<string, string>): Promise<{ res: IncomingMessage; body: string }> {
  const req = request(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', ...headers } });
  req.end();
  const [res] = (await withTimeout(once(req, 'response'), 2000, 'the upgrade response')) as [IncomingMessage];
  res.setEncoding('utf8');
  let body = '';
  for await (const chunk of res) body += chunk as string;
  return { res, body };
}

describe('WebSocket channel', () => {
  it('is a websocket channel with a 22-character random id, open once claimed', async (t) => {
    const seen = new Inbox<Channel>();
    const s = await wsServer(t, (ch) => {
      ch.onReceive(() => undefined);
      seen.push(ch);
    });
    await openWebSocket(t, `${s.wsUrl}/ws`);
    await openWebSocket(t, `${s.wsUrl}/ws`);
    const [a, b] = [await seen.next(), await seen.next()];
    assert.equal(a.transport, 'websocket');
    assert.equal(a.isWebSocket, true);
    assert.equal(a.isOpen, true);
    assert.equal(a.closeReason, undefined);
    assert.match(a.id, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a.id, b.id);
    assert.deepEqual(new Set(s.live.channels), new Set([a, b]));
  });

  it('echoes text as text and binary as binary', async (t) => {
    const s = await wsServer(t, (ch) => ch.onReceive((m) => ch.send(m)));
    const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
    const inbox = wsInbox(ws);
    ws.send('héllo');
    ws.send(Buffer.from([0, 1, 2, 255]));
    ws.send('');
    const text = await inbox.next();
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString('utf8'), 'héllo');
    const binary = await inbox.next();
    assert.equal(binary.isBinary, true);
    assert.deepEqual([...binary.data], [0, 1, 2, 255]);
    const empty = await inbox.next();
    assert.equal(empty.isBinary, false);
    assert.equal(empty.data.length, 0);
  });

  it('hands onReceive a string for text frames and a Buffer for binary frames', async (t) => {
    const received = new Inbox<Message>();
    const s = await wsServer(t, (ch) => ch.onReceive((m) => received.push(m)));
    const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
    ws.send('text');
    ws.send(new Uint8Array([7, 8]));
    assert.equal(await received.next(), 'text');
    const bytes = await received.next();
    assert.ok(Buffer.isBuffer(bytes));
    assert.deepEqual([...bytes], [7, 8]);
  });

  it('sends a Uint8Array as binary and drops status and headers of a response map', async (t) => {
    const s = await wsServer(t, (ch) => {
      assert.equal(ch.send({ status: 500, headers: { 'x-dropped': 'yes' }, body: 'map body' }), true);
      assert.equal(ch.send(new Uint8Array([1, 2, 3])), true);
    });
    const ws = new WebSocket(`${s.wsUrl}/ws`);
    t.after(() => ws.terminate());
    const inbox = wsInbox(ws);
    const [upgradeRes] = (await withTimeout(once(ws, 'upgrade'), 2000, 'upgrade')) as [IncomingMessage];
    assert.equal(upgradeRes.statusCode, 101);
    assert.equal(upgradeRes.headers['x-dropped'], undefined);
    const first = await inbox.next();
    assert.deepEqual([first.isBinary, first.data.toString()], [false, 'map body']);
    const second = await inbox.next();
    assert.deepEqual([second.isBinary, [...second.data]], [true, [1, 2, 3]]);
  });

  describe('messages that arrive before onReceive', () => {
    for (const claim of ['onClose', 'send'] as const) {
      it(`holds them and delivers them in order when the handler awaits after claiming with ${claim}`, async (t) => {
        const registerNow = deferred();
        const received = new Inbox<Message>();
        const s = await wsServer(t, async (ch) => {
          if (claim === 'onClose') ch.onClose(() => undefined);
          else ch.send('ready');
          await registerNow.promise;
          ch.onReceive((m) => received.push(m));
        });
        const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
        if (claim === 'send') assert.equal((await wsInbox(ws).next()).data.toString(), 'ready');
        for (let i = 1; i <= 5; i++) ws.send(`early ${i}`);
        // ws answers a ping after the frames before it were read: the five are on the server.
        ws.ping();
        await withTimeout(once(ws, 'pong'), 2000, 'pong');
        assert.equal(received.size, 0);
        registerNow.resolve();
        for (let i = 6; i <= 8; i++) ws.send(`late ${i}`);
        const got: Message[] = [];
        for (let i = 0; i < 8; i++) got.push(await received.next());
        assert.deepEqual(got, ['early 1', 'early 2', 'early 3', 'early 4', 'early 5', 'late 6', 'late 7', 'late 8']);
      });
    }

    it('stops reading past maxHeldMessages and loses nothing', async (t) => {
      const registerNow = deferred();
      const received = new Inbox<Message>();
      const s = await wsServer(
        t,
        async (ch) => {
          ch.send('ready');
          await registerNow.promise;
          ch.onReceive((m) => received.push(m));
        },
        { maxHeldMessages: 4 },
      );
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      await wsInbox(ws).next();
      for (let i = 0; i < 50; i++) ws.send(String(i));
      registerNow.resolve();
      const got: Message[] = [];
      for (let i = 0; i < 50; i++) got.push(await received.next());
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => String(i)),
      );
    });
  });

  describe('heartbeat', () => {
    it("closes a peer that stops answering pings with 'client-away'", async (t) => {
      const reasons = new Inbox<CloseReason>();
      const s = await wsServer(t, (ch) => ch.onClose((r) => reasons.push(r)), { heartbeat: 50 });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`, { autoPong: false });
      let pings = 0;
      ws.on('ping', () => pings++);
      assert.equal(await reasons.next(2000, 'the client-away close'), 'client-away');
      const [code] = (await withTimeout(once(ws, 'close'), 2000, 'the client close')) as [number];
      assert.ok(pings >= 2, `the peer missed ${pings} pings before being closed`);
      // The dead peer gets no close handshake: the connection is cut.
      assert.equal(code, 1006);
      assert.equal(s.live.channels.size, 0);
    });

    it('keeps a peer that answers pings open', async (t) => {
      const reasons = new Inbox<CloseReason>();
      const opened = new Inbox<Channel>();
      const s = await wsServer(
        t,
        (ch) => {
          ch.onClose((r) => reasons.push(r));
          opened.push(ch);
        },
        { heartbeat: 50 },
      );
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      const ch = await opened.next();
      for (let i = 0; i < 6; i++) await withTimeout(once(ws, 'ping'), 1000, `ping ${i + 1}`);
      assert.equal(ch.isOpen, true);
      assert.equal(reasons.size, 0);
    });
  });

  describe('maxPayload', () => {
    it('closes with 1009 on a frame one byte over maxPayload, after delivering the one at the limit', async (t) => {
      const received = new Inbox<Message>();
      const s = await wsServer(t, (ch) => ch.onReceive((m) => received.push(m)), { maxPayload: 1024 });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send(Buffer.alloc(1024));
      ws.send(Buffer.alloc(1025));
      const [code] = (await withTimeout(once(ws, 'close'), 2000, 'the close')) as [number];
      assert.equal(code, 1009);
      assert.equal(((await received.next()) as Buffer).length, 1024);
      assert.equal(received.size, 0);
      assert.equal(s.live.channels.size, 0);
    });

    it("reports 'message-too-big' to onClose when a frame passes maxPayload", async (t) => {
      const reasons = new Inbox<CloseReason>();
      const s = await wsServer(t, (ch) => ch.onClose((r) => reasons.push(r)), { maxPayload: 1024 });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send(Buffer.alloc(1025));
      assert.equal(await reasons.next(), 'message-too-big');
    });

    it('survives a 1 MiB + 1 frame with the default maxPayload and keeps serving', async (t) => {
      const s = await wsServer(t, (ch) => ch.onReceive((m) => ch.send(m)));
      const big = await openWebSocket(t, `${s.wsUrl}/ws`);
      big.send(Buffer.alloc(1024 * 1024 + 1));
      const [code] = (await withTimeout(once(big, 'close'), 2000, 'the close')) as [number];
      assert.equal(code, 1009);
      // The same process still answers plain requests and new WebSockets.
      assert.equal(await (await fetch(`${s.url}/plain`)).text(), 'still serving');
      const next = await openWebSocket(t, `${s.wsUrl}/ws`);
      next.send('alive?');
      assert.equal((await wsInbox(next).next()).data.toString(), 'alive?');
    });
  });

  it("closes with 1007 and 'invalid-payload-data' on a text frame that is not UTF-8", async (t) => {
    const reasons = new Inbox<CloseReason>();
    const received = new Inbox<Message>();
    const s = await wsServer(t, (ch) => {
      ch.onReceive((m) => received.push(m));
      ch.onClose((r) => reasons.push(r));
    });
    const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
    // The ws client does not validate what it sends: a lone 0xff byte as a text frame.
    ws.send(Buffer.from([0xff]), { binary: false });
    const [code] = (await withTimeout(once(ws, 'close'), 2000, 'the close')) as [number];
    assert.equal(code, 1007);
    assert.equal(await reasons.next(), 'invalid-payload-data');
    assert.equal(received.size, 0);
  });

  describe('maxBufferedBytes', () => {
    // Writes of one tick stay corked until the next, so the second send of a tick finds the
    // first still buffered: a deterministic way to pass the limit.
    const chunk = 'x'.repeat(2048);

    it("with bufferPolicy 'drop', skips the message (send returns false, counted) and stays open", async (t) => {
      const results = deferred<{ first: boolean; second: boolean; open: boolean }>();
      const s = await wsServer(
        t,
        (ch) => {
          ch.onClose(() => undefined);
          const first = ch.send(chunk);
          const second = ch.send(chunk);
          results.resolve({ first, second, open: ch.isOpen });
          setImmediate(() => ch.send('after'));
        },
        { maxBufferedBytes: 1024, bufferPolicy: 'drop' },
      );
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      assert.deepEqual(await results.promise, { first: true, second: false, open: true });
      assert.equal((await wsInbox(ws).next()).data.length, 2048);
      assert.equal((await wsInbox(ws).next()).data.toString(), 'after');
      assert.equal(s.live.stats().dropped, 1);
    });

    it("with bufferPolicy 'close' (the default), closes with 'slow-consumer' and 1008", async (t) => {
      const reasons = new Inbox<CloseReason>();
      const results = deferred<boolean[]>();
      const s = await wsServer(
        t,
        (ch) => {
          ch.onClose((r) => reasons.push(r));
          results.resolve([ch.send(chunk), ch.send(chunk), ch.send('later')]);
        },
        { maxBufferedBytes: 1024 },
      );
      const ws = new WebSocket(`${s.wsUrl}/ws`);
      t.after(() => ws.terminate());
      const [code] = (await withTimeout(once(ws, 'close'), 2000, 'the close')) as [number];
      assert.deepEqual(await results.promise, [true, false, false]);
      assert.equal(code, 1008);
      assert.equal(await reasons.next(), 'slow-consumer');
    });
  });

  describe('allowedOrigins', () => {
    it('answers a WebSocket from another Origin with 403 and lets allowed and Origin-less clients in', async (t) => {
      const opened = new Inbox<Channel>();
      const s = await wsServer(t, (ch) => claimAndKeep(ch, opened), { allowedOrigins: ['https://app.example'] });
      const refused = new WebSocket(`${s.wsUrl}/ws`, { origin: 'https://evil.example' });
      refused.on('error', () => undefined);
      t.after(() => refused.terminate());
      const [, res] = (await withTimeout(once(refused, 'unexpected-response'), 2000, 'the refusal')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 403);
      const refusedChannel = await opened.next();
      assert.equal(refusedChannel.isOpen, false);
      assert.equal(refusedChannel.send('x'), false);
      const allowed = await openWebSocket(t, `${s.wsUrl}/ws`, { origin: 'https://app.example' });
      assert.equal(allowed.readyState, WebSocket.OPEN);
      // Clients that send no Origin (not browsers) are let in.
      const noOrigin = await openWebSocket(t, `${s.wsUrl}/ws`);
      assert.equal(noOrigin.readyState, WebSocket.OPEN);
    });

    it("closes the refused channel with 'policy-violation'", async (t) => {
      const reasons = new Inbox<CloseReason>();
      const s = await wsServer(t, (ch) => ch.onClose((r) => reasons.push(r)), { allowedOrigins: ['https://app.example'] });
      const refused = new WebSocket(`${s.wsUrl}/ws`, { origin: 'https://evil.example' });
      refused.on('error', () => undefined);
      t.after(() => refused.terminate());
      assert.equal(await reasons.next(), 'policy-violation');
    });
  });

  describe('invalid upgrade requests', () => {
    it('answers a bad Sec-WebSocket-Key with 400 and the reason', async (t) => {
      const reasons = new Inbox<CloseReason>();
      const s = await wsServer(t, (ch) => ch.onClose((r) => reasons.push(r)));
      const { res, body } = await rawUpgrade(`${s.url}/ws`, { 'sec-websocket-key': 'not-a-key', 'sec-websocket-version': '13' });
      assert.equal(res.statusCode, 400);
      assert.equal(body, 'Missing or invalid Sec-WebSocket-Key header');
      assert.equal(await reasons.next(), 'protocol-error');
      assert.equal(s.live.channels.size, 0);
    });

    const versionRefusal =
      'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 47\r\n' +
      'Sec-WebSocket-Version: 13\r\n\r\nMissing or invalid Sec-WebSocket-Version header';
    for (const version of ['8', '12', undefined]) {
      const what = version === undefined ? 'no Sec-WebSocket-Version' : `Sec-WebSocket-Version: ${version}`;
      it(`answers ${what} with 400 and Sec-WebSocket-Version: 13, before any 101, and closes with 'protocol-error'`, async (t) => {
        const reasons = new Inbox<CloseReason>();
        const s = await wsServer(t, (ch) => ch.onClose((r) => reasons.push(r)));
        const raw = await rawExchange(s.port, handshake(version));
        assert.equal(raw, versionRefusal);
        assert.equal(await reasons.next(), 'protocol-error');
        assert.equal(s.live.channels.size, 0);
      });
    }

    it('completes the handshake of Sec-WebSocket-Version: 13 with 101', async (t) => {
      const opened = new Inbox<Channel>();
      const s = await wsServer(t, (ch) => claimAndKeep(ch, opened));
      const client = await withTimeout(rawWebSocket(s.port, '/ws'), 2000, 'the 101');
      t.after(() => client.socket.destroy());
      assert.equal(
        `${client.head}\r\n\r\n${client.rest.toString('latin1')}`,
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      );
      assert.equal((await opened.next()).isOpen, true);
    });

    it('refuses a ws client speaking the version 8 draft and still connects a ws client speaking 13', async (t) => {
      const s = await wsServer(t, (ch) => ch.onReceive((m) => void ch.send(m)));
      const draft = new WebSocket(`${s.wsUrl}/ws`, { protocolVersion: 8 });
      draft.on('error', () => undefined);
      t.after(() => draft.terminate());
      const [, res] = (await withTimeout(once(draft, 'unexpected-response'), 2000, 'the refusal')) as [unknown, IncomingMessage];
      assert.equal(res.statusCode, 400);
      assert.equal(res.headers['sec-websocket-version'], '13');
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      const inbox = wsInbox(ws);
      ws.send('still served');
      const echo = await inbox.next();
      assert.equal(echo.data.toString(), 'still served');
      assert.equal(echo.isBinary, false);
    });

    it('leaves the channel closed: send returns false and close returns false', async (t) => {
      const outcome = deferred<{ sent: boolean; closed: boolean; isOpen: boolean }>();
      const s = await wsServer(t, (ch) => {
        const sent = ch.send('never');
        outcome.resolve({ sent, closed: ch.close(), isOpen: ch.isOpen });
      });
      const { res } = await rawUpgrade(`${s.url}/ws`, { 'sec-websocket-key': 'bad', 'sec-websocket-version': '13' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(await outcome.promise, { sent: false, closed: false, isOpen: false });
    });
  });

  describe('close reasons from the client', () => {
    const cases: [string, (ws: WebSocket) => void, CloseReason][] = [
      ['close code 1000', (ws) => ws.close(1000), 'normal'],
      ['close code 1001', (ws) => ws.close(1001), 'going-away'],
      ['close code 4000', (ws) => ws.close(4000), 'unknown'],
      ['a close frame without a code', (ws) => ws.close(), 'no-status-received'],
      ['a destroyed socket', (ws) => ws.terminate(), 'abnormal'],
    ];
    for (const [how, close, expected] of cases) {
      it(`reports '${expected}' for ${how}`, async (t) => {
        const opened = new Inbox<Channel>();
        const s = await wsServer(t, (ch) => claimAndKeep(ch, opened));
        const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
        const ch = await opened.next();
        const reason = closed(ch);
        close(ws);
        assert.equal(await reason, expected);
        assert.equal(ch.isOpen, false);
        assert.equal(ch.closeReason, expected);
      });
    }
  });

  describe('close()', () => {
    it('is idempotent: true only for the call that closed, and the client gets 1000', async (t) => {
      const results = deferred<boolean[]>();
      const s = await wsServer(t, (ch) => {
        ch.onReceive(() => results.resolve([ch.close(), ch.close(), ch.close('shutdown')]));
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send('close please');
      assert.deepEqual(await results.promise, [true, false, false]);
      const [code] = (await withTimeout(once(ws, 'close'), 2000, 'close')) as [number];
      assert.equal(code, 1000);
    });

    it('sends the close code of the reason given', async (t) => {
      const s = await wsServer(t, (ch) => ch.onReceive((m) => ch.close(m as CloseReason)));
      for (const [reason, code] of [
        ['policy-violation', 1008],
        ['shutdown', 1001],
        ['internal-server-error', 1011],
      ] as const) {
        const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
        ws.send(reason);
        const [got] = (await withTimeout(once(ws, 'close'), 2000, 'close')) as [number];
        assert.equal(got, code, reason);
      }
    });

    it('throws ERR_CHANNEL_INVALID_REASON for a reason that is not documented', async (t) => {
      const thrown = deferred<unknown>();
      const s = await wsServer(t, (ch) => {
        try {
          ch.close('bye' as CloseReason);
        } catch (error) {
          thrown.resolve(error);
        }
      });
      const ws = new WebSocket(`${s.wsUrl}/ws`);
      ws.on('error', () => undefined);
      t.after(() => ws.terminate());
      const error = (await withTimeout(thrown.promise, 2000, 'the throw')) as TypeError & { code: string };
      assert.ok(error instanceof TypeError);
      assert.equal(error.code, 'ERR_CHANNEL_INVALID_REASON');
      assert.equal(error.message, 'close() takes one of the documented close reasons, got "bye"');
    });
  });

  describe('send()', () => {
    it('returns true while open, then false after the server closed, never throwing', async (t) => {
      const results = deferred<boolean[]>();
      const s = await wsServer(t, (ch) => {
        const before = ch.send('one');
        ch.close();
        results.resolve([before, ch.send('two'), ch.send(Buffer.from('three')), ch.send({ body: 'four' })]);
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      assert.deepEqual(await results.promise, [true, false, false, false]);
      await once(ws, 'close');
    });

    it('returns false after the client left, never throwing', async (t) => {
      const opened = new Inbox<Channel>();
      const s = await wsServer(t, (ch) => claimAndKeep(ch, opened));
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      const ch = await opened.next();
      const reason = closed(ch);
      ws.terminate();
      await reason;
      assert.equal(ch.send('too late'), false);
    });

    it('throws a TypeError for data it cannot send, even on an open channel', async (t) => {
      const thrown = deferred<unknown>();
      const s = await wsServer(t, (ch) => {
        ch.onClose(() => undefined);
        try {
          ch.send(123 as unknown as string);
        } catch (error) {
          thrown.resolve(error);
        }
      });
      await openWebSocket(t, `${s.wsUrl}/ws`);
      const error = (await withTimeout(thrown.promise, 2000, 'the throw')) as TypeError & { code: string };
      assert.ok(error instanceof TypeError);
      assert.equal(error.code, 'ERR_CHANNEL_INVALID_DATA');
    });

    it('throws for a response map without a body, which would send nothing on a WebSocket, and for an object that is not a map', async (t) => {
      const thrown = deferred<unknown[]>();
      const s = await wsServer(t, (ch) => {
        ch.onClose(() => undefined);
        const errors: unknown[] = [];
        for (const data of [{ status: 200 }, { type: 'chat', text: 'hi' }]) {
          try {
            ch.send(data as never);
          } catch (error) {
            errors.push({ code: (error as { code?: string }).code, message: (error as Error).message });
          }
        }
        ch.send('still open');
        thrown.resolve(errors);
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      const inbox = wsInbox(ws);
      assert.deepEqual(await withTimeout(thrown.promise, 2000, 'the throws'), [
        {
          code: 'ERR_CHANNEL_INVALID_DATA',
          message: 'send() of a response map without a body sends nothing on a websocket channel (status and headers apply to an HTTP or SSE response only): give it a body',
        },
        {
          code: 'ERR_CHANNEL_INVALID_DATA',
          message: 'send() takes a string, a Buffer/Uint8Array or a response map { status?, headers?, body? }, got an object: send JSON.stringify(value), and JSON.parse the text on the client',
        },
      ]);
      assert.equal((await inbox.next()).data.toString(), 'still open');
    });
  });

  describe('onClose()', () => {
    it('runs a handler registered after the close on the next tick, with the recorded reason', async (t) => {
      const outcome = deferred<{ syncCalls: number; reason: CloseReason }>();
      const s = await wsServer(t, (ch) => {
        ch.onReceive(() => {
          ch.close('policy-violation');
          let calls = 0;
          ch.onClose((reason) => {
            calls++;
            outcome.resolve({ syncCalls: callsAtReturn, reason });
          });
          const callsAtReturn = calls;
        });
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send('x');
      assert.deepEqual(await outcome.promise, { syncCalls: 0, reason: 'policy-violation' });
    });

    it('calls every handler once, even when the channel is closed twice', async (t) => {
      const calls: string[] = [];
      const done = deferred();
      const s = await wsServer(t, (ch) => {
        ch.onClose((r) => calls.push(`a:${r}`));
        ch.onClose((r) => calls.push(`b:${r}`));
        ch.onReceive(() => {
          ch.close();
          ch.close('shutdown');
          setImmediate(done.resolve);
        });
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send('x');
      await withTimeout(done.promise, 2000, 'close');
      await once(ws, 'close');
      assert.deepEqual(calls, ['a:server-close', 'b:server-close']);
    });

    it('runs after the last onReceive when the client sends and closes at once', async (t) => {
      const events: string[] = [];
      const done = deferred();
      const s = await wsServer(t, (ch) => {
        ch.onReceive((m) => events.push(`message ${String(m)}`));
        ch.onClose((r) => {
          events.push(`close ${r}`);
          done.resolve();
        });
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      for (let i = 0; i < 20; i++) ws.send(String(i));
      ws.close(1000);
      await withTimeout(done.promise, 2000, 'onClose');
      assert.deepEqual(events, [...Array.from({ length: 20 }, (_, i) => `message ${i}`), 'close normal']);
    });

    it('runs after held messages are delivered when the client left before onReceive was registered', async (t) => {
      const events: string[] = [];
      const registerNow = deferred();
      const done = deferred();
      const s = await wsServer(t, async (ch) => {
        ch.onClose((r) => {
          events.push(`close ${r}`);
          done.resolve();
        });
        await registerNow.promise;
        ch.onReceive((m) => events.push(`message ${String(m)}`));
      });
      const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
      ws.send('a');
      ws.send('b');
      ws.close(1000);
      await once(ws, 'close');
      registerNow.resolve();
      await withTimeout(done.promise, 2000, 'onClose');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(events, ['message a', 'message b', 'close normal']);
    });
  });
});
