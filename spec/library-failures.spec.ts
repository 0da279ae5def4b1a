// A failure inside work the library schedules itself (a poll answer on the next tick, a
// heartbeat, a socket event) must not take the process down: it is reported to
// live.on('error'), the channel concerned closes with 'internal-server-error', and every other
// channel carries on. Each case injects a failure into one channel's internals.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { coreOf } from '../lib/channel/channel.js';
import type { Channel, ChannelsOptions, CloseReason } from '../lib/index.js';
import { deferred, withTimeout } from './support/harness.js';
import { lobbyApp } from './support/lobby-app.js';

interface PollAnswer {
  session: string;
  messages: string[];
}

async function failuresApp(t: TestContext, options: ChannelsOptions = {}) {
  const opened = new Map<string, { channel: Channel; closed: Promise<CloseReason> }>();
  const { live, lobby, served, errors } = await lobbyApp(t, options, (ch, req) => {
    const closed = deferred<CloseReason>();
    ch.onClose((reason) => closed.resolve(reason));
    opened.set(String(req.query.who), { channel: ch, closed: closed.promise });
  });
  const openPoll = async (who: string) => {
    const res = await fetch(`${served.url}/live?ecs=new&ect=poll&who=${who}`);
    const { session, secret } = (await res.json()) as PollAnswer & { secret: string };
    return { session, headers: { 'ec-secret': secret }, ...opened.get(who)! };
  };
  return { live, lobby, served, errors, openPoll, opened };
}

describe('a failure inside the library', () => {
  it('closes only the channel whose scheduled poll answer threw, reports it, and answers that poll', async (t) => {
    const { lobby, served, errors, openPoll } = await failuresApp(t);
    const a = await openPoll('a');
    const b = await openPoll('b');
    const failure = new Error('injected: poll answer');
    coreOf(a.channel).session!.pollAnswer = () => {
      throw failure;
    };
    // Waiting between polls; each poll is then answered on the tick after it arrives.
    lobby.broadcast('news');
    const heldA = fetch(`${served.url}/live?ecs=${a.session}&ect=poll&eca=0`, { headers: a.headers });
    const heldB = fetch(`${served.url}/live?ecs=${b.session}&ect=poll&eca=0`, { headers: b.headers });
    const answerA = await withTimeout(heldA, 5000, "a's poll");
    assert.equal(answerA.status, 500);
    assert.equal(((await answerA.json()) as { error: string }).error, 'internal-error');
    assert.equal(await withTimeout(a.closed, 5000, "a's close"), 'internal-server-error');
    const answerB = await withTimeout(heldB, 5000, "b's poll");
    assert.deepEqual(((await answerB.json()) as PollAnswer).messages, ['news']);
    assert.equal(b.channel.isOpen, true);
    assert.equal(lobby.has(b.channel), true);
    // a's next poll finds the closed session, whose answer fails again: reported, answered.
    const again = await withTimeout(fetch(`${served.url}/live?ecs=${a.session}&ect=poll&eca=0`, { headers: a.headers }), 5000, "a's next poll");
    assert.deepEqual([again.status, ((await again.json()) as { error: string }).error], [500, 'internal-error']);
    assert.deepEqual(errors, [failure, failure]);
  });

  it('goes on with every other channel when one channel fails its heartbeat', async (t) => {
    const { served, errors, opened } = await failuresApp(t, { heartbeat: 20 });
    const a = new WebSocketClient(`${served.url.replace('http', 'ws')}/live?who=a`);
    const b = new WebSocketClient(`${served.url.replace('http', 'ws')}/live?who=b`);
    await Promise.all([a.open, b.open]);
    const failure = new Error('injected: heartbeat');
    coreOf(opened.get('a')!.channel).heartbeat = () => {
      throw failure;
    };
    assert.equal(await withTimeout(opened.get('a')!.closed, 5000, "a's close"), 'internal-server-error');
    assert.equal(await withTimeout(a.closeCode, 5000, "a's close frame"), 1011);
    // The sweeps go on to b: it is pinged, and still open.
    await withTimeout(once(b.ws, 'ping'), 5000, "b's ping");
    assert.equal(opened.get('b')!.channel.isOpen, true);
    assert.deepEqual(errors, [failure]);
    b.ws.close();
  });

  it('closes only the channel whose WebSocket message listener threw', async (t) => {
    const { lobby, served, errors, opened } = await failuresApp(t);
    const a = new WebSocketClient(`${served.url.replace('http', 'ws')}/live?who=a`);
    const b = new WebSocketClient(`${served.url.replace('http', 'ws')}/live?who=b`);
    await Promise.all([a.open, b.open]);
    const failure = new Error('injected: received');
    coreOf(opened.get('a')!.channel).received = () => {
      throw failure;
    };
    a.ws.send('boom');
    assert.equal(await withTimeout(opened.get('a')!.closed, 5000, "a's close"), 'internal-server-error');
    assert.equal(await withTimeout(a.closeCode, 5000, "a's close frame"), 1011);
    lobby.broadcast('after');
    assert.equal(await withTimeout(b.nextMessage, 5000, "b's message"), 'after');
    assert.deepEqual(errors, [failure]);
    b.ws.close();
  });
});

/** A plain WebSocket client: its first message and its close code, as promises. */
class WebSocketClient {
  readonly ws: WebSocket;
  readonly open: Promise<void>;
  readonly nextMessage: Promise<string>;
  readonly closeCode: Promise<number>;
  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.open = new Promise((resolve) => this.ws.once('open', () => resolve()));
    this.nextMessage = new Promise((resolve) => this.ws.once('message', (data: Buffer) => resolve(data.toString())));
    this.closeCode = new Promise((resolve) => this.ws.once('close', (code: number) => resolve(code)));
  }
}
