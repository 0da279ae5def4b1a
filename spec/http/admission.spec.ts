// Limits on load (issue 12, item 4): maxChannels (503) and maxChannelsPerIp (429), refused
// before the 101 of a WebSocket and before SSE headers, with the client address from the
// socket or, only as far as trustProxy allows, from X-Forwarded-For. Each refusal runs
// beside clients that must keep being served.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import WebSocket from 'ws';
import { clientAddress, trustFunction } from '../../lib/http/client-address.js';
import { channels, type Channel, type ChannelsOptions } from '../../lib/index.js';
import { deferred, serve, withTimeout } from '../support/harness.js';

async function limitedApp(t: TestContext, options: ChannelsOptions) {
  const live = channels({ heartbeat: 0, ...options });
  const app = express();
  app.use(live);
  const opened: Channel[] = [];
  app.get('/live', (req) => {
    const ch = req.channel!;
    ch.onReceive((m) => ch.send(`echo ${String(m)}`));
    opened.push(ch);
  });
  const served = await serve(t, app, live);
  return { live, served, opened };
}

/** Opens a WebSocket; resolves with it once open, or with the status of a refused upgrade. */
function upgrade(t: TestContext, url: string, headers: Record<string, string> = {}): Promise<WebSocket | { status: number; retryAfter: string | undefined; body: string }> {
  const ws = new WebSocket(url, { headers });
  t.after(() => ws.terminate());
  ws.on('error', () => {});
  return withTimeout(
    new Promise((resolve) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body }));
      });
    }),
    5000,
    `the upgrade to ${url}`,
  );
}

async function echoes(ws: WebSocket, text: string): Promise<void> {
  const reply = once(ws, 'message');
  ws.send(text);
  assert.equal(String((await withTimeout(reply, 5000, 'the echo'))[0]), `echo ${text}`);
}

