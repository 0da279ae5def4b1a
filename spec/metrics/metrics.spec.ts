// express-channel/metrics: the scrape route of docs/examples/metrics.ts, scraped and parsed as
// Prometheus does, after known traffic on every kind of event the metrics count.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import express from 'express';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { createApp } from '../../docs/examples/metrics.js';
import { channels, type Adapter, type Channel, type Live } from '../../lib/index.js';
import { MemoryBus } from '../../lib/groups/memory-adapter.js';
import { registerMetrics } from '../../lib/metrics/index.js';
import { deferred, Inbox, openSse, openWebSocket, serve, withTimeout, wsInbox, type Served } from '../support/harness.js';
import { testScope } from '../../lib/testing/index.js';
import { SessionPeer } from '../support/session-peer.js';
import { parseMetrics, sample, type Samples } from './scrape.js';

async function scrape(served: Served, path = '/metrics'): Promise<Samples> {
  const response = await fetch(`${served.url}${path}`);
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await response.text());
}

async function registryScrape(registry: Registry): Promise<Samples> {
  return parseMetrics(await registry.metrics());
}

describe('express-channel/metrics', () => {
  it('counts channels, messages, bytes, closes, refusals and fan-outs, read at scrape time', async (t) => {
    const { app, live, lobby } = createApp();
    const closed = new Inbox<string>();
    app.get('/echo', (req) => {
      const ch = req.channel!;
      ch.onReceive((message) => ch.send(message));
      ch.onClose((reason) => closed.push(reason));
    });
    const served = await serve(t, app, live);
    const before = await scrape(served);
    assert.equal(sample(before, 'express_channel_messages_sent_total'), 0);
    assert.equal(sample(before, 'express_channel_closes_total', { reason: 'slow-consumer' }), 0, 'every close reason is there from the start');

    const ws = await openWebSocket(t, `${served.wsUrl}/echo`);
    ws.send('ping');
    ws.send('pong');
    assert.equal(String((await wsInbox(ws).next()).data), 'ping');
    assert.equal(String((await wsInbox(ws).next()).data), 'pong');
    const sse = await openSse(t, `${served.url}/lobby`);
    assert.equal(lobby.broadcast('hello'), 1);
    assert.equal((await sse.events.next()).data, 'hello');

    const foreign = new WebSocket(`${served.wsUrl}/echo`, { origin: 'http://evil.example' });
    const [request, refused] = (await withTimeout(once(foreign, 'unexpected-response'), 2000, 'the 403')) as [{ destroy(): void }, { statusCode: number }];
    assert.equal(refused.statusCode, 403);
    request.destroy();
    assert.equal(await closed.next(), 'policy-violation', 'the refused channel is closed from the start, and not counted as a close');
    assert.equal((await fetch(`${served.url}/lobby?ecs=AAAAAAAAAAAAAAAAAAAAAA&ect=poll`)).status, 404);

    const during = await scrape(served);
    assert.equal(sample(during, 'express_channel_open_channels', { transport: 'websocket' }), 1);
    assert.equal(sample(during, 'express_channel_open_channels', { transport: 'sse' }), 1);
    assert.equal(sample(during, 'express_channel_group_members', { group: 'lobby' }), 1);

    ws.close(1000);
    assert.equal(await closed.next(), 'normal');
    const after = await scrape(served);
    assert.equal(sample(after, 'express_channel_open_channels', { transport: 'websocket' }), 0);
    assert.equal(sample(after, 'express_channel_messages_received_total'), 2);
    assert.equal(sample(after, 'express_channel_messages_sent_total'), 3, 'two echoes and one broadcast delivery');
    assert.equal(sample(after, 'express_channel_sent_bytes_total'), 'ping'.length + 'pong'.length + 'hello'.length);
    assert.equal(sample(after, 'express_channel_messages_dropped_total'), 0);
    assert.equal(sample(after, 'express_channel_closes_total', { reason: 'normal' }), 1);
    assert.equal(sample(after, 'express_channel_closes_total', { reason: 'policy-violation' }), 0);
    assert.equal(sample(after, 'express_channel_refusals_total', { cause: 'origin-not-allowed' }), 1);
    assert.equal(sample(after, 'express_channel_refusals_total', { cause: 'unknown-session' }), 1);
    assert.equal(sample(after, 'express_channel_refusals_total', { cause: 'too-many-channels' }), 0);
    assert.equal(sample(after, 'express_channel_broadcast_fanout_seconds_count'), 1);
    assert.equal(sample(after, 'express_channel_broadcast_fanout_seconds_bucket', { le: '+Inf' }), 1);
    const sum = sample(after, 'express_channel_broadcast_fanout_seconds_sum');
    assert.ok(sum > 0 && sum < 1, `one delivery to one member took ${sum} s`);
    assert.equal(sample(after, 'express_channel_broadcast_fanout_seconds_bucket', { le: '1' }), 1);
    assert.ok(![...after.keys()].some((key) => key.includes('adapter')), 'no adapter, no adapter metrics');
  });

  it('counts slow consumers and the messages the drop policy skipped', async (t) => {
    for (const bufferPolicy of ['drop', 'close'] as const) {
      const live = channels({ bufferPolicy, maxBufferedBytes: 1 });
      const registry = new Registry();
      registerMetrics(live, { registry });
      const app = express();
      app.use(live);
      app.get('/flood', (req) => {
        const ch = req.channel!;
        ch.send('a'); // fits: the buffer was empty
        ch.send('too much while the first is still buffered');
      });
      const served = await serve(t, app, live);
      const stream = await openSse(t, `${served.url}/flood`);
      assert.equal((await stream.events.next()).data, 'a');
      const samples = await registryScrape(registry);
      if (bufferPolicy === 'drop') {
        assert.equal(sample(samples, 'express_channel_messages_dropped_total'), 1);
        assert.equal(sample(samples, 'express_channel_slow_consumers_total'), 0);
      } else {
        assert.equal(sample(samples, 'express_channel_slow_consumers_total'), 1);
        assert.equal(sample(samples, 'express_channel_closes_total', { reason: 'slow-consumer' }), 1);
      }
    }
  });

  it('counts sessions awaiting their client, the resume, and the gap it was told of', async (t) => {
    const live = channels({ sessionBuffer: { messages: 2 } });
    const registry = new Registry();
    registerMetrics(live, { registry });
    const app = express();
    app.use(live);
    const opened = deferred<Channel>();
    app.get('/s', (req) => {
      live.group('news').add(req.channel!);
      opened.resolve(req.channel!);
    });
    const served = await serve(t, app, live);
    const peer = new SessionPeer(served.url, '/s');
    t.after(() => peer.cut());
    await peer.connect('websocket');
    await opened.promise;
    let samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_sessions', { state: 'connected' }), 1);
    assert.equal(sample(samples, 'express_channel_sessions', { state: 'awaiting-client' }), 0);

    // Cut as the network would; the server learns of it when its socket closes.
    const [socket] = served.sockets;
    const gone = once(socket!, 'close');
    peer.cut();
    await withTimeout(gone, 2000, 'the server side of the cut socket to close');
    await new Promise((resolve) => setImmediate(resolve)); // ws reports the close a tick later
    for (const n of [1, 2, 3, 4, 5]) live.group('news').broadcast(`m${n}`);
    samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_sessions', { state: 'awaiting-client' }), 1);
    assert.equal(sample(samples, 'express_channel_session_queued_messages'), 2, 'the buffer keeps two');

    const hello = await peer.connect('websocket');
    assert.deepEqual(hello.gap, [1, 3]);
    samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_session_resumes_total'), 1);
    assert.equal(sample(samples, 'express_channel_session_gaps_total'), 1);
    assert.equal(sample(samples, 'express_channel_sessions', { state: 'connected' }), 1);
  });

  it('shows the WebSocket upgrades waiting for their turn under handshakeRate, and none once all are greeted', async (t) => {
    const live = channels({ handshakeRate: 10 }); // one handshake starts in any 100 ms
    const registry = new Registry();
    registerMetrics(live, { registry });
    const app = express();
    app.use(live);
    app.get('/ws', (req) => req.channel!.onReceive(() => undefined));
    const scope = testScope(t);
    const server = await scope.listen(app, { live });
    const arrived = new Inbox<void>();
    server.server.on('upgrade', () => arrived.push()); // after live.attach's own listener: the pacer has the upgrade
    const clients = Promise.all([1, 2, 3, 4, 5].map(() => scope.webSocket(server.wsUrl('/ws'))));
    for (const n of [1, 2, 3, 4, 5]) await arrived.next(2000, `upgrade ${n}`);
    const storm = await registryScrape(registry);
    const waiting = sample(storm, 'express_channel_handshakes_waiting');
    assert.equal(waiting, live.stats().handshakesWaiting);
    assert.ok(waiting >= 1, `5 upgrades at once, 1 may start: ${waiting} waiting`);
    await clients;
    const calm = await registryScrape(registry);
    assert.equal(sample(calm, 'express_channel_handshakes_waiting'), 0);
    assert.equal(sample(calm, 'express_channel_open_channels', { transport: 'websocket' }), 5);
    assert.equal(sample(calm, 'express_channel_refusals_total', { cause: 'handshake-busy' }), 0);
  });

  it('with an adapter, counts what went through it and shows its connection state', async (t) => {
    const bus = new MemoryBus();
    const [a, b] = [channels({ adapter: bus.adapter() }), channels({ adapter: bus.adapter() })];
    const registry = new Registry();
    registerMetrics(a, { registry });
    const app = express();
    app.use(a);
    app.get('/room', (req) => a.group('room').add(req.channel!));
    const served = await serve(t, app, a);
    const member = await openSse(t, `${served.url}/room`);
    t.after(() => b.close());
    a.group('room').broadcast('from a');
    b.group('room').broadcast('from b');
    assert.equal((await member.events.next()).data, 'from a');
    assert.equal((await member.events.next()).data, 'from b');
    let samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_adapter_messages_total', { direction: 'published' }), 1);
    assert.equal(sample(samples, 'express_channel_adapter_messages_total', { direction: 'received' }), 1);
    assert.equal(sample(samples, 'express_channel_adapter_publish_failures_total'), 0);
    assert.equal(sample(samples, 'express_channel_adapter_state', { state: 'connected' }), 1);
    await a.close();
    samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_adapter_state', { state: 'connected' }), 0);
    assert.equal(sample(samples, 'express_channel_adapter_state', { state: 'disconnected' }), 1);
  });

  it('counts failed publishes; an adapter without status() has no state metric', async (t) => {
    const failing: Adapter = { publish: () => Promise.reject(new Error('bus down')), subscribe: () => undefined };
    const live = channels({ adapter: failing });
    t.after(() => live.close());
    const reported = deferred<Error>();
    live.on('error', reported.resolve);
    const registry = new Registry();
    registerMetrics(live, { registry });
    live.group('room').broadcast('lost on the way');
    assert.equal((await withTimeout(reported.promise, 2000, 'the reported failure')).message, 'bus down');
    const samples = await registryScrape(registry);
    assert.equal(sample(samples, 'express_channel_adapter_publish_failures_total'), 1);
    assert.ok(![...samples.keys()].some((key) => key.startsWith('express_channel_adapter_state')));
  });

  it('takes a prefix, so two live instances share a registry; unregister removes its metrics', async (t) => {
    const [one, two] = [channels(), channels()];
    t.after(() => Promise.all([one.close(), two.close()]));
    const registry = new Registry();
    registerMetrics(one, { registry });
    const second = registerMetrics(two, { registry, prefix: 'chat_' });
    assert.ok(second.names.includes('chat_messages_sent_total'));
    assert.throws(() => registerMetrics(two, { registry }), /already been registered/);
    two.group('g').broadcast('timed');
    second.unregister();
    second.unregister(); // once is enough; twice changes nothing
    const samples = await registryScrape(registry);
    assert.ok(samples.has('express_channel_messages_sent_total'));
    assert.ok(![...samples.keys()].some((key) => key.startsWith('chat_')));
    two.group('g').broadcast('not timed: nothing shows the histogram');
    const again = new Registry();
    registerMetrics(two, { registry: again });
    two.group('g').broadcast('timed again');
    const resumed = await registryScrape(again);
    assert.equal(sample(resumed, 'express_channel_broadcast_fanout_seconds_count'), 2, 'the counts resume; the broadcast while unregistered was not timed');
    assert.equal(sample(resumed, 'express_channel_messages_sent_total'), 0, 'the group has no members: nothing was sent');
  });

  it('refuses what is not a live instance or not a registry, saying what it takes', () => {
    const registry = new Registry();
    assert.throws(() => registerMetrics({} as Live, { registry }), {
      name: 'TypeError',
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: 'registerMetrics(live, options) takes what channels() returned; if the app both imports and requires express-channel, use one of the two for both entries',
    });
    const live = channels();
    assert.throws(() => registerMetrics(live, { registry: {} as Registry }), {
      code: 'ERR_CHANNEL_INVALID_OPTION',
      message: "registerMetrics(live, { registry }) takes a prom-client Registry (new Registry() or prom-client's register)",
    });
  });

  it('has every metric that docs/operations.md names, in its tables and its alerting rules', () => {
    const live = channels({ adapter: new MemoryBus().adapter() });
    const { names } = registerMetrics(live, { registry: new Registry(), groups: ['lobby'] });
    const doc = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const named = new Set([...doc.matchAll(/express_channel_\w+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, '')));
    assert.ok(named.size >= 15, `the page names ${named.size} metrics`);
    for (const name of named) assert.ok(names.includes(name), `docs/operations.md names ${name}, which registerMetrics does not register`);
    for (const name of names) assert.ok(named.has(name), `docs/operations.md does not describe ${name}`);
  });
});
