import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it, type TestContext } from 'node:test';
import * as wsModule from 'ws';
import { WebSocketServer, type ServerOptions, type WebSocket } from 'ws';
import { LazyEncodedMessage } from '../../lib/transports/encoded-message.js';
import { WebSocketWire } from '../../lib/transports/websocket.js';
import type { WireSink } from '../../lib/transports/wire.js';
import { buildServerFrame, canBuildFrames, closeCodeOfError, senderIdle, webSocketInternals } from '../../lib/transports/ws-internals.js';
import { deferred, openWebSocket, serve, wsInbox, type WsMessage } from '../support/harness.js';

// The ws this suite checks: an upgrade that moves a field we read fails a test naming it.
const wsPackage = createRequire(import.meta.url).resolve('ws/package.json');
const wsVersion = (JSON.parse(readFileSync(wsPackage, 'utf8')) as { version: string }).version;

/** A server-side ws connection (no library on it) and its client, on 127.0.0.1. */
interface Pair {
  server: WebSocket;
  client: WebSocket;
  /** The socket the upgrade arrived on. */
  socket: Duplex;
}

async function connectPair(t: TestContext, options: ServerOptions = {}): Promise<Pair> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, ...options });
  const served = await serve(t, (_req, res) => void res.writeHead(404).end());
  const accepted = deferred<{ server: WebSocket; socket: Duplex }>();
  served.server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (server) => accepted.resolve({ server, socket }));
  });
  const client = await openWebSocket(t, served.wsUrl);
  const { server, socket } = await accepted.promise;
  t.after(() => server.terminate());
  return { server, client, socket };
}

/** A sink that fails the test if the wire reports a failure. */
function quietSink(): WireSink {
  return {
    received() {},
    ended() {},
    control() {},
    released() {},
    failed(error) {
      assert.fail(`the wire reported a failure: ${String(error)}`);
    },
  };
}

/**
 * A wire built while ws's `field` reads `value`, as a ws that lacks it or shapes it otherwise
 * would present it; the field is put back at once, so ws itself keeps working.
 */
function wireSeeing(ws: WebSocket, field: '_socket' | '_sender', value: unknown, session = false): WebSocketWire {
  const internals = ws as unknown as Record<string, unknown>;
  const real = internals[field];
  internals[field] = value;
  try {
    return new WebSocketWire(ws, quietSink(), { session });
  } finally {
    internals[field] = real;
  }
}

/** Counts the calls to `ws.send` on this connection from now on. */
function countSends(t: TestContext, ws: WebSocket): { readonly calls: number } {
  const counter = { calls: 0 };
  const send = ws.send;
  ws.send = function countedSend(this: WebSocket, ...args: Parameters<WebSocket['send']>) {
    counter.calls++;
    return send.apply(this, args);
  } as WebSocket['send'];
  t.after(() => {
    ws.send = send;
  });
  return counter;
}

async function nextMessages(ws: WebSocket, count: number): Promise<(string | number[])[]> {
  const inbox = wsInbox(ws);
  const messages: WsMessage[] = [];
  for (let i = 0; i < count; i++) messages.push(await inbox.next());
  return messages.map(({ data, isBinary }) => (isBinary ? [...data] : data.toString('utf8')));
}

describe(`ws ${wsVersion}: the internals lib/transports/ws-internals.ts reads`, () => {
  it('exports Sender.frame, which builds an unmasked final server frame', () => {
    const { Sender } = wsModule as unknown as { Sender?: { frame?: unknown } };
    assert.equal(typeof Sender?.frame, 'function', 'ws no longer exports Sender.frame');
    assert.equal(canBuildFrames, true);
    assert.deepEqual(Buffer.concat(buildServerFrame(Buffer.from('hi'), 1)), Buffer.from([0x81, 0x02, 0x68, 0x69]));
    const long = Buffer.alloc(126, 7);
    assert.deepEqual(Buffer.concat(buildServerFrame(long, 2)), Buffer.concat([Buffer.from([0x82, 126, 0, 126]), long]));
  });

  it('sets ws._socket to the socket of the upgrade', async (t) => {
    const { server, socket } = await connectPair(t);
    const internals = server as unknown as { _socket?: unknown };
    assert.equal(internals._socket, socket, 'ws._socket is not the upgrade socket');
    assert.ok(socket instanceof Duplex);
    assert.equal(webSocketInternals(server).socket, socket);
  });

  it('sets ws._sender, writing to ws._socket, with _state 0 and an empty _queue array while idle', async (t) => {
    const { server, socket } = await connectPair(t);
    const sender = (server as unknown as { _sender?: { _state?: unknown; _queue?: unknown; _socket?: unknown } })._sender;
    assert.equal(typeof sender, 'object', 'ws._sender is missing');
    assert.equal(sender?._state, 0, 'ws._sender._state is not the number 0 on an idle connection');
    assert.ok(Array.isArray(sender?._queue), 'ws._sender._queue is not an array');
    assert.equal((sender?._queue as unknown[]).length, 0, 'ws._sender._queue is not empty on an idle connection');
    assert.equal(sender?._socket, socket, 'ws._sender._socket is not the socket ws._socket names');
    assert.equal(webSocketInternals(server).sender, sender, 'ws-internals.ts does not take the direct path');
  });

  it('holds sends back in ws._sender._queue while ws._sender._state is not 0 (a Blob being read)', async (t) => {
    const { server, client } = await connectPair(t);
    const { sender } = webSocketInternals(server);
    assert.ok(sender !== null);
    server.send(new Blob(['blob']) as unknown as Buffer);
    assert.notEqual(sender._state, 0, 'ws._sender._state stays 0 while a Blob is read');
    assert.equal(senderIdle(sender), false);
    server.send('after');
    assert.equal(sender._queue.length, 1, 'a send behind the Blob is not in ws._sender._queue');
    assert.deepEqual(await nextMessages(client, 2), [[...Buffer.from('blob')], 'after']);
    assert.equal(senderIdle(sender), true);
  });

  it("tags a protocol error with its close code under a symbol described 'status-code'", async (t) => {
    const { server, client } = await connectPair(t, { maxPayload: 4 });
    const errored = once(server, 'error') as Promise<[Error]>;
    client.send('12345');
    const [error] = await errored;
    const symbol = Object.getOwnPropertySymbols(error).find((s) => s.description === 'status-code');
    assert.ok(symbol !== undefined, "ws's errors carry no 'status-code' symbol");
    assert.equal((error as unknown as Record<symbol, unknown>)[symbol], 1009);
    assert.equal(closeCodeOfError(error), 1009);
  });
});