describe('admission: limits on the channels a process holds', () => {
  it('refuses a channel past maxChannels with 503 before the 101, serves those it holds, and admits again once one closed', async (t) => {
    const { live, served, opened } = await limitedApp(t, { maxChannels: 2 });
    const first = (await upgrade(t, `${served.wsUrl}/live`)) as WebSocket;
    const second = (await upgrade(t, `${served.wsUrl}/live`)) as WebSocket;
    const refused = await upgrade(t, `${served.wsUrl}/live`);
    assert.ok(!(refused instanceof WebSocket), 'the third upgrade was refused');
    assert.equal(refused.status, 503);
    assert.equal(refused.retryAfter, '5');
    assert.deepEqual(JSON.parse(refused.body), { error: 'too-many-channels', message: 'The server holds as many channels as it may: try again later.', retryAfter: 5 });
    const sse = await fetch(`${served.url}/live`, { headers: { accept: 'text/event-stream' } });
    assert.equal(sse.status, 503, 'an event stream is refused before its headers');
    await sse.arrayBuffer();
    await echoes(first, 'still here');
    assert.deepEqual(live.stats().refused, { maxChannels: 2, maxChannelsPerIp: 0 });
    assert.equal(live.channels.size, 2);
    // The server forgets a channel before its close handlers run.
    const seen = deferred();
    opened[1]!.onClose(() => seen.resolve());
    second.close();
    await once(second, 'close');
    await withTimeout(seen.promise, 5000, 'the close to be seen');
    assert.equal(live.channels.size, 1);
    const third = (await upgrade(t, `${served.wsUrl}/live`)) as WebSocket;
    await echoes(third, 'admitted');
  });

  it('refuses a second channel from one address with 429, and reads X-Forwarded-For only through trustProxy', async (t) => {
    const plain = await limitedApp(t, { maxChannelsPerIp: 1 });
    const mine = (await upgrade(t, `${plain.served.wsUrl}/live`, { 'x-forwarded-for': '203.0.113.1' })) as WebSocket;
    // Without trustProxy the header is the client's own word: the socket's address counts.
    const forged = await upgrade(t, `${plain.served.wsUrl}/live`, { 'x-forwarded-for': '203.0.113.2' });
    assert.ok(!(forged instanceof WebSocket));
    assert.equal(forged.status, 429);
    assert.equal(JSON.parse(forged.body).error, 'too-many-channels-from-address');
    await echoes(mine, 'served');
    assert.deepEqual(plain.live.stats().refused, { maxChannels: 0, maxChannelsPerIp: 1 });

    const proxied = await limitedApp(t, { maxChannelsPerIp: 1, trustProxy: 1 });
    const a = (await upgrade(t, `${proxied.served.wsUrl}/live`, { 'x-forwarded-for': '203.0.113.1' })) as WebSocket;
    const b = await upgrade(t, `${proxied.served.wsUrl}/live`, { 'x-forwarded-for': '203.0.113.2' });
    assert.ok(b instanceof WebSocket, 'another address behind the trusted proxy is admitted');
    const again = await upgrade(t, `${proxied.served.wsUrl}/live`, { 'x-forwarded-for': '198.51.100.7, 203.0.113.1' });
    assert.ok(!(again instanceof WebSocket));
    assert.equal(again.status, 429, 'the hop the proxy saw is the client, whatever the client wrote before it');
    await echoes(a, 'a');
    await echoes(b, 'b');
  });

  it('counts a resumed session once: its new connection is not a new channel', async (t) => {
    const { served, live } = await limitedApp(t, { maxChannels: 1 });
    const open = await fetch(`${served.url}/live?ecs=new&ect=poll`);
    const { session, secret } = (await open.json()) as { session: string; secret: string };
    const held = deferred<Response>();
    void fetch(`${served.url}/live?ecs=${session}&ect=poll&eca=0`, { headers: { 'ec-secret': secret } }).then(held.resolve, held.reject);
    // The session's channel opened with the first poll and waits for its client.
    assert.equal(live.channels.size, 1);
    const [channel] = [...live.channels];
    channel!.send('after resume');
    const answer = (await (await withTimeout(held.promise, 5000, 'the resumed poll')).json()) as { messages: string[] };
    assert.deepEqual(answer.messages, ['after resume']);
    assert.deepEqual(live.stats().refused, { maxChannels: 0, maxChannelsPerIp: 0 });
  });

  it('refuses nonsense limits when the middleware is made', () => {
    assert.throws(() => channels({ maxChannels: 0 }), { code: 'ERR_CHANNEL_INVALID_OPTION', message: 'maxChannels must be a whole number >= 1 (or Infinity), got 0' });
    assert.throws(() => channels({ maxChannelsPerIp: 1.5 }), { code: 'ERR_CHANNEL_INVALID_OPTION' });
    assert.throws(() => channels({ trustProxy: -1 }), { code: 'ERR_CHANNEL_INVALID_OPTION', message: 'trustProxy must be a boolean, a hop count >= 0 or a function, got -1' });
  });
});

describe('clientAddress', () => {
  const request = (remoteAddress: string, forwarded?: string) => ({ socket: { remoteAddress }, headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded } }) as unknown as IncomingMessage;
  const cases: Array<[string, Parameters<typeof trustFunction>[0], string | undefined, string]> = [
    ['no proxy trusted: the socket', false, '1.1.1.1', '10.0.0.1'],
    ['one hop: the entry the proxy added', 1, '9.9.9.9, 1.1.1.1', '1.1.1.1'],
    ['two hops', 2, '9.9.9.9, 1.1.1.1, 10.0.0.2', '1.1.1.1'],
    ['every hop: the farthest entry', true, '9.9.9.9, 1.1.1.1', '9.9.9.9'],
    ['more trusted hops than entries: the farthest', 5, '1.1.1.1', '1.1.1.1'],
    ['trusted, but no header: the socket', 1, undefined, '10.0.0.1'],
    ['a predicate trusting the private range', (address) => address.startsWith('10.'), '9.9.9.9, 1.1.1.1, 10.0.0.2', '1.1.1.1'],
  ];
  for (const [name, trust, forwarded, expected] of cases) {
    it(name, () => assert.equal(clientAddress(request('10.0.0.1', forwarded), trustFunction(trust)), expected));
  }
});
