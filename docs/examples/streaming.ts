// http-kit's streaming example, in TypeScript. Ten messages, one every 200 ms, then the server
// closes the channel after 10 s. `{ close: false }` keeps the channel open after each send.
// The same handler streams over whatever the client asked for: chunked HTTP, SSE or WebSocket.
//
// Run it:  node --import tsx docs/examples/streaming.ts
// Then:    curl -N localhost:3000/stream                              (chunked HTTP)
//          curl -N -H 'accept: text/event-stream' localhost:3000/stream   (SSE)
//
// In your project, import from 'express-channel' instead of '../../lib/index.js'.
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { channels, type Live } from '../../lib/index.js';

export interface StreamingOptions {
  /** Milliseconds between messages. @defaultValue 200 */
  interval?: number;
  /** How many messages. @defaultValue 10 */
  count?: number;
  /** Milliseconds after which the server closes the channel. @defaultValue 10000 */
  closeAfter?: number;
  /** Where the example says what happens. @defaultValue console.log */
  log?: (line: string) => void;
}

export function createApp({ interval = 200, count = 10, closeAfter = 10_000, log = console.log }: StreamingOptions = {}): { app: Express; live: Live } {
  const live = channels();
  const app = express();
  app.use(live);

  app.get('/stream', (req) => {
    const ch = req.channel!;
    const timers: NodeJS.Timeout[] = [];
    ch.onClose((reason) => {
      // Nothing more to send once the client left (or we closed).
      for (const timer of timers) clearTimeout(timer);
      log(`channel closed, ${reason}`);
    });
    for (let id = 0; id < count; id++) {
      // `close: false`: do not close after this send (the default on plain HTTP is to close).
      timers.push(setTimeout(() => ch.send(`message from server #${id}`, { close: false }), id * interval));
    }
    timers.push(setTimeout(() => ch.close(), closeAfter));
  });

  return { app, live };
}

// Run standalone when executed directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp();
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`streaming example on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/stream`);
  });
  live.attach(server);
}
