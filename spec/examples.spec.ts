// Runs every example of docs/examples against real clients, so the docs cannot rot.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, it, type TestContext } from 'node:test';
import { EventSource } from 'eventsource';
import request from 'supertest';
import { createApp as longPolling } from '../docs/examples/long-polling.js';
import { createApp as streaming } from '../docs/examples/streaming.js';
import { createApp as webSocket } from '../docs/examples/websocket.js';
import { Inbox, openWebSocket, serve, withTimeout, wsInbox } from './support/harness.js';

/**
 * Runs an example file as a user would, on a free port; resolves with the URL it prints
 * first, and the lines it prints after.
 */
async function runStandalone(t: TestContext, file: string): Promise<{ url: string; output: Inbox<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  const output = new Inbox<string>();
  createInterface({ input: child.stdout }).on('line', (line) => output.push(line));
  const line = await output.next(10_000, `${file} to start`);
  const url = /(\w+:\/\/127\.0\.0\.1:\d+\/\w+)/.exec(line)?.[1];
  assert.ok(url, `no URL in ${JSON.stringify(line)}`);
  return { url, output };
}

describe('docs/examples/long-polling.ts', () => {
  it('answers every waiting poll with the published event, as JSON, and forgets them', async (t) => {
    const log = new Inbox<string>();
    const { app, live, publish } = longPolling({ log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const polls = [request(s.server).get('/poll').then((r) => r), request(s.server).get('/poll').then((r) => r)];
    assert.equal(await log.next(), 'waiting: 1');
    assert.equal(await log.next(), 'waiting: 2');
    const published = await request(s.server).post('/publish').send({ news: 'hello' });
    assert.deepEqual(published.body, { answered: 2 });
    for (const poll of await Promise.all(polls)) {
      assert.equal(poll.status, 200);
      assert.equal(poll.text, '{"news":"hello"}');
    }
    assert.equal(await log.next(), 'poll closed: server-close');
    assert.equal(await log.next(), 'poll closed: server-close');
    assert.equal(publish('nobody waits'), 0);
  });

  it('answers with the JSON content type of the response map', async (t) => {
    const log = new Inbox<string>();
    const { app, live, publish } = longPolling({ log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const poll = request(s.server).get('/poll').then((r) => r);
    await log.next();
    publish([1]);
    assert.equal((await poll).headers['content-type'], 'application/json; charset=utf-8');
  });

  it('forgets a poll whose client went away', async (t) => {
    const log = new Inbox<string>();
    const { app, live, publish } = longPolling({ log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const controller = new AbortController();
    const poll = fetch(`${s.url}/poll`, { signal: controller.signal }).catch(() => 'aborted');
    assert.equal(await log.next(), 'waiting: 1');
    controller.abort();
    assert.equal(await poll, 'aborted');
    assert.equal(await log.next(), 'poll closed: client-close');
    assert.equal(publish('nobody'), 0);
  });

  it('runs standalone', async (t) => {
    const { url, output } = await runStandalone(t, 'docs/examples/long-polling.ts');
    const poll = fetch(url);
    assert.equal(await output.next(2000, 'the poll to arrive'), 'waiting: 1');
    const published = await fetch(url.replace(/\/poll$/, '/publish'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    assert.deepEqual(await published.json(), { answered: 1 });
    const answer = await withTimeout(poll, 2000, 'the poll');
    assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(await answer.text(), '{"n":1}');
  });
});

describe('docs/examples/streaming.ts', () => {
  const options = { interval: 5, count: 3, closeAfter: 100 };
  const expected = ['message from server #0', 'message from server #1', 'message from server #2'];

  it('streams the messages over chunked HTTP, then the server closes', async (t) => {
    const log = new Inbox<string>();
    const { app, live } = streaming({ ...options, log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const res = await request(s.server).get('/stream');
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.text, expected.join(''));
    assert.equal(await log.next(), 'channel closed, server-close');
  });

  it('streams the same messages as events to an EventSource', async (t) => {
    const { app, live } = streaming({ ...options, log: () => undefined });
    const s = await serve(t, app, live);
    const es = new EventSource(`${s.url}/stream`);
    t.after(() => es.close());
    const messages = new Inbox<string>();
    es.onmessage = (event) => messages.push(event.data as string);
    for (const text of expected) assert.equal(await messages.next(), text);
  });

  it('streams the same messages as WebSocket frames, then closes with 1000', async (t) => {
    const { app, live } = streaming({ ...options, log: () => undefined });
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/stream`);
    const closed = once(ws, 'close');
    for (const text of expected) assert.equal((await wsInbox(ws).next()).data.toString(), text);
    const [code] = (await withTimeout(closed, 2000, 'the close')) as [number];
    assert.equal(code, 1000);
  });

  it('stops its timers when the client leaves early', async (t) => {
    const log = new Inbox<string>();
    const { app, live } = streaming({ interval: 5, count: 1000, closeAfter: 60_000, log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/stream`);
    await wsInbox(ws).next();
    ws.close(1001);
    assert.equal(await log.next(), 'channel closed, going-away');
    assert.equal(live.channels.size, 0);
  });

  it('runs standalone', async (t) => {
    const { url } = await runStandalone(t, 'docs/examples/streaming.ts');
    const res = await fetch(url);
    const reader = res.body!.getReader();
    const { value } = await withTimeout(reader.read(), 2000, 'the first chunk');
    assert.match(new TextDecoder().decode(value), /^message from server #0/);
    await reader.cancel();
  });
});

describe('docs/examples/websocket.ts', () => {
  it('echoes text as text and binary as binary, and logs the close reason', async (t) => {
    const log = new Inbox<string>();
    const { app, live } = webSocket({ log: (line) => log.push(line) });
    const s = await serve(t, app, live);
    const ws = await openWebSocket(t, `${s.wsUrl}/ws`);
    ws.send('hello');
    ws.send(Buffer.from([1, 2, 3]));
    const text = await wsInbox(ws).next();
    assert.deepEqual([text.data.toString(), text.isBinary], ['hello', false]);
    const binary = await wsInbox(ws).next();
    assert.deepEqual([[...binary.data], binary.isBinary], [[1, 2, 3], true]);
    ws.close(1000);
    assert.equal(await log.next(), 'channel closed: normal');
  });

  it('runs standalone', async (t) => {
    const { url } = await runStandalone(t, 'docs/examples/websocket.ts');
    const ws = await openWebSocket(t, url);
    ws.send('standalone');
    assert.equal((await wsInbox(ws).next()).data.toString(), 'standalone');
  });
});
