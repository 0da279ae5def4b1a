// Session on its own: numbering, acknowledgements, the hello and replay a new connection gets,
// poll answers, the acknowledgement of client messages and the away timer. Its owner is a
// recording SessionOwner (the interface Session declares for its channel); the connections
// are real wires (a WebSocket from acceptWebSocket, a held poll) on real sockets.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { WebSocketServer } from 'ws';
import { newChannelId } from '../../lib/channel/ids.js';
import type { CloseReason } from '../../lib/index.js';
import { LoggedMessage, MessageLog } from '../../lib/sessions/message-log.js';
import { Session, type SessionOwner, type SessionSettings } from '../../lib/sessions/session.js';
import { PollWire } from '../../lib/transports/poll.js';
import { acceptWebSocket, type WebSocketWire } from '../../lib/transports/websocket.js';
import type { Payload, Wire, WireSink } from '../../lib/transports/wire.js';
import { deferred, openWebSocket, serve, withTimeout, wsInbox, type Inbox, type WsMessage } from '../support/harness.js';

class RecordingOwner implements SessionOwner {
  readonly id = newChannelId();
  readonly closes: CloseReason[] = [];
  readonly failures: unknown[] = [];
  closeError: Error | undefined;
  close(reason: CloseReason): boolean {
    this.closes.push(reason);
    if (this.closeError !== undefined) throw this.closeError;
    return true;
  }
  failed(error: unknown): void {
    this.failures.push(error);
  }
  drops = 0;
  dropConnection(): void {
    this.drops++;
  }
}

/** Where the wires report (the interface a wire declares for its channel): these tests look at the client instead. */
const sink: WireSink = { received() {}, ended() {}, control() {}, released() {}, failed() {} };

const settings: SessionSettings = { sessionMessages: 1000, sessionBytes: 1 << 20, sessionTimeout: 30_000, heartbeat: 25_000, pollTimeout: 25_000 };

function session(limits: Partial<SessionSettings> = {}): { owner: RecordingOwner; session: Session } {
  const owner = new RecordingOwner();
  return { owner, session: new Session(owner, { ...settings, ...limits }) };
}

const message = (payload: Payload, log?: MessageLog) => new LoggedMessage(payload, {}, log);
const payloads = (s: Session, ack: number) => s.since(ack).messages.map((m) => m.payload);

/** A real session WebSocket: the server side's wire and the client's frames. */
async function webSocketWire(t: TestContext): Promise<{ wire: WebSocketWire; frames: Inbox<WsMessage> }> {
  const served = await serve(t, (_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false });
  const accepted = deferred<WebSocketWire>();
  served.server.on('upgrade', (req, socket, head) => {
    const wire = acceptWebSocket({ server: wss, req, socket, head, sink, session: true });
    if (wire === undefined) accepted.reject(new Error('handshake refused'));
    else accepted.resolve(wire);
  });
  const client = await openWebSocket(t, served.wsUrl);
  return { wire: await withTimeout(accepted.promise, 2000, 'the server side of the WebSocket'), frames: wsInbox(client) };
}

/** The next frame, which must be a control frame: its JSON. */
async function nextControl(frames: Inbox<WsMessage>): Promise<unknown> {
  const { data, isBinary } = await frames.next();
  const text = data.toString();
  assert.equal(isBinary, false);
  assert.equal(text[0], 'c', `a control frame, got ${JSON.stringify(text)}`);
  return JSON.parse(text.slice(1));
}

/** Serves one held poll on `s`, greeted as `greet` says; resolves the poll's wire. */
async function pollServer(t: TestContext, s: Session, greet: (wire: Wire) => void) {
  const wire = deferred<Wire>();
  const served = await serve(t, (_req, res) => {
    const poll = new PollWire({ res, sink, source: s, ack: 0, pollTimeout: 60_000 });
    greet(poll);
    wire.resolve(poll);
  });
  const answer = fetch(served.url).then((res) => res.json());
  return { wire: await withTimeout(wire.promise, 2000, 'the poll to arrive'), answer: withTimeout(answer, 2000, 'the poll answer') };
}

