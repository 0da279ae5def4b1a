import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closeCodeForReason, isCloseReason, reasonForCloseCode, type CloseReason } from '../../lib/protocol/close-reasons.js';

// http-kit's names, one per WebSocket close code (RFC 6455 §7.4.1).
const byCode: [number, CloseReason][] = [
  [1000, 'normal'],
  [1001, 'going-away'],
  [1002, 'protocol-error'],
  [1003, 'unsupported'],
  [1005, 'no-status-received'],
  [1006, 'abnormal'],
  [1007, 'invalid-payload-data'],
  [1008, 'policy-violation'],
  [1009, 'message-too-big'],
  [1010, 'mandatory-extension'],
  [1011, 'internal-server-error'],
];

const allReasons: CloseReason[] = [
  'server-close',
  'client-close',
  ...byCode.map(([, reason]) => reason),
  'unknown',
  'client-away',
  'slow-consumer',
  'shutdown',
];

describe('reasonForCloseCode', () => {
  for (const [code, reason] of byCode) {
    it(`names close code ${code} '${reason}'`, () => {
      assert.equal(reasonForCloseCode(code), reason);
    });
  }

  for (const code of [0, 999, 1004, 1012, 1015, 3000, 4000, 4999]) {
    it(`names any other close code (${code}) 'unknown'`, () => {
      assert.equal(reasonForCloseCode(code), 'unknown');
    });
  }
});

describe('closeCodeForReason', () => {
  it('sends the matching code for every reason that has one', () => {
    for (const [code, reason] of byCode) {
      if (code === 1005 || code === 1006) continue;
      assert.equal(closeCodeForReason(reason), code, reason);
    }
  });

  it('never sends the reserved codes 1005 and 1006 on the wire', () => {
    for (const reason of allReasons) {
      assert.ok(![1005, 1006, 1015].includes(closeCodeForReason(reason)), `${reason} -> ${closeCodeForReason(reason)}`);
    }
  });

  it('closes with 1000 for server-close, 1001 for shutdown and client-away, 1008 for slow-consumer', () => {
    assert.equal(closeCodeForReason('server-close'), 1000);
    assert.equal(closeCodeForReason('shutdown'), 1001);
    assert.equal(closeCodeForReason('client-away'), 1001);
    assert.equal(closeCodeForReason('slow-consumer'), 1008);
  });

  it('only uses codes an endpoint may send (RFC 6455 §7.4)', () => {
    for (const reason of allReasons) {
      const code = closeCodeForReason(reason);
      assert.ok(code >= 1000 && code <= 1011, `${reason} -> ${code}`);
    }
  });
});

describe('isCloseReason', () => {
  it('accepts exactly the seventeen documented reasons', () => {
    assert.equal(allReasons.length, 17);
    for (const reason of allReasons) assert.equal(isCloseReason(reason), true, reason);
  });

  it('rejects anything else, including inherited property names', () => {
    for (const value of ['closed', 'Normal', '', 'toString', '__proto__', 'hasOwnProperty', 1000, undefined, null, {}]) {
      assert.equal(isCloseReason(value), false, String(value));
    }
  });
});
