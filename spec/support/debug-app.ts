// Run by spec/debug.spec.ts in a child process, with and without NODE_DEBUG=express-channel
// (Node reads NODE_DEBUG once, at startup). Walks through every event the debug log reports:
// a refused handshake, claims and closes, a session cut and resumed with a gap, an unknown
// session, a slow consumer. Prints the session id and secret and the payload it sent, which
// the log must never contain.
import { once } from 'node:events';
import WebSocket from 'ws';
import type { Channel, CloseReason } from '../../lib/index.js';
import { Inbox, rawWebSocket, startLiveServer } from './live-server.js';
import { SessionPeer } from './session-peer.js';

const secret = 'payload-that-must-not-be-logged';
const opened = new Inbox<Channel>();
const closed = new Inbox<CloseReason>();
const s = await startLiveServer({ heartbeat: 0, maxBufferedBytes: 64 * 1024, sessionBuffer: { messages: 1 } }, (app) => {
  app.get('/live', (req) => {
    req.channel!.onClose(closed.push);
    opened.push(req.channel!);
  });
});

// A WebSocket from another site: 403 before any 101.
const foreign = new WebSocket(s.wsUrl('/live'), { origin: 'https://elsewhere.example' });
const [, refusal] = (await once(foreign, 'unexpected-response')) as [unknown, { statusCode: number; resume(): void }];
refusal.resume();
await opened.untilCount(1); // its route ran, and its claim was refused

// A WebSocket of the pre-RFC version 8, which ws would accept and we do not: 400.
const draft = new WebSocket(s.wsUrl('/live'), { protocolVersion: 8 });
const [, draftRefusal] = (await once(draft, 'unexpected-response')) as [unknown, { statusCode: number; resume(): void }];
draftRefusal.resume();
await opened.untilCount(2);

// An SSE channel: claimed by its first send, then closed by the server.
const stream = await fetch(s.url('/live'), { headers: { accept: 'text/event-stream' } });
const sse = (await opened.untilCount(3))[2];
sse!.send(secret);
sse!.close();
await stream.text();

// A session: its connection cut, three messages sent while away (the buffer keeps one), a
// resume that learns of the gap.
const peer = new SessionPeer(s.url(''), '/live');
await peer.connect('websocket');
const session = (await opened.untilCount(4))[3];
peer.cut();
await peer.ended();
for (let i = 0; i < 3; i++) session!.send(`${secret} ${i}`);
await peer.connect('websocket');
peer.cut();

// A resume of a session that does not exist.
const unknown = await fetch(s.url('/live?ecs=AAAAAAAAAAAAAAAAAAAAAA&ect=poll'));
await unknown.text();

// A slow consumer: a WebSocket client that never reads, sent to until it is closed.
const slow = await rawWebSocket(s.port, '/live');
const slowChannel = (await opened.untilCount(5))[4];
const big = 'x'.repeat(8 * 1024);
for (let sent = 0; slowChannel!.isOpen && sent < 8000; sent++) {
  slowChannel!.send(big);
  if (sent % 4 === 3) await new Promise(setImmediate);
}
slow.socket.destroy();

console.log(JSON.stringify({ session: peer.sessionId, sessionSecret: peer.secret, secret, slowClosed: slowChannel!.closeReason }));
await s.close();
