// live.drain({ within }) (docs/operations.md, "Rolling deploys"): readiness goes false at once,
// new channels are refused with a retry hint, and the open ones close spread over `within`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { channels, type CloseReason } from '../lib/index.js';
import { startLiveServer } from './support/live-server.js';
import { withTimeout } from './support/harness.js';
import { busiestWindow as busiest } from './support/windows.js';

describe('live.drain()', () => {
  it('turns ready false at once, refuses new channels with Retry-After, and closes the open ones spread over `within`', async (t) => {
    const closedAt: number[] = [];
    const reasons: CloseReason[] = [];
    const server = await startLiveServer({ heartbeat: 0 }, (app) =>
      app.get('/live', (req) => {
        const ch = req.channel!;
        ch.onClose((reason) => (closedAt.push(performance.now()), reasons.push(reason)));
        ch.send('hi');
      }),
    );
    t.after(() => server.close());
    const clients = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const ws = new WebSocket(server.wsUrl('/live'));
        await once(ws, 'message');
        return ws;
      }),
    );
    const closes = clients.map((ws) => once(ws, 'close') as Promise<[number, Buffer]>);
    assert.equal(server.live.ready, true);
    const started = performance.now();
    const drained = server.live.drain({ within: 600 });
    assert.equal(server.live.ready, false, 'not ready from the first moment');
    const refused = await fetch(server.url('/live'), { headers: { accept: 'text/event-stream' } });
    assert.deepEqual([refused.status, refused.headers.get('retry-after')], [503, '1']);
    await refused.arrayBuffer();
    await withTimeout(drained, 3000, 'the drain');
    const [code, reason] = (await closes[0]) as [number, Buffer];
    assert.deepEqual([code, reason.toString()], [1001, 'shutdown; retry=1000']);
    assert.equal(closedAt.length, 61, 'the 60 channels and the refused one');
    const drainCloses = closedAt.filter((_, i) => reasons[i] === 'shutdown').map((time) => time - started);
    assert.ok(Math.max(...drainCloses) >= 500, `the last closed after ${Math.round(Math.max(...drainCloses))} ms of 600`);
    // 10 per 100 ms on average; a late tick catches up by at most one more than its share
    // (3 per 20 ms tick), so never more than 18 in any 100 ms. Unspread, all 60 close at once.
    assert.ok(busiest(drainCloses, 100) <= 18, `${busiest(drainCloses, 100)} closes in the busiest 100 ms (10 on average)`);
    for (const ws of clients) ws.terminate();
  });

  it('closes everything at once with within: 0, resolves at once with nothing open, and refuses a bad within by name', async () => {
    const live = channels();
    await live.drain({ within: 0 });
    assert.equal(live.ready, false);
    for (const within of [-1, Number.NaN, '5' as unknown as number]) {
      assert.throws(() => live.drain({ within }), (error: Error & { code?: string }) => error.code === 'ERR_CHANNEL_INVALID_OPTION' && /within/.test(error.message));
    }
  });
});
