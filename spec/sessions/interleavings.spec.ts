// Orders of events between two or more sessions of one group that once broke the server: each
// case is a scenario a user reported or a fuzzer found, replayed over real requests.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { Channel, ChannelsOptions } from '../../lib/index.js';
import { withTimeout } from '../support/harness.js';
import { lobbyApp } from '../support/lobby-app.js';
import { SessionPeer } from '../support/session-peer.js';

interface PollAnswer {
  session: string;
  next: number;
  received: number;
  messages: string[];
  gap?: [number, number];
  secret?: string;
}

/** The two-user chat of issue 10: everyone joins the lobby, a message goes to everyone else. */
async function chatApp(t: TestContext, options: ChannelsOptions = {}) {
  const seen: Channel[] = [];
  const { live, lobby, served, errors } = await lobbyApp(t, options, (ch, req) => {
    seen.push(ch);
    if (req.query.welcome !== undefined) ch.send('welcome');
    ch.onReceive((m) => lobby.broadcast(String(m), { except: ch }));
  });
  // Each session's secret, from its first answer, sent back as the client library does.
  const secrets = new Map<string, string>();
  const proof = (query: string): Record<string, string> => {
    const secret = secrets.get(new URLSearchParams(query).get('ecs') ?? '');
    return secret === undefined ? {} : { 'ec-secret': secret };
  };
  const get = async (query: string): Promise<PollAnswer> => {
    const res = await withTimeout(fetch(`${served.url}/live?${query}`, { headers: proof(query) }), 5000, `GET ${query}`);
    assert.equal(res.status, 200, `GET ${query}`);
    const answer = (await res.json()) as PollAnswer;
    if (answer.secret !== undefined) secrets.set(answer.session, answer.secret);
    return answer;
  };
  const post = async (query: string, body: string[]): Promise<number> => {
    const headers = { 'content-type': 'application/json', ...proof(query) };
    const res = await withTimeout(fetch(`${served.url}/live?${query}`, { method: 'POST', headers, body: JSON.stringify(body) }), 5000, `POST ${query}`);
    await res.arrayBuffer();
    return res.status;
  };
  return { live, lobby, served, errors, seen, get, post };
}

describe('session interleavings', () => {
  it('hands a broadcast to a held poll when the only other reader of the log was the one left out (issue 10)', async (t) => {
    const { lobby, errors, get, post } = await chatApp(t);
    const a = (await get('ecs=new&ect=poll')).session;
    lobby.broadcast('hi');
    assert.deepEqual((await get(`ecs=${a}&ect=poll&eca=0`)).messages, ['hi']);
    const heldA = get(`ecs=${a}&ect=poll&eca=1`);
    const b = await get('ecs=new&ect=poll&welcome=1');
    assert.deepEqual(b.messages, ['welcome']);
    const heldB = get(`ecs=${b.session}&ect=poll&eca=1`);
    assert.equal(await post(`ecs=${a}&ect=poll&ecm=1&eca=1`, ['chat']), 200);
    const answerB = await heldB;
    assert.deepEqual({ next: answerB.next, messages: answerB.messages, gap: answerB.gap }, { next: 2, messages: ['chat'], gap: undefined });
    lobby.broadcast('bye');
    assert.deepEqual((await heldA).messages, ['bye']);
    assert.deepEqual(errors, []);
  });

  it('replays such a broadcast to a WebSocket session that resumes, numbered as announced', async (t) => {
    const { lobby, served, errors, seen, get, post } = await chatApp(t);
    const a = (await get('ecs=new&ect=poll')).session;
    lobby.broadcast('hi');
    await get(`ecs=${a}&ect=poll&eca=0`);
    const b = new SessionPeer(served.url, '/live');
    await b.connect('websocket');
    seen.at(-1)!.send('welcome');
    await withTimeout(b.waitFor(1), 5000, 'welcome');
    b.cut();
    await withTimeout(b.ended(), 5000, 'the cut');
    // A's chat is broadcast to B while B is away, and after A (who is left out) let go.
    assert.equal(await post(`ecs=${a}&ect=poll&ecm=1&eca=1`, ['chat']), 200);
    const hello = await b.connect('websocket');
    assert.equal(hello.next, 2);
    await withTimeout(b.waitFor(2), 5000, 'the replay');
    lobby.broadcast('more');
    await withTimeout(b.waitFor(3), 5000, 'the next broadcast');
    assert.deepEqual(b.messages, ['welcome', 'chat', 'more']);
    assert.deepEqual(b.errors, []);
    assert.deepEqual(errors, []);
    b.cut();
  });
});
