import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newChannelId } from '../../lib/channel/ids.js';

describe('newChannelId', () => {
  it('gives 128 random bits as 22 base64url characters, never twice, across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const id = newChannelId();
      assert.match(id, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(Buffer.from(id, 'base64url').length, 16);
      seen.add(id);
    }
    assert.equal(seen.size, 2000);
  });
});
