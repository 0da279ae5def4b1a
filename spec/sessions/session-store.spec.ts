// MemorySessionStore, driven directly with plain objects that have a session id: what a `live`
// instance keeps of its open sessions and of recently closed polling ones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newChannelId } from '../../lib/channel/ids.js';
import { MemorySessionStore } from '../../lib/sessions/session-store.js';

interface Entry {
  readonly id: string;
}

const entry = (id = newChannelId()): Entry => ({ id });

/** `id` with its last character changed: same length, one character wrong. */
function oneOff(id: string): string {
  return id.slice(0, -1) + (id.endsWith('A') ? 'B' : 'A');
}

// How many closed sessions the store keeps at most.
const maxTombstones = 10_000;

describe('MemorySessionStore', () => {
  it('finds an open session by its id, counts and lists them, and forgets a deleted one', () => {
    const store = new MemorySessionStore<Entry>();
    const a = entry();
    const b = entry();
    store.add(a);
    store.add(b);
    assert.equal(store.size, 2);
    assert.equal(store.find(a.id), a);
    assert.equal(store.find(b.id), b);
    assert.deepEqual(new Set(store), new Set([a, b]));
    store.delete(a);
    assert.equal(store.find(a.id), undefined);
    assert.equal(store.size, 1);
    assert.deepEqual([...store], [b]);
  });

  it('finds nothing for an id that is wrong in one character (or only in case), shorter, longer or empty', () => {
    const store = new MemorySessionStore<Entry>();
    const a = entry('Session_id-0123456789a');
    store.add(a);
    for (const wrong of [oneOff(a.id), 'session_id-0123456789a', a.id.slice(0, -1), `${a.id}A`, '']) {
      assert.equal(store.find(wrong), undefined, JSON.stringify(wrong));
    }
    assert.equal(store.find(a.id), a);
  });

  it('hands a buried session to takeClosed once, and never to find', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const a = entry();
    store.bury(a, 5000);
    assert.equal(store.find(a.id), undefined);
    assert.equal(store.size, 0, 'a tombstone is not an open session');
    assert.equal(store.takeClosed(a.id), a);
    assert.equal(store.takeClosed(a.id), undefined);
  });

  it('keeps a buried session when takeClosed is asked for an id one character off', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const a = entry();
    store.bury(a, 5000);
    assert.equal(store.takeClosed(oneOff(a.id)), undefined);
    assert.equal(store.takeClosed(a.id), a);
  });

  it('forgets a buried session once its grace has passed, and not a millisecond before', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const early = entry();
    const late = entry();
    store.bury(early, 5000);
    store.bury(late, 5000);
    t.mock.timers.tick(4999);
    assert.equal(store.takeClosed(early.id), early);
    t.mock.timers.tick(1);
    assert.equal(store.takeClosed(late.id), undefined);
  });

  it('gives a session taken and buried again its new grace: the first timer no longer counts', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const a = entry();
    store.bury(a, 1000);
    t.mock.timers.tick(500);
    assert.equal(store.takeClosed(a.id), a);
    store.bury(a, 1000); // now expires at 1500
    t.mock.timers.tick(600);
    assert.equal(store.takeClosed(a.id), a, 'still there at 1100: the first burial was forgotten with its timer');
  });

  it('gives a session buried twice (never taken) the second grace, not the first', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const a = entry();
    store.bury(a, 1000);
    t.mock.timers.tick(500);
    store.bury(a, 1000); // now expires at 1500
    t.mock.timers.tick(600);
    assert.equal(store.takeClosed(a.id), a, 'still there at 1100: the first timer was cleared');
  });

  it(`keeps at most ${maxTombstones.toLocaleString('en')} buried sessions, letting the oldest go first`, (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const buried = Array.from({ length: maxTombstones + 1 }, () => entry());
    for (const e of buried) store.bury(e, 60_000);
    assert.equal(store.takeClosed(buried[0]!.id), undefined, 'the oldest made room');
    assert.equal(store.takeClosed(buried[1]!.id), buried[1]);
    assert.equal(store.takeClosed(buried[maxTombstones]!.id), buried[maxTombstones]);
  });

  it('keeps exactly the cap without letting any go', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const store = new MemorySessionStore<Entry>();
    const buried = Array.from({ length: maxTombstones }, () => entry());
    for (const e of buried) store.bury(e, 60_000);
    assert.equal(store.takeClosed(buried[0]!.id), buried[0]);
  });
});
