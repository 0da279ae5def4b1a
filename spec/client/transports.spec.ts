// Each transport alone, against a real express-channel server.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type TransportName } from '../../lib/client/node.js';
import { nextEvent, startServer, until, quick } from './support.js';

const transports: TransportName[] = ['websocket', 'sse', 'poll'];

for (const transport of transports) {
  describe(`client over ${transport} alone`, () => {
    it('opens a session whose id is the channel id, and carries text and binary both ways in order', async (t) => {
      const srv = await startServer(t);
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      assert.equal(conn.readyState, 0);
      const opened = await nextEvent(conn, 'open');
      assert.equal(opened.transport, transport);
      assert.equal(opened.resumed, false);
      assert.equal(conn.transport, transport);
      assert.equal(conn.readyState, 1);
      const ch = await srv.channel();
      assert.equal(conn.sessionId, ch.id);
      assert.match(conn.sessionId ?? '', /^[A-Za-z0-9_-]{22}$/);

      const got: (string | number[])[] = [];
      conn.onmessage = (event) => got.push(typeof event.data === 'string' ? event.data : [...new Uint8Array(event.data)]);
      ch.send('one');
      ch.send(Buffer.from([0, 1, 255]));
      ch.send('three');
      await until(conn, 'message', () => got.length === 3);
      assert.deepEqual(got, ['one', [0, 1, 255], 'three']);

      conn.send('a');
      conn.send(new Uint8Array([7, 8]));
      conn.send('c');
      const received = await srv.receivedCount(ch, 3);
      assert.deepEqual(received.map((m) => (typeof m === 'string' ? m : [...m])), ['a', [7, 8], 'c']);
    });

    it('closes with code 1000 on close(), and the server channel closes too', async (t) => {
      const srv = await startServer(t);
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      const serverClosed = new Promise((resolve) => ch.onClose(resolve));
      conn.close();
      assert.equal(conn.readyState, 2);
      const closed = await nextEvent(conn, 'close');
      assert.deepEqual([closed.code, closed.reason, closed.wasClean, closed.sessionGone], [1000, 'client-close', true, false]);
      assert.equal(conn.readyState, 3);
      assert.equal(await serverClosed, transport === 'websocket' ? 'normal' : 'client-close');
      assert.throws(() => conn.send('late'), { name: 'ClientError', code: 'closed' });
    });

    it('ends with a close event saying the session is gone when the server closes the channel', async (t) => {
      const srv = await startServer(t);
      const conn = connect(srv.url, { ...quick, transports: [transport] });
      await nextEvent(conn, 'open');
      const ch = await srv.channel();
      ch.close();
      const closed = await nextEvent(conn, 'close');
      assert.equal(closed.sessionGone, true);
      assert.equal(closed.wasClean, false);
      // A WebSocket sees the close frame, an SSE stream its ec-close event; a poll sees it if
      // one was held at that moment, else its next poll learns it.
      const expected = { websocket: ['1000 server-close'], sse: ['1000 server-close'], poll: ['1000 server-close', '4404 unknown-session'] };
      assert.ok(expected[transport].includes(`${closed.code} ${closed.reason}`), `${closed.code} ${closed.reason}`);
      assert.equal(conn.readyState, 3);
    });
  });
}

