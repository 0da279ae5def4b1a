// The adapter seam: broadcasts reach a group's members on every process. Two `live`
// instances (two servers) share a bus that, like Redis pub/sub, hands every subscriber every
// message, its publisher's own included.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { channels, type Adapter, type Channel, type Live } from '../../lib/index.js';
import { MemoryBus } from '../../lib/groups/memory-adapter.js';
import { deferred, serve, withTimeout } from '../support/harness.js';
import { Inbox } from '../support/live-server.js';

function bus(): () => Adapter {
  const shared = new MemoryBus();
  return () => shared.adapter();
}

interface Node {
  live: Live;
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
  const served = await serve(t, app, live);
  return { live, wsUrl: served.wsUrl, joined };
}

async function member(t: TestContext, { wsUrl, joined }: Node): Promise<{ got: Inbox<string>; ws: WebSocket }> {
  const ws = new WebSocket(`${wsUrl}/room`);
  t.after(() => ws.terminate());
  const got = new Inbox<string>();
  ws.on('message', (data: Buffer) => got.push(data.toString()));
  const members = joined.items.length;
  await withTimeout(once(ws, 'open'), 2000, 'the handshake');
  // The route added it once the handshake was done.
  await joined.untilCount(members + 1, 2000);
  return { got, ws };
}

/**
 * Resolves when everything the server wrote to `ws` before its answer to a ping has arrived:
 * the server answers on the same ordered stream, after what it already wrote.
 */
async function roundTrip(ws: WebSocket): Promise<void> {
  const pong = once(ws, 'pong');
  ws.ping();
  await withTimeout(pong, 2000, 'a pong');
}

describe('adapter', () => {
  it('carries a broadcast to the group on every process, once each, its own echo skipped', async (t) => {
    const connect = bus();
    const a = await node(t, connect());
    const b = await node(t, connect());
    const { got: onA, ws: wsA } = await member(t, a);
    const { got: onB, ws: wsB } = await member(t, b);
    assert.equal(a.live.group('room').broadcast('from a'), 1);
    assert.equal(b.live.group('room').broadcast('from b'), 1);
    await Promise.all([onA.untilCount(2, 2000), onB.untilCount(2, 2000)]);
    // Every bus delivery ran (the bus hands them out on setImmediate, long past by now), so an
    // echo would have been written already: a round trip on each socket brings it in before judging.
    await Promise.all([roundTrip(wsA), roundTrip(wsB)]);
    assert.deepEqual([...onA.items].sort(), ['from a', 'from b']);
    assert.deepEqual([...onB.items].sort(), ['from a', 'from b']);
  });

  it('reports a failing publish on live.on("error") and still serves the local members', async (t) => {
    const failing: Adapter = { publish: () => Promise.reject(new Error('bus down')), subscribe: () => undefined };
    const a = await node(t, failing);
    const reported = deferred<Error>();
    a.live.on('error', (e) => reported.resolve(e));
    const { got: onA } = await member(t, a);
    assert.equal(a.live.group('room').broadcast('local'), 1);
    assert.equal((await withTimeout(reported.promise, 2000, 'the error')).message, 'bus down');
    await onA.untilCount(1, 2000);
    assert.deepEqual(onA.items, ['local']);
  });
});
