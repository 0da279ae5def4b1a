import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoggedMessage, MessageLog } from '../../lib/sessions/message-log.js';
import { ReplayBuffer } from '../../lib/sessions/replay-buffer.js';
import { collectUntil } from '../support/live-server.js';

const texts = (buffer: ReplayBuffer, since: number) => buffer.since(since).messages.map((m) => m.payload);

/** n broadcasts of one group, as ChannelGroup.deliver builds them. */
function broadcasts(log: MessageLog, from: number, to: number): LoggedMessage[] {
  return Array.from({ length: to - from + 1 }, (_, i) => new LoggedMessage(String(from + i), {}, log));
}

describe('MessageLog', () => {
  it('numbers messages by position and measures the bytes between two positions', () => {
    const log = new MessageLog();
    assert.equal(log.append(new LoggedMessage('ab', {})), 0);
    assert.equal(log.append(new LoggedMessage('cde', {})), 1);
    assert.equal(log.append(new LoggedMessage('€', {})), 2);
    assert.equal(log.at(1).payload, 'cde');
    assert.equal(log.bytesBetween(0, 3), 8);
    assert.equal(log.bytesBetween(1, 2), 3);
  });

  it('keeps a broadcast once however many sessions hold it', () => {
    const log = new MessageLog();
    const sessions = Array.from({ length: 50 }, () => new ReplayBuffer({ messages: 100, bytes: 1 << 20 }));
    for (const message of broadcasts(log, 1, 10)) for (const session of sessions) session.append(message);
    assert.equal(log.length, 10);
    for (const session of sessions) assert.deepEqual(texts(session, 7), ['8', '9', '10']);
  });

  it('lets go of what every session acknowledged, and empties when the last session is released', () => {
    const log = new MessageLog();
    const [a, b] = [new ReplayBuffer({ messages: 1000, bytes: 1 << 20 }), new ReplayBuffer({ messages: 1000, bytes: 1 << 20 })];
    for (const message of broadcasts(log, 1, 100)) {
      a.append(message);
      b.append(message);
    }
    a.acknowledge(100);
    b.acknowledge(60);
    log.trim();
    assert.equal(log.length, 40);
    assert.deepEqual(texts(b, 98), ['99', '100']);
    b.release(false);
    a.release(false);
    assert.equal(log.length, 0);
  });

  it('gives a session that stays far behind copies of its own, so a busy group log stays bounded', () => {
    const { log, leaver } = leaverBehind(5000);
    assert.ok(log.length <= 2 * 10 + 64, `the log holds ${log.length} positions`);
    assert.deepEqual(texts(leaver, 0), ['1', '2', '3', '4', '5']);
    // The copies still count as the leaver's: later sends follow them in order.
    leaver.append(new LoggedMessage('own', {}));
    assert.deepEqual(texts(leaver, 3), ['4', '5', 'own']);
  });

  it('keeps copies for a closed polling session while the group log lets go', () => {
    const log = new MessageLog();
    const closing = new ReplayBuffer({ messages: 100, bytes: 1 << 20 });
    for (const message of broadcasts(log, 1, 3)) closing.append(message);
    closing.release(true);
    assert.equal(log.length, 0);
    assert.deepEqual(texts(closing, 1), ['2', '3']);
  });

  // Each scenario runs in a plain function: a suspended async test would keep its last
  // message alive in a saved register, and the check would see a leak that is not there.
  it('frees what a session acknowledged, even from a group that never broadcasts again', async () => {
    const sent = (() => {
      const session = new ReplayBuffer({ messages: 100, bytes: 1 << 20 });
      const refs: WeakRef<LoggedMessage>[] = [];
      for (let room = 0; room < 20; room++) {
        const log = new MessageLog();
        for (const message of broadcasts(log, 1, 5)) {
          refs.push(new WeakRef(message));
          session.append(message);
        }
        session.left(log); // and the room goes quiet for good
      }
      session.acknowledge(session.nextSeq - 1);
      keep.push(session);
      return refs;
    })();
    assert.equal(await stillReachable(sent), 0);
  });

  it('frees the copies a session got for falling behind, once it acknowledges them', async () => {
    const sent = (() => {
      const { log, leaver, member, early } = leaverBehind(500);
      assert.deepEqual(texts(leaver, 0), ['1', '2', '3', '4', '5']); // from its copies by now
      leaver.acknowledge(leaver.nextSeq - 1);
      keep.push(leaver, member, log);
      return early.map((message) => new WeakRef(message));
    })();
    assert.equal(await stillReachable(sent), 0);
  });
});

// The sessions and logs of the scenarios above stay alive through the check: what must go is
// only what they no longer need.
const keep: object[] = [];

/**
 * Two sessions get broadcasts 1–5; then one leaves the group without acknowledging them while
 * the other keeps up with broadcasts 6–`last`, acknowledging each.
 */
function leaverBehind(last: number) {
  const log = new MessageLog();
  const leaver = new ReplayBuffer({ messages: 10, bytes: 1 << 20 });
  const member = new ReplayBuffer({ messages: 10, bytes: 1 << 20 });
  const early = broadcasts(log, 1, 5);
  for (const message of early) {
    leaver.append(message);
    member.append(message);
  }
  leaver.left(log);
  for (const message of broadcasts(log, 6, last)) {
    member.append(message);
    member.acknowledge(member.nextSeq - 1);
  }
  return { log, leaver, member, early };
}

/** How many of `refs` survive a full garbage collection (the specs run with --expose-gc). */
async function stillReachable(refs: readonly WeakRef<object>[]): Promise<number> {
  // One cycle: a turn first (WeakRefs made or read in this job stay alive until it ends), then gc().
  await collectUntil(() => false, 1);
  return refs.filter((ref) => ref.deref() !== undefined).length;
}
