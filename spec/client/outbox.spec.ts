import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Outbox } from '../../lib/client/outbox.js';

describe('Outbox', () => {
  it('numbers messages from 1 and forgets those the server says it received', () => {
    const box = new Outbox();
    for (const m of ['a', 'b', 'c', 'd']) box.push(m);
    assert.deepEqual([box.first, box.last, box.size], [1, 4, 4]);
    box.release(2);
    assert.deepEqual([box.first, box.last, box.at(3), box.at(2)], [3, 4, 'c', undefined]);
    box.release(2); // an older count changes nothing
    box.release(10); // more than it holds empties it
    assert.deepEqual([box.first, box.size], [5, 0]);
    box.push('e');
    assert.equal(box.at(5), 'e');
  });

  it('batches from a number, bounded by count and by bytes but never empty', () => {
    const box = new Outbox();
    for (let i = 0; i < 10; i++) box.push('x'.repeat(98)); // 100 bytes each in JSON
    assert.equal(box.batch(1, 4, 10_000).length, 4);
    assert.equal(box.batch(1, 100, 350).length, 3);
    assert.equal(box.batch(1, 100, 10).length, 1);
    assert.equal(box.batch(9, 100, 10_000).length, 2);
  });

  it('drops a message so the next one takes its number', () => {
    const box = new Outbox();
    box.push('too big');
    box.push('next');
    box.drop(1);
    assert.deepEqual([box.first, box.at(1)], [1, 'next']);
  });
});
