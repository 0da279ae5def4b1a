// The WebSocket transport against a hand-written `ws` server (docs/protocol.md, "WebSocket"):
// frames numbered from the hello, acknowledgements both ways, and the frames that are not
// in the protocol.
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect } from '../../../lib/client/node.js';
import { nextEvent, until } from '../support.js';

const id = 'CCCCCCCCCCCCCCCCCCCCCC';
const hello = (fields: object = {}) => 'c' + JSON.stringify({ type: 'hello', session: id, next: 1, received: 0, heartbeat: 0, sessionTimeout: 30000, ...fields });

/** A `ws` server on port 0 that hands each socket to `onSocket`. */
async function handServer(t: TestContext, onSocket: (socket: WebSocket) => void): Promise<string> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', onSocket);
  await once(server, 'listening');
  t.after(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
}

describe('WebSocket transport', () => {
  it('numbers server messages by order, skips unknown controls, and acknowledges 512 at once', async (t) => {
    let socket!: WebSocket;
    const frames: string[] = [];
    const url = await handServer(t, (ws) => {
      socket = ws;
      ws.on('message', (data, binary) => frames.push(binary ? `binary ${[...(data as Buffer)].join(',')}` : String(data)));
      ws.send(hello());
      ws.send('c{"type":"future-thing"}');
      for (let i = 0; i < 511; i++) ws.send(`m${i}`);
      ws.send(Uint8Array.of(7, 8));
    });
    const conn = connect(url, { transports: ['websocket'] });
    t.after(() => conn.close());
    const seqs: number[] = [];
    let last: unknown;
    conn.onmessage = (e) => {
      seqs.push(e.seq);
      last = e.data;
    };
    await until(conn, 'message', () => seqs.length === 512);
    assert.deepEqual([seqs[0], seqs[511]], [1, 512]);
    assert.deepEqual(new Uint8Array(last as ArrayBuffer), Uint8Array.of(7, 8));
    conn.send('x');
    conn.send(Uint8Array.of(1));
    await new Promise<void>((resolve) => socket.on('message', () => frames.length === 3 && resolve()));
    assert.deepEqual(frames, ['c{"type":"ack","seq":512}', 'mx', 'binary 1']);
    // An acknowledgement from the server releases what the client sent on this socket.
    assert.equal(conn.queued, 2);
    socket.send('c{"type":"ack","received":2}');
    socket.send('mafter');
    await nextEvent(conn, 'message');
    assert.equal(conn.queued, 0);
  });

  for (const [name, first] of [['a message before the hello', ['mearly']], ['a second hello', [hello(), hello()]], ['a malformed control', [hello(), 'c{']], ['a frame of neither type', [hello(), 'xyz']]] as const) {
    it(`closes the socket with 4000 protocol-error on ${name}`, async (t) => {
      let closed!: Promise<[number, Buffer]>;
      const url = await handServer(t, (ws) => {
        closed = once(ws, 'close') as Promise<[number, Buffer]>;
        for (const frame of first) ws.send(frame);
      });
      const conn = connect(url, { transports: ['websocket'], reconnect: { minDelay: 1000, maxDelay: 1000 } });
      t.after(() => conn.close());
      const error = await nextEvent(conn, 'error');
      assert.deepEqual([error.transport, error.error.code, error.error.message], ['websocket', 'protocol', 'WebSocket: unexpected frame from the server']);
      const [code, reason] = await closed;
      assert.deepEqual([code, String(reason)], [4000, 'protocol-error']);
    });
  }
});
