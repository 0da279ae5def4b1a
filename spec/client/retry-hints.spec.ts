// The server's retry hints (issue 12, item 5): an overload refusal's Retry-After and a
// shutdown's retry (SSE `retry:`, the WebSocket close reason, the poll answer's `retry`) make
// the client wait at least that long, jittered over [hint, 2·hint), before it comes back.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect } from '../../lib/client/node.js';
import { nextEvent, quick, startServer } from './support.js';

describe('retry hints', () => {
  it("waits out an overload refusal's Retry-After, and does not try the next transport of the round meanwhile", async (t) => {
    const server = await startServer(t, { maxChannels: 1 });
    const first = connect(server.url, { ...quick, transports: ['sse'] });
    t.after(() => first.close());
    await nextEvent(first, 'open');
    const second = connect(server.url, { ...quick, transports: ['sse', 'poll'] });
    t.after(() => second.close());
    const refused = nextEvent(second, 'error');
    const reconnecting = await nextEvent(second, 'reconnecting');
    const { error } = await refused;
    assert.deepEqual([error.status, error.retryAfter], [503, 5000]);
    assert.ok(reconnecting.delay >= 5000 && reconnecting.delay < 10_000, `waits ${reconnecting.delay} ms`);
    assert.deepEqual(server.requests.filter((r) => r.endsWith('poll')), [], 'no poll was tried while told to wait');
  });

  for (const transport of ['websocket', 'sse', 'poll'] as const) {
    it(`comes back after the shutdown's retry hint on ${transport}, jittered`, async (t) => {
      const server = await startServer(t, { shutdownRetry: 3000 });
      const conn = connect(server.url, { ...quick, transports: [transport] });
      t.after(() => conn.close());
      await nextEvent(conn, 'open');
      const lost = nextEvent(conn, 'error');
      const reconnecting = nextEvent(conn, 'reconnecting');
      void server.live.close();
      const { error } = await lost;
      assert.equal(error.retryAfter, 3000, `${error.code}: ${error.message}`);
      const { delay } = await reconnecting;
      assert.ok(delay >= 3000 && delay < 6000, `waits ${delay} ms`);
    });
  }
});
