import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionRequestOf } from '../../lib/protocol/params.js';

const id = 'AbCdEfGhIjKlMnOpQrSt_-';

describe('sessionRequestOf', () => {
  const table: Array<[string, Record<string, string>, ReturnType<typeof sessionRequestOf>]> = [
    ['/live', {}, undefined],
    ['/live?x=1', {}, undefined],
    ['/live?ecs=new', {}, { kind: 'open', poll: false }],
    ['/live?ecs=new&ect=poll', {}, { kind: 'open', poll: true }],
    [`/live?ecs=${id}`, {}, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined }],
    [`/live?ecs=${id}&eca=41&ect=poll`, {}, { kind: 'resume', id, ack: 41, poll: true, firstMessage: undefined }],
    [`/live?ecs=${id}&ecm=3`, {}, { kind: 'resume', id, ack: 0, poll: false, firstMessage: 3 }],
    ['/live?ecs=new', { 'last-event-id': `${id}.17` }, { kind: 'resume', id, ack: 17, poll: false, firstMessage: undefined, fromLastEventId: true }],
    ['/live?ecs=new', { 'last-event-id': 'something-else' }, { kind: 'open', poll: false }],
    ['/live?ecs=short', {}, { kind: 'invalid', message: 'ecs must be "new" or a session id' }],
    [`/live?ecs=${id}&eca=-1`, {}, { kind: 'invalid', message: 'eca must be an integer >= 0' }],
    [`/live?ecs=${id}&eca=1e3`, {}, { kind: 'invalid', message: 'eca must be an integer >= 0' }],
    [`/live?ecs=${id}&ecm=0`, {}, { kind: 'invalid', message: 'ecm must be an integer >= 1' }],
  ];
  for (const [url, headers, expected] of table) {
    it(`reads ${url}${headers['last-event-id'] ? ` with Last-Event-ID ${headers['last-event-id']}` : ''}`, () => {
      assert.deepEqual(sessionRequestOf(url, headers), expected);
    });
  }
});
