// http-kit's WebSocket example, in TypeScript: echo every message back, text as text and
// binary as binary, and say when the channel closes and why.
//
// Run it:  node --import tsx docs/examples/websocket.ts
// Then, in a browser console on any page:
//          const ws = new WebSocket('ws://127.0.0.1:3000/ws'); ws.onmessage = (e) => console.log(e.data);
//          ws.onopen = () => ws.send('hello');
//
// In your project, import from 'express-channel' instead of '../../lib/index.js'.
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { channels, type Live } from '../../lib/index.js';

export interface WebSocketOptions {
  /** Where the example says what happens. @defaultValue console.log */
  log?: (line: string) => void;
}

export function createApp({ log = console.log }: WebSocketOptions = {}): { app: Express; live: Live } {
  const live = channels();
  const app = express();
  app.use(live);

  app.get('/ws', (req) => {
    const ch = req.channel!;
    ch.onClose((reason) => log(`channel closed: ${reason}`));
    // Echo it back. Registering onReceive completes the handshake.
    ch.onReceive((data) => ch.send(data));
  });

  return { app, live };
}

// Run standalone when executed directly. `live.attach` routes WebSocket upgrades through `app`.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp();
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`websocket example on ws://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/ws`);
  });
  live.attach(server);
}
