import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import express from 'express';
import { channels, type Channel, type ChannelsOptions } from '../../lib/index.js';
import { testScope, type TestRequest } from '../../lib/testing/index.js';
import { deferred } from '../support/harness.js';

interface PollAnswer {
  session: string;
  next: number;
  received: number;
  messages: Array<string | { base64: string }>;
  gap?: [number, number];
  closed?: string;
  secret?: string;
}

async function pollApp(t: TestContext, options: ChannelsOptions = {}) {
  const live = channels(options);
  const app = express();
  // Resolves a waiter once a poll request has been through the middleware (which handles a
  // resume synchronously), so tests know the server is holding it without sleeping.
  const arrivals: Array<() => void> = [];
  app.use((req, res, next) => {
    live(req, res, next);
    if (req.url.includes('ect=poll')) arrivals.shift()?.();
  });
  const channel = deferred<Channel>();
  app.get('/live', (req) => {
    const ch = req.channel!;
    ch.onClose(() => {});
    channel.resolve(ch);
  });
  const scope = testScope(t);
  const served = await scope.listen(app, { live });
  const open = scope.http(served.url('/live?ecs=new&ect=poll'));
  assert.equal((await open.response()).status, 200);
  const hello = await answerOf(open);
  // Each poll is a long-poll on a connection of its own (the helpers' TestRequest). Later polls
  // prove they are the session's client with the secret from the first answer.
  const poll = (ack: number): TestRequest => scope.http(served.url(`/live?ecs=${hello.session}&ect=poll&eca=${ack}`), { headers: { 'ec-secret': hello.secret ?? '' } });
  const held = () => new Promise<void>((resolve) => arrivals.push(resolve));
  return { live, served, hello, channel: await channel.promise, poll, held };
}

/** A poll's answer, parsed once the response ended. */
async function answerOf(request: TestRequest): Promise<PollAnswer> {
  return JSON.parse(await request.body()) as PollAnswer;
}

describe('poll transport', () => {
  it('opens a session with a first poll answered at once', async (t) => {
    const { hello, channel } = await pollApp(t);
    assert.equal(channel.transport, 'poll');
    assert.equal(channel.isSession, true);
    assert.equal(hello.session, channel.id);
    assert.equal(hello.next, 1);
    assert.deepEqual(hello.messages, []);
  });

  it('answers at once with everything queued between polls, text and binary', async (t) => {
    const { channel, poll } = await pollApp(t);
    channel.send('a');
    channel.send(Buffer.from([0, 1, 2]));
    channel.send('c');
    const request = poll(0);
    const { headers } = await request.response();
    assert.equal(headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(headers['cache-control'], 'no-store, no-transform');
    // A whole answer with its length, which no proxy holds back (docs/deployment.md).
    assert.equal(headers['x-accel-buffering'], 'no');
    assert.equal(headers['transfer-encoding'], undefined);
    const length = Number(headers['content-length']);
    const answer = await answerOf(request);
    assert.equal(length, Buffer.byteLength(JSON.stringify(answer)));
    assert.equal(answer.next, 1);
    assert.deepEqual(answer.messages, ['a', { base64: 'AAEC' }, 'c']);
  });

  it('holds a poll until something is sent, then answers with it', async (t) => {
    const { channel, poll, held } = await pollApp(t, { pollTimeout: 10_000 });
    const arrived = held();
    const pending = poll(0);
    await arrived;
    channel.send('late');
    const answer = await answerOf(pending);
    assert.deepEqual(answer.messages, ['late']);
  });

  it('answers an idle poll empty after pollTimeout', async (t) => {
    const { poll } = await pollApp(t, { pollTimeout: 100 });
    const started = Date.now();
    const answer = await answerOf(poll(0));
    assert.deepEqual(answer.messages, []);
    assert.ok(Date.now() - started >= 90);
  });

  it('supersedes a held poll with a newer one, answering the older with 204', async (t) => {
    const { channel, poll, held } = await pollApp(t, { pollTimeout: 10_000 });
    const arrived = held();
    const older = poll(0);
    await arrived;
    const newer = poll(0);
    assert.equal((await older.response()).status, 204, 'the superseded poll');
    channel.send('x');
    assert.deepEqual((await answerOf(newer)).messages, ['x']);
  });

  it('sends again what a lost poll answer carried: the next poll acknowledges less', async (t) => {
    const { channel, poll } = await pollApp(t);
    channel.send('1');
    channel.send('2');
    const first = await answerOf(poll(0));
    assert.deepEqual(first.messages, ['1', '2']);
    // Pretend the answer never arrived: poll again with the old acknowledgement.
    const again = await answerOf(poll(0));
    assert.deepEqual(again.messages, ['1', '2']);
    channel.send('3');
    const after = await answerOf(poll(2));
    assert.equal(after.next, 3);
    assert.deepEqual(after.messages, ['3']);
  });

  it('answers a held poll with the close reason when the channel closes', async (t) => {
    const { channel, poll, held } = await pollApp(t, { pollTimeout: 10_000 });
    const arrived = held();
    const pending = poll(0);
    await arrived;
    channel.close();
    const answer = await answerOf(pending);
    assert.equal(answer.closed, 'server-close');
  });

  it('answers the next poll with the last messages and the reason when the channel closed between polls', async (t) => {
    const { channel, poll } = await pollApp(t);
    channel.send('bye');
    channel.close();
    const answer = await answerOf(poll(0));
    assert.deepEqual(answer.messages, ['bye']);
    assert.equal(answer.closed, 'server-close');
    // Only once: the poll after that learns the session is gone.
    assert.equal((await poll(1).response()).status, 404);
  });

  it('answers polls on close() with shutdown', async (t) => {
    const { live, poll, held } = await pollApp(t, { pollTimeout: 10_000 });
    const arrived = held();
    const pending = poll(0);
    await arrived;
    await live.close();
    assert.equal((await answerOf(pending)).closed, 'shutdown');
  });
});
