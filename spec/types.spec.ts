// Type tests: this file is checked by `tsc -p tsconfig.json` (npm run typecheck). Each
// `@ts-expect-error` line is misuse the types must reject; if the types ever accepted it, the
// directive itself would become the compile error. The functions are never called.
import type { IncomingMessage, Server } from 'node:http';
import { it } from 'node:test';
import connect from 'connect';
import express, { type Request as Request5 } from 'express';
import express4, { type Request as Request4 } from 'express4';
import { channels, type Channel, type CloseReason, type Live, type Message, type TransportName } from '../lib/index.js';

/** True only when A and B are the same type (not merely assignable). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_proof: T): void {}

// req.channel is declared on Node's IncomingMessage, so every framework's request has it,
// optional because only requests that passed the middleware carry one.
expectType<Equals<IncomingMessage['channel'], Channel | undefined>>(true);
expectType<Equals<Request5['channel'], Channel | undefined>>(true);
expectType<Equals<Request4['channel'], Channel | undefined>>(true);
expectType<Equals<connect.IncomingMessage['channel'], Channel | undefined>>(true);

// The members, as documented.
expectType<Equals<Channel['id'], string>>(true);
expectType<Equals<Channel['transport'], TransportName>>(true);
expectType<Equals<TransportName, 'websocket' | 'sse' | 'http' | 'poll'>>(true);
expectType<Equals<Channel['isOpen'], boolean>>(true);
expectType<Equals<Channel['isWebSocket'], boolean>>(true);
expectType<Equals<Channel['closeReason'], CloseReason | undefined>>(true);
expectType<Equals<ReturnType<Channel['send']>, boolean>>(true);
expectType<Equals<ReturnType<Channel['close']>, boolean>>(true);
expectType<Equals<Message, string | Buffer>>(true);

export function wellTyped(server: Server): void {
  const live: Live = channels({ heartbeat: 10_000, bufferPolicy: 'drop' });
  // The same middleware mounts in Express 5, Express 4 and connect.
  express().use(live);
  express4().use(live);
  connect().use(live);
  live.attach(server);

  express().get('/live', (req, res) => {
    const ch = req.channel;
    if (ch === undefined) return void res.sendStatus(500);
    ch.onReceive((message) => {
      expectType<Equals<typeof message, string | Buffer>>(true);
      ch.send(message);
    });
    ch.onClose((_reason) => {
      expectType<Equals<typeof _reason, CloseReason>>(true);
    });
    ch.send('text');
    ch.send(Buffer.from('bytes'));
    ch.send(new Uint8Array([1]));
    ch.send({ status: 200, headers: { 'content-type': 'application/json', 'x-n': 1, 'x-list': ['a', 'b'] }, body: '{}' });
    ch.send('event', { event: 'tick', id: 3, close: false });
    ch.close('going-away');
  });

  express4().get('/live', (req) => {
    req.channel?.send('express 4 too');
  });
}

export function misuse(req: Request5, ch: Channel, live: Live): void {
  // @ts-expect-error -- req.channel may be undefined (request did not pass the middleware)
  req.channel.send('x');
  // @ts-expect-error -- send takes text, bytes or a response map, not a number
  ch.send(123);
  // @ts-expect-error -- nor an arbitrary object
  ch.send({ data: 'x' });
  // @ts-expect-error -- status is a number
  ch.send({ status: '200', body: 'x' });
  // @ts-expect-error -- the SSE event type is a string
  ch.send('x', { event: 5 });
  // @ts-expect-error -- close takes one of the documented reasons
  ch.close('bye');
  // @ts-expect-error -- handlers are functions
  ch.onReceive('x');
  // @ts-expect-error -- a close handler gets a reason, not a message
  ch.onClose((reason: Buffer) => reason);
  // @ts-expect-error -- id is read-only
  ch.id = 'mine';
  // @ts-expect-error -- there is no 'tcp' transport
  if (ch.transport === 'tcp') return;
  // @ts-expect-error -- options are checked
  channels({ bufferPolicy: 'discard' });
  // @ts-expect-error -- only 'error' events
  live.on('close', () => undefined);
}

it('compiles (the assertions above are checked by tsc)', () => {});
