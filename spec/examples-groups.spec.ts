// Drives docs/examples/groups-*.ts (the examples of docs/groups.md) with real clients.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { EventSource } from 'eventsource';
import { createApp as chat, shutdown } from '../docs/examples/groups-chat.js';
import { createApp as ticker } from '../docs/examples/groups-ticker.js';
import { Inbox, openSse, openWebSocket, serve, withTimeout, wsInbox } from './support/harness.js';

/** Runs an example as a user would, on a free port; resolves with the URL it prints first. */
async function runStandalone(t: TestContext, file: string): Promise<{ url: string; output: Inbox<string>; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  const output = new Inbox<string>();
  createInterface({ input: child.stdout! }).on('line', (line) => output.push(line));
  const line = await output.next(10_000, `${file} to start`);
  const url = /(http:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(line)?.[1];
  assert.ok(url, `no URL in ${JSON.stringify(line)}`);
  return { url, output, child };
}

/**
 * Resolves once the app's `live` counts `count` open channels. The examples have no hook to
 * say a client joined, so this looks again after each turn of the event loop, for 5 seconds at most.
 */
async function openChannels(live: { channels: ReadonlySet<unknown> }, count: number): Promise<void> {
  await withTimeout(
    (async () => {
      while (live.channels.size < count) await new Promise((resolve) => setImmediate(resolve));
    })(),
    5000,
    `${count} open channels`,
  );
}

describe('docs/examples/groups-chat.ts', () => {
  it('reaches WebSocket, SSE and long-poll members of a room with one POST', async (t) => {
    const { app, live } = chat();
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/rooms/lobby`);
    const es = new EventSource(`${s.url}/rooms/lobby`);
    t.after(() => es.close());
    const chats = new Inbox<MessageEvent<string>>();
    es.addEventListener('chat', (event) => chats.push(event));
    const poll = fetch(`${s.url}/rooms/lobby`);
    await openChannels(live, 3);

    const posted = await fetch(`${s.url}/rooms/lobby`, { method: 'POST', body: 'hello, lobby' });
    assert.deepEqual(await posted.json(), { reached: 3 });

    assert.equal((await wsInbox(ws).next()).data.toString(), 'hello, lobby');
    assert.equal((await chats.next()).data, 'hello, lobby');
    assert.equal(await (await poll).text(), 'hello, lobby');
    const elsewhere = await fetch(`${s.url}/rooms/kitchen`, { method: 'POST', body: 'anyone?' });
    assert.deepEqual(await elsewhere.json(), { reached: 0 });
  });

  it("sends a WebSocket member's message to the rest of its room only", async (t) => {
    const { app, live } = chat();
    const s = await serve(t, app, live);
    const alice = await openWebSocket(t, `${s.wsUrl}/rooms/lobby`);
    const bob = await openWebSocket(t, `${s.wsUrl}/rooms/lobby`);
    const carol = await openWebSocket(t, `${s.wsUrl}/rooms/kitchen`);
    alice.send('hi bob');
    assert.equal((await wsInbox(bob).next()).data.toString(), 'hi bob');
    await fetch(`${s.url}/rooms/lobby`, { method: 'POST', body: 'from http' });
    assert.equal((await wsInbox(alice).next()).data.toString(), 'from http', 'alice did not get her own message');
    assert.equal(wsInbox(carol).size, 0);
    assert.deepEqual(await (await fetch(`${s.url}/stats`)).json(), {
      open: { websocket: 3, sse: 0, http: 0, poll: 0 },
      sent: 3,
      dropped: 0,
      received: 1,
      queued: 0,
      refused: { maxChannels: 0, maxChannelsPerIp: 0 },
      handshakesWaiting: 0,
    });
  });

  it('shuts down gracefully: WebSocket members get 1001, SSE members a retry: hint', async (t) => {
    const { app, live } = chat();
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/rooms/lobby`);
    const closed = once(ws, 'close');
    const sse = await openSse(t, `${s.url}/rooms/lobby`);
    await openChannels(live, 2);
    await shutdown(s.server, live);
    assert.equal(live.channels.size, 0);
    assert.equal((await closed)[0], 1001);
    await sse.ended;
    assert.match(await sse.chunks.next(), /^retry: \d+\n\n$/);
  });

  it('runs standalone and closes on SIGTERM', async (t) => {
    const { url, output, child } = await runStandalone(t, 'docs/examples/groups-chat.ts');
    const sse = await openSse(t, url);
    const posted = await fetch(url, { method: 'POST', body: 'standalone' });
    assert.deepEqual(await posted.json(), { reached: 1 });
    assert.deepEqual((await sse.events.next()).data, 'standalone');
    child.kill('SIGTERM');
    assert.equal(await output.next(5000, 'the example to close'), 'closed');
    await withTimeout(sse.ended, 2000, 'the stream to end');
  });
});

describe('docs/examples/groups-ticker.ts', () => {
  it('broadcasts each tick as an SSE event with event: tick and an id', async (t) => {
    const { app, live, tick } = ticker({ interval: 0 });
    const s = await serve(t, app, live);
    const es = new EventSource(`${s.url}/ticker`);
    t.after(() => es.close());
    const ticks = new Inbox<MessageEvent<string>>();
    es.addEventListener('tick', (event) => ticks.push(event));
    await openChannels(live, 1);
    assert.equal(tick(), 1);
    assert.equal(tick(), 1);
    const first = await ticks.next();
    assert.equal(first.lastEventId, '1');
    assert.equal(JSON.parse(first.data).seq, 1);
    assert.equal((await ticks.next()).lastEventId, '2');
    const stats = await (await fetch(`${s.url}/stats`)).json();
    assert.equal(stats.subscribers, 1);
    assert.equal(stats.sent, 2);
  });

  it('ticks by itself at the interval', async (t) => {
    const { app, live, stop } = ticker({ interval: 20 });
    t.after(stop);
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/ticker`);
    const message = JSON.parse((await wsInbox(ws).next()).data.toString());
    assert.equal(typeof message.price, 'number');
  });

  it('runs standalone', async (t) => {
    const { url } = await runStandalone(t, 'docs/examples/groups-ticker.ts');
    const sse = await openSse(t, url);
    const event = await sse.events.next(3000, 'the first tick');
    assert.equal(event.event, 'tick');
  });
});