describe('WebSocketWire through the direct path', () => {
  it('writes a broadcast to the socket itself, corked for the tick, not through ws.send', async (t) => {
    const { server, client, socket } = await connectPair(t);
    const wire = new WebSocketWire(server, quietSink(), { session: false });
    const sends = countSends(t, server);
    wire.writeShared(new LazyEncodedMessage('one', {}));
    wire.writeShared(new LazyEncodedMessage('two', {}));
    assert.equal(sends.calls, 0);
    assert.equal(socket.writableCorked, 1);
    assert.deepEqual(await nextMessages(client, 2), ['one', 'two']);
  });

  it('routes a broadcast through ws.send while ws holds a Blob back, keeping the order', async (t) => {
    const { server, client } = await connectPair(t);
    const wire = new WebSocketWire(server, quietSink(), { session: false });
    server.send(new Blob(['first']) as unknown as Buffer);
    const sends = countSends(t, server);
    wire.writeShared(new LazyEncodedMessage('second', {}));
    assert.equal(sends.calls, 1);
    assert.deepEqual(await nextMessages(client, 2), [[...Buffer.from('first')], 'second']);
  });
});

describe('WebSocketWire through the fallback (ws internals not as expected)', () => {
  const shapes: [string, '_socket' | '_sender', unknown][] = [
    ['ws._sender is missing', '_sender', undefined],
    ['ws._sender._queue is not an array', '_sender', { _state: 0, _queue: null }],
    ['ws._sender._state is not a number', '_sender', { _state: 'idle', _queue: [] }],
    ['ws._sender writes to another stream', '_sender', { _state: 0, _queue: [], _socket: new Duplex() }],
    ['ws._socket is missing', '_socket', undefined],
  ];
  for (const [what, field, value] of shapes) {
    for (const session of [false, true]) {
      it(`delivers broadcasts and sends in order through ws.send when ${what}${session ? ', on a session' : ''}`, async (t) => {
        const { server, client } = await connectPair(t);
        const wire = wireSeeing(server, field, value, session);
        const sends = countSends(t, server);
        wire.writeShared(new LazyEncodedMessage('one', {}));
        wire.send('two');
        wire.writeShared(new LazyEncodedMessage(Buffer.from([1, 2, 3]), {}));
        wire.writeShared(new LazyEncodedMessage('four', {}));
        assert.equal(sends.calls, 4, 'every message goes through ws.send');
        const text = (s: string): string => (session ? `m${s}` : s);
        assert.deepEqual(await nextMessages(client, 4), [text('one'), text('two'), [1, 2, 3], text('four')]);
      });
    }
  }

  it('corks nothing and has nothing to flush when ws._socket is missing', async (t) => {
    const { server, client, socket } = await connectPair(t);
    const wire = wireSeeing(server, '_socket', undefined);
    wire.writeShared(new LazyEncodedMessage('one', {}));
    assert.equal(socket.writableCorked, 0);
    assert.equal(wire.flush(), false);
    assert.deepEqual(await nextMessages(client, 1), ['one']);
  });

  it('takes the fallback for every connection when ws does not export Sender', async () => {
    // A child process: the frame builder is decided once per process, as the library loads.
    const fixture = fileURLToPath(new URL('fixtures/ws-without-sender.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], { timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { canBuildFrames: false, received: ['one', [1, 2, 3], 'three'] });
  });
});
