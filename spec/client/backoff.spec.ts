import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../lib/client/backoff.js';

const options = { minDelay: 250, maxDelay: 10_000, maxAttempts: Infinity };

describe('backoffDelay', () => {
  it('doubles the ceiling with each attempt, from minDelay, up to maxDelay', () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 10, 50].map((attempt) => backoffDelay(attempt, options, () => 0.999999999));
    assert.deepEqual(ceilings, [249, 499, 999, 1999, 3999, 7999, 9999, 9999, 9999]);
  });

  it('draws uniformly below the ceiling (full jitter): 0 for a random 0, half for 0.5', () => {
    assert.equal(backoffDelay(3, options, () => 0), 0);
    assert.equal(backoffDelay(3, options, () => 0.5), 1000);
  });

  it('stays finite for huge attempt numbers', () => {
    assert.equal(backoffDelay(10_000, { ...options, maxDelay: Number.MAX_SAFE_INTEGER }, () => 0.5), Math.floor(0.5 * 250 * 2 ** 30));
  });
});
