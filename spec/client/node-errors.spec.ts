// The client's errors in Node say what failed: a refused or reset connection in words, on
// every transport, and a relative URL is told to be absolute.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { connect, type ChannelErrorEvent, type TransportName } from '../../lib/client/node.js';
import { describeNodeCause } from '../../lib/client/node-errors.js';
import { nextEvent } from './support.js';

const transports: TransportName[] = ['websocket', 'sse', 'poll'];

/** A TCP server that accepts and at once destroys each connection (a reset), or none at all (refused). */
async function tcpServer(t: TestContext, onConnection?: (socket: Socket) => void): Promise<number> {
  const server = createServer();
  if (onConnection !== undefined) server.on('connection', onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  if (onConnection === undefined) await new Promise((resolve) => server.close(resolve)); // the port is now refused
  else t.after(() => server.close());
  return port;
}

async function firstError(t: TestContext, port: number, transport: TransportName): Promise<ChannelErrorEvent> {
  const conn = connect(`http://127.0.0.1:${port}/live`, { transports: [transport], reconnect: { maxAttempts: 1, minDelay: 5, maxDelay: 10 } });
  t.after(() => conn.close());
  return nextEvent(conn, 'error');
}

describe('client errors in Node', () => {
  it('throws invalid-url for a relative URL, telling to pass an absolute one', () => {
    assert.throws(() => connect('/live'), {
      name: 'TypeError',
      code: 'invalid-url',
      message: 'connect() in Node needs an absolute URL such as http://localhost:3000/live, got "/live"',
    });
  });

  for (const transport of transports) {
    it(`says "connection refused" when nothing listens (${transport})`, async (t) => {
      const port = await tcpServer(t);
      const { error } = await firstError(t, port, transport);
      assert.match(error.message, new RegExp(`: connection refused \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${port}\\)$`));
      assert.doesNotMatch(error.message, /fetch failed/);
    });

    it(`says "connection reset" when the server drops the connection (${transport})`, async (t) => {
      const port = await tcpServer(t, (socket) => {
        socket.resetAndDestroy();
      });
      const { error } = await firstError(t, port, transport);
      assert.match(error.message, /: connection reset \(/);
    });
  }

  it('describes the causes fetch and ws give, and leaves others as they are', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.equal(describeNodeCause(new TypeError('fetch failed', { cause: refused })), 'connection refused (connect ECONNREFUSED 127.0.0.1:1)');
    assert.equal(describeNodeCause(refused), 'connection refused (connect ECONNREFUSED 127.0.0.1:1)');
    assert.equal(describeNodeCause(Object.assign(new Error('connect ETIMEDOUT 10.0.0.1:80'), { code: 'ETIMEDOUT' })), 'timed out (connect ETIMEDOUT 10.0.0.1:80)');
    assert.equal(describeNodeCause(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })), 'connection reset (other side closed)');
    assert.equal(describeNodeCause(new Error('Unexpected server response: 403')), 'Unexpected server response: 403');
    assert.equal(describeNodeCause('plain'), 'plain');
  });
});
