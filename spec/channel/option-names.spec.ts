import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertKnownOptions, nearestName, unknownKey } from '../../lib/channel/option-names.js';

describe('option names', () => {
  const known = ['heartbeat', 'maxPayload', 'maxChannels', 'maxChannelsPerIp', 'sessionTimeout'];

  it('finds the name meant by a typo or two, case ignored, and none for a name far from all', () => {
    assert.equal(nearestName('hearbeat', known), 'heartbeat');
    assert.equal(nearestName('HEARTBEAT', known), 'heartbeat');
    assert.equal(nearestName('maxChannelPerIp', known), 'maxChannelsPerIp');
    assert.equal(nearestName('maxChannel', known), 'maxChannels');
    assert.equal(nearestName('sesionTimeot', known), 'sessionTimeout');
    assert.equal(nearestName('redis', known), undefined);
    assert.equal(nearestName('', known), undefined);
  });

  it('reports the first own key not known, and ignores inherited ones', () => {
    assert.equal(unknownKey({ heartbeat: 1, hearbeat: 2 }, known), 'hearbeat');
    assert.equal(unknownKey(Object.create({ inherited: 1 }) as object, known), undefined);
    assert.equal(unknownKey({}, known), undefined);
  });

  it('throws ERR_CHANNEL_INVALID_OPTION naming the option meant, or listing them all', () => {
    assert.throws(() => assertKnownOptions('x()', { maxPayLoad: 1 }, known), { name: 'TypeError', code: 'ERR_CHANNEL_INVALID_OPTION', message: 'x() has no option "maxPayLoad"; did you mean "maxPayload"?' });
    assert.throws(() => assertKnownOptions('x()', { zzz: 1 }, known), { message: `x() has no option "zzz"; its options are ${known.join(', ')}` });
    assert.doesNotThrow(() => assertKnownOptions('x()', { heartbeat: 1 }, known));
  });
});