describe('Session', () => {
  it('ends the session for a goodbye or a broken protocol, not for a lost connection', () => {
    const ends: CloseReason[] = ['normal', 'protocol-error', 'unsupported', 'invalid-payload-data', 'policy-violation', 'message-too-big', 'mandatory-extension'];
    const lost: CloseReason[] = ['going-away', 'abnormal', 'no-status-received', 'client-close', 'internal-server-error', 'unknown', 'client-away'];
    for (const reason of ends) assert.equal(Session.endsSession(reason), true, reason);
    for (const reason of lost) assert.equal(Session.endsSession(reason), false, reason);
  });

  describe('numbering and poll answers', () => {
    it('numbers what it keeps from 1 and forgets what the client acknowledged', () => {
      const { session: s } = session();
      assert.deepEqual([s.keep(message('a'), false), s.keep(message('b'), false), s.keep(message('c'), false)], [1, 2, 3]);
      assert.equal(s.nextSeq, 4);
      assert.equal(s.queued(), 3);
      s.acknowledge(2);
      assert.equal(s.queued(), 1);
      assert.deepEqual(s.since(2), { next: 3, gap: undefined, messages: s.since(2).messages, truncated: false });
      assert.deepEqual(payloads(s, 2), ['c']);
    });

    it('ignores an acknowledgement of messages it never sent', () => {
      const { session: s } = session();
      s.keep(message('a'), false);
      s.keep(message('b'), false);
      assert.equal(s.isValidAck(2), true);
      assert.equal(s.isValidAck(3), false);
      s.acknowledge(3);
      assert.equal(s.queued(), 2);
      assert.deepEqual(payloads(s, 0), ['a', 'b']);
    });

    it('counts the next broadcasts of the group it follows without storing them, giving a number only when asked', () => {
      const { session: s } = session();
      const log = new MessageLog();
      const [x, y, z] = [message('x', log), message('y', log), message('z', log)];
      assert.equal(s.keep(x, false), 1);
      assert.equal(s.keep(y, false), undefined);
      assert.equal(s.keep(z, true), 3);
      assert.deepEqual([x.position, y.position, z.position], [0, 1, 2], 'each has its place in the group log');
      assert.equal(s.queued(), 3);
      assert.deepEqual(payloads(s, 1), ['y', 'z']);
    });

    it('answers a poll with the hello and every message after its acknowledgement, bytes in base64', () => {
      const { owner, session: s } = session();
      s.keep(message('a'), false);
      s.keep(message(Buffer.from([1, 2])), false);
      s.countReceived(undefined);
      assert.deepEqual(s.pollAnswer(0), { session: owner.id, next: 1, received: 1, heartbeat: 25_000, sessionTimeout: 30_000, secret: s.secret, pollTimeout: 25_000, messages: ['a', { base64: 'AQI=' }] });
      assert.deepEqual(s.pollAnswer(1).messages, [{ base64: 'AQI=' }]);
      assert.equal(s.pollAnswer(2).next, 3);
    });

    it('reports what its bound let go as a gap in the poll answer', () => {
      const { session: s } = session({ sessionMessages: 2 });
      for (const text of ['1', '2', '3', '4']) s.keep(message(text), false);
      const answer = s.pollAnswer(0);
      assert.deepEqual([answer.next, answer.gap, answer.messages], [3, [1, 2], ['3', '4']]);
    });

  });

  describe('the secret', () => {
    it('tells its secret in the first hello only', () => {
      const { session: s } = session();
      assert.match(s.secret, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(s.pollAnswer(0).secret, s.secret);
      assert.equal(s.pollAnswer(0).secret, undefined, 'a later answer does not repeat it');
    });

    it('is proven by its secret, and by nothing one character off', () => {
      const { session: s } = session();
      const other = session().session;
      const oneOff = (s.secret[0] === 'A' ? 'B' : 'A') + s.secret.slice(1);
      assert.equal(s.proves({ secret: s.secret }), true);
      assert.deepEqual([s.proves({ secret: oneOff }), s.proves({ secret: other.secret }), s.proves({ secret: undefined }), s.proves({ secret: s.secret.slice(1) })], [false, false, false, false]);
    });

    it('admits a resume ticket once, and only the latest ticket', () => {
      const { session: s } = session();
      const first = s.issueTicket();
      const second = s.issueTicket();
      assert.equal(s.proves({ ticket: first }), false, 'a new ticket voids the one before');
      assert.equal(s.proves({ ticket: second }), true);
      assert.equal(s.proves({ ticket: second }), false, 'a ticket is spent by its use');
      assert.equal(s.proves({ ticket: s.secret }), false, 'the secret is not a ticket');
    });

    it('lets a ticket expire after 30 s', (t) => {
      t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
      const { session: s } = session();
      const ticket = s.issueTicket();
      t.mock.timers.tick(30_000);
      assert.equal(s.proves({ ticket }), false);
    });
  });

  describe('greet', () => {
    it('sends a new WebSocket the hello, then what the client missed, in order', async (t) => {
      const { owner, session: s } = session();
      s.keep(message('a'), false);
      s.keep(message(Buffer.from([7, 8])), false);
      s.keep(message('c'), false);
      s.countReceived(undefined);
      s.countReceived(undefined);
      const { wire, frames } = await webSocketWire(t);
      s.greet(wire, 1, false);
      assert.deepEqual(await nextControl(frames), { type: 'hello', session: owner.id, next: 2, received: 2, heartbeat: 25_000, sessionTimeout: 30_000, secret: s.secret });
      assert.deepEqual(await frames.next(), { data: Buffer.from([7, 8]), isBinary: true });
      assert.deepEqual(await frames.next(), { data: Buffer.from('mc'), isBinary: false });
      assert.equal(frames.size, 0);
    });

    it('tells a WebSocket of the gap in its hello and replays what is still held', async (t) => {
      const { session: s } = session({ sessionMessages: 2 });
      for (const text of ['1', '2', '3', '4']) s.keep(message(text), false);
      const { wire, frames } = await webSocketWire(t);
      s.greet(wire, 0, false);
      assert.deepEqual(await nextControl(frames), { type: 'hello', session: s.wiring(0).id, next: 3, received: 0, heartbeat: 25_000, sessionTimeout: 30_000, gap: [1, 2], secret: s.secret });
      assert.deepEqual((await frames.next()).data.toString(), 'm3');
      assert.deepEqual((await frames.next()).data.toString(), 'm4');
    });

    it("numbers a new WebSocket's frames from the hello's `received`: one a POST delivered meanwhile is a repeat", async (t) => {
      const { session: s } = session();
      s.countReceived(undefined);
      s.countReceived(undefined);
      const { wire } = await webSocketWire(t);
      s.greet(wire, 0, false); // the client numbers its next frame 3
      s.countReceived(undefined); // message 3 arrives first by a POST still in flight
      assert.deepEqual([s.isRepeatedFrame(), s.isRepeatedFrame()], [true, false], 'frame 3 was delivered already, frame 4 is new');
    });

    it('answers the poll that opens the session at once', async (t) => {
      const { owner, session: s } = session();
      const { answer } = await pollServer(t, s, (wire) => s.greet(wire, 0, true));
      assert.deepEqual(await answer, { session: owner.id, next: 1, received: 0, heartbeat: 25_000, sessionTimeout: 30_000, secret: s.secret, pollTimeout: 25_000, messages: [] });
    });

    it('answers a resuming poll at once when messages wait for it', async (t) => {
      const { session: s } = session();
      s.keep(message('waiting'), false);
      const { answer } = await pollServer(t, s, (wire) => s.greet(wire, 0, false));
      assert.deepEqual(((await answer) as { messages: unknown }).messages, ['waiting']);
    });

    it('holds a resuming poll while nothing waits, until a message comes', async (t) => {
      const { session: s } = session();
      const { wire, answer } = await pollServer(t, s, (poll) => s.greet(poll, 0, false));
      const late = message('late');
      s.keep(late, false);
      wire.writeShared(late);
      // Had greet answered, the answer would have come empty, before the message.
      assert.deepEqual(((await answer) as { messages: unknown }).messages, ['late']);
    });
  });

  describe('acknowledging client messages on a WebSocket', () => {
    it('tells the client once per tick how many of its messages were delivered', async (t) => {
      const { session: s } = session();
      const { wire, frames } = await webSocketWire(t);
      s.countReceived(wire);
      s.countReceived(wire);
      s.countReceived(wire);
      assert.deepEqual(await nextControl(frames), { type: 'ack', received: 3 });
      s.countReceived(wire);
      // The next frame is the next tick's: no second acknowledgement of 3 came before it.
      assert.deepEqual(await nextControl(frames), { type: 'ack', received: 4 });
      assert.equal(s.received, 4);
    });

    it('fails its owner, not the process, when the scheduled acknowledgement throws', async (t) => {
      const { owner, session: s } = session();
      const { wire } = await webSocketWire(t);
      const failure = new Error('injected: ack');
      // A failure injected into this one real wire (as spec/library-failures.spec.ts does).
      wire.sendControl = () => {
        throw failure;
      };
      s.countReceived(wire);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.deepEqual(owner.failures, [failure]);
      assert.deepEqual(owner.closes, []);
      s.countReceived(wire);
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.deepEqual(owner.failures, [failure, failure], 'the next acknowledgement is scheduled again');
    });
  });

  describe('the away timer', () => {
    it('closes its owner with client-away when its client does not come back within sessionTimeout', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { owner, session: s } = session({ sessionTimeout: 1000 });
      s.startAwayTimer();
      t.mock.timers.tick(999);
      assert.deepEqual(owner.closes, []);
      t.mock.timers.tick(1);
      assert.deepEqual(owner.closes, ['client-away']);
    });

    it('counts the time its client was already silent', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { owner, session: s } = session({ sessionTimeout: 1000 });
      s.startAwayTimer(400);
      t.mock.timers.tick(599);
      assert.deepEqual(owner.closes, []);
      t.mock.timers.tick(1);
      assert.deepEqual(owner.closes, ['client-away']);
      s.startAwayTimer(5000); // silent for longer than sessionTimeout: at once
      t.mock.timers.tick(0);
      assert.deepEqual(owner.closes, ['client-away', 'client-away']);
    });

    it('is stopped by a client that came back, and restarted rather than doubled', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { owner, session: s } = session({ sessionTimeout: 1000 });
      s.startAwayTimer();
      t.mock.timers.tick(500);
      s.stopAwayTimer();
      t.mock.timers.tick(5000);
      assert.deepEqual(owner.closes, []);
      s.startAwayTimer();
      t.mock.timers.tick(500);
      s.startAwayTimer();
      t.mock.timers.tick(999);
      assert.deepEqual(owner.closes, [], 'the first start no longer counts');
      t.mock.timers.tick(1);
      assert.deepEqual(owner.closes, ['client-away']);
    });

    it('fails its owner when closing it throws', (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { owner, session: s } = session({ sessionTimeout: 1000 });
      owner.closeError = new Error('injected: close');
      s.startAwayTimer();
      t.mock.timers.tick(1000);
      assert.deepEqual(owner.closes, ['client-away']);
      assert.deepEqual(owner.failures, [owner.closeError]);
    });
  });
});
