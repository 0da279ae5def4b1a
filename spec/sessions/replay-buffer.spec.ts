import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReplayBuffer } from '../../lib/sessions/replay-buffer.js';
import { LoggedMessage } from '../../lib/sessions/message-log.js';
import { runs } from '../support/property.js';

const message = (text: string) => new LoggedMessage(text, {});
const texts = (buffer: ReplayBuffer, since: number) => buffer.since(since).messages.map((m) => m.payload);

describe('ReplayBuffer', () => {
  it('replays up to a lost broadcast, then reports it as a gap to a client that comes back from there', () => {
    const buffer = new ReplayBuffer({ messages: 10, bytes: 1024 });
    const lost = () => Object.assign(message(''), { lost: true });
    for (const m of [message('a'), lost(), lost(), message('b'), lost(), message('c')]) buffer.append(m);
    const first = buffer.since(0);
    assert.deepEqual([first.next, first.gap, first.messages.map((m) => m.payload), first.truncated], [1, undefined, ['a'], true]);
    const second = buffer.since(1);
    assert.deepEqual([second.next, second.gap, second.messages.map((m) => m.payload), second.truncated], [4, [2, 3], ['b'], true]);
    const third = buffer.since(4);
    assert.deepEqual([third.next, third.gap, third.messages.map((m) => m.payload), third.truncated], [6, [5, 5], ['c'], false]);
  });

  it('numbers messages from 1 and replays everything after an acknowledgement', () => {
    const buffer = new ReplayBuffer({ messages: 10, bytes: 1024 });
    assert.equal(buffer.append(message('a')), 1);
    assert.equal(buffer.append(message('b')), 2);
    assert.equal(buffer.append(message('c')), 3);
    assert.deepEqual(texts(buffer, 1), ['b', 'c']);
    assert.deepEqual(buffer.since(1).next, 2);
    assert.equal(buffer.since(1).gap, undefined);
  });

  it('forgets acknowledged messages', () => {
    const buffer = new ReplayBuffer({ messages: 10, bytes: 1024 });
    for (const t of ['a', 'b', 'c']) buffer.append(message(t));
    buffer.acknowledge(2);
    assert.equal(buffer.held(), 1);
    assert.deepEqual(texts(buffer, 2), ['c']);
  });

  it('lets the oldest go past the count bound and reports them as a gap', () => {
    const buffer = new ReplayBuffer({ messages: 2, bytes: 1024 });
    for (const t of ['a', 'b', 'c', 'd']) buffer.append(message(t));
    assert.deepEqual(buffer.since(0), { next: 3, gap: [1, 2], messages: buffer.since(2).messages, truncated: false });
    assert.deepEqual(texts(buffer, 0), ['c', 'd']);
  });

  it('lets the oldest go past the byte bound but always keeps the newest', () => {
    const buffer = new ReplayBuffer({ messages: 100, bytes: 5 });
    buffer.append(message('abc'));
    buffer.append(message('defg'));
    assert.deepEqual(texts(buffer, 0), ['defg']);
    buffer.append(message('0123456789'));
    assert.deepEqual(texts(buffer, 0), ['0123456789']);
    assert.deepEqual(buffer.since(0).gap, [1, 2]);
  });

  it('accepts only acknowledgements of messages it sent', () => {
    const buffer = new ReplayBuffer({ messages: 10, bytes: 1024 });
    buffer.append(message('a'));
    assert.equal(buffer.isValidAck(0), true);
    assert.equal(buffer.isValidAck(1), true);
    assert.equal(buffer.isValidAck(2), false);
    assert.equal(buffer.isValidAck(-1), false);
    assert.equal(buffer.isValidAck(0.5), false);
  });

  it('never replays partially: what follows an acknowledgement is either all there or the gap says what is not', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), (limit, count, ackSeed) => {
        const buffer = new ReplayBuffer({ messages: limit, bytes: 1 << 20 });
        for (let i = 1; i <= count; i++) buffer.append(message(String(i)));
        const ack = count === 0 ? 0 : ackSeed % (count + 1);
        const replay = buffer.since(ack);
        const numbers = replay.messages.map((m) => Number(m.payload));
        const lost = replay.gap === undefined ? [] : range(replay.gap[0], replay.gap[1]);
        assert.deepEqual([...lost, ...numbers], range(ack + 1, count));
        assert.equal(replay.next, (replay.gap?.[1] ?? ack) + 1);
      }),
      runs(100),
    );
  });
});

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
