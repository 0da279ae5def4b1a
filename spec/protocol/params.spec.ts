import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionRequestOf } from '../../lib/protocol/params.js';

const id = 'AbCdEfGhIjKlMnOpQrSt_-';
const secret = 'ZyXwVuTsRqPoNmLkJiHg-_';
const ticket = 'TtTtTtTtTtTtTtTtTtTtTt';
const none = { secret: undefined, ticket: undefined };

describe('sessionRequestOf', () => {
  const table: Array<[string, Record<string, string>, ReturnType<typeof sessionRequestOf>]> = [
    ['/live', {}, undefined],
    ['/live?x=1', {}, undefined],
    ['/live?ecs=new', {}, { kind: 'open', poll: false }],
    ['/live?ecs=new&ect=poll', {}, { kind: 'open', poll: true }],
    [`/live?ecs=${id}`, {}, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined, credentials: none, wantsTicket: false }],
    [`/live?ecs=${id}&eca=41&ect=poll`, {}, { kind: 'resume', id, ack: 41, poll: true, firstMessage: undefined, credentials: none, wantsTicket: false }],
    [`/live?ecs=${id}&ecm=3`, {}, { kind: 'resume', id, ack: 0, poll: false, firstMessage: 3, credentials: none, wantsTicket: false }],
    [`/live?ecs=${id}`, { 'ec-secret': secret }, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined, credentials: { secret, ticket: undefined }, wantsTicket: false }],
    [`/live?ecs=${id}`, { 'sec-websocket-protocol': `express-channel, ec-secret.${secret}` }, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined, credentials: { secret, ticket: undefined }, wantsTicket: false }],
    [`/live?ecs=${id}&ecr=new`, { 'ec-secret': secret }, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined, credentials: { secret, ticket: undefined }, wantsTicket: true }],
    [`/live?ecs=${id}&ecr=${ticket}`, {}, { kind: 'resume', id, ack: 0, poll: false, firstMessage: undefined, credentials: { secret: undefined, ticket }, wantsTicket: false }],
    ['/live?ecs=new', { 'last-event-id': `${id}.${secret}.17` }, { kind: 'resume', id, ack: 17, poll: false, firstMessage: undefined, credentials: { secret, ticket: undefined }, wantsTicket: false, fromLastEventId: true }],
    // The form before secrets: read, so that the server can refuse it with a clear answer.
    ['/live?ecs=new', { 'last-event-id': `${id}.17` }, { kind: 'resume', id, ack: 17, poll: false, firstMessage: undefined, credentials: none, wantsTicket: false, fromLastEventId: true }],
    ['/live?ecs=new', { 'last-event-id': 'something-else' }, { kind: 'open', poll: false }],
    ['/live?ecs=short', {}, { kind: 'invalid', message: 'ecs must be "new" or a session id' }],
    [`/live?ecs=${id}&eca=-1`, {}, { kind: 'invalid', message: 'eca must be an integer >= 0' }],
    [`/live?ecs=${id}&eca=1e3`, {}, { kind: 'invalid', message: 'eca must be an integer >= 0' }],
    [`/live?ecs=${id}&ecm=0`, {}, { kind: 'invalid', message: 'ecm must be an integer >= 1' }],
  ];
  for (const [url, headers, expected] of table) {
    it(`reads ${url}${Object.keys(headers).length > 0 ? ` with ${JSON.stringify(headers)}` : ''}`, () => {
      assert.deepEqual(sessionRequestOf(url, headers), expected);
    });
  }
});
