import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fanOutBuckets, FanOutTimes } from '../../lib/groups/fan-out-times.js';

describe('FanOutTimes', () => {
  it('puts each recording in the first bucket whose bound it does not pass, the sum in seconds', () => {
    const times = new FanOutTimes();
    times.record(5_000n); // 5 µs: the first bucket (≤ 10 µs)
    times.record(10_000n); // exactly on a bound: that bucket (le means ≤)
    times.record(300_000n); // 0.3 ms: the ≤ 0.5 ms bucket
    times.record(2_000_000_000n); // 2 s: past every bound
    assert.equal(times.count, 4);
    assert.equal(times.counts[0], 2);
    assert.equal(times.counts[fanOutBuckets.indexOf(0.0005)], 1);
    assert.equal(times.counts[fanOutBuckets.length], 1);
    assert.equal(times.counts.reduce((a, b) => a + b), 4);
    assert.ok(Math.abs(times.sum - (0.000005 + 0.00001 + 0.0003 + 2)) < 1e-12);
  });

  it('has increasing bounds in seconds', () => {
    assert.deepEqual([...fanOutBuckets].sort((a, b) => a - b), [...fanOutBuckets]);
    assert.equal(new Set(fanOutBuckets).size, fanOutBuckets.length);
  });
});
