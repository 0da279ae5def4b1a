// The adapter seam: broadcasts reach a group's members on every process. Two `live`
// instances (two servers) share a bus that, like Redis pub/sub, hands every subscriber every
// message, its publisher's own included.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { channels, type Adapter, type Channel, type Live } from '../../lib/index.js';
import { MemoryBus } from '../../lib/groups/memory-adapter.js';
import { testScope, within, type TestScope, type TestWebSocket } from '../../lib/testing/index.js';
import { deferred } from '../support/harness.js';
import { Inbox } from '../support/live-server.js';

function bus(): () => Adapter {
  const shared = new MemoryBus();
  return () => shared.adapter();
}

interface Node {
  live: Live;
  scope: TestScope;
  wsUrl: string;
  /** The channels the route added to 'room'. */
  joined: Inbox<Channel>;
}

async function node(t: TestContext, adapter: Adapter): Promise<Node> {
  const live = channels({ adapter });
  const app = express();
  app.use(live);
  const joined = new Inbox<Channel>();
  app.get('/room', (req) => {
    live.group('room').add(req.channel!);
    joined.push(req.channel!);
  });
  const scope = testScope(t);
  const served = await scope.listen(app, { live });
  return { live, scope, wsUrl: served.wsUrl('/room'), joined };
}

async function member({ scope, wsUrl, joined }: Node): Promise<TestWebSocket> {
  const members = joined.items.length;
  const ws = await scope.webSocket(wsUrl);
  // The route added it once the handshake was done.
  await joined.untilCount(members + 1, 2000);
  return ws;
}

/**
 * Resolves when everything the server wrote to `ws` before its answer to a ping has arrived:
 * the server answers on the same ordered stream, after what it already wrote.
 */
async function roundTrip({ ws }: TestWebSocket): Promise<void> {
  const pong = once(ws, 'pong');
  ws.ping();
  await within(pong, 2000, 'a pong');
}

describe('adapter', () => {
  it('carries a broadcast to the group on every process, once each, its own echo skipped', async (t) => {
    const connect = bus();
    const a = await node(t, connect());
    const b = await node(t, connect());
    const onA = await member(a);
    const onB = await member(b);
    assert.equal(a.live.group('room').broadcast('from a'), 1);
    assert.equal(b.live.group('room').broadcast('from b'), 1);
    await Promise.all([onA.next(2000), onA.next(2000), onB.next(2000), onB.next(2000)]);
    // Every bus delivery ran (the bus hands them out on setImmediate, long past by now), so an
    // echo would have been written already: a round trip on each socket brings it in before judging.
    await Promise.all([roundTrip(onA), roundTrip(onB)]);
    assert.deepEqual([...onA.messages].sort(), ['from a', 'from b']);
    assert.deepEqual([...onB.messages].sort(), ['from a', 'from b']);
  });

  it('reports a failing publish on live.on("error") and still serves the local members', async (t) => {
    const failing: Adapter = { publish: () => Promise.reject(new Error('bus down')), subscribe: () => undefined };
    const a = await node(t, failing);
    const reported = deferred<Error>();
    a.live.on('error', (e) => reported.resolve(e));
    const onA = await member(a);
    assert.equal(a.live.group('room').broadcast('local'), 1);
    assert.equal((await within(reported.promise, 2000, 'the error')).message, 'bus down');
    assert.equal(await onA.next(2000), 'local');
    assert.deepEqual(onA.messages, ['local']);
  });
});
