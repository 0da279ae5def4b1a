// Chat rooms with live.group(name): every client of /rooms/:room joins the room's group,
// whatever its transport, and one broadcast reaches them all. WebSocket clients talk on
// their socket; any HTTP client can POST to the room. `live.close()` shuts down gracefully.
//
// Run it:  node --import tsx docs/examples/groups-chat.ts
// Then:    curl -N -H 'accept: text/event-stream' localhost:3000/rooms/lobby   (SSE, stays open)
//          curl localhost:3000/rooms/lobby                                     (long-poll: the next message)
//          curl -d 'hello' localhost:3000/rooms/lobby                          (posts to the room)
//          curl localhost:3000/stats
//
// In your project, import from 'express-channel' instead of '../../lib/index.js'.
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { channels, type ChannelsOptions, type Live } from '../../lib/index.js';

export function createApp(options: ChannelsOptions = {}): { app: Express; live: Live } {
  const live = channels(options);
  const app = express();
  app.use(live);

  app.get('/rooms/:room', (req) => {
    const ch = req.channel!;
    // The same name gives the same group. Adding claims the channel (handshake done, SSE
    // headers written); a long-poll waits for the room's next message. When the channel
    // closes, it leaves the room by itself.
    const room = live.group(`room:${req.params.room}`).add(ch);
    // A WebSocket member's messages go to everyone else in the room.
    ch.onReceive((message) => room.broadcast(message, { except: ch }));
  });

  app.post('/rooms/:room', express.text({ type: '*/*' }), (req, res) => {
    const reached = live.group(`room:${req.params.room}`).broadcast(String(req.body), { event: 'chat' });
    res.json({ reached });
  });

  // Open channels per transport; messages sent, dropped by flow control, and queued.
  app.get('/stats', (_req, res) => {
    res.json(live.stats());
  });

  return { app, live };
}

/** Graceful shutdown: stop taking connections, close every channel, then exit. */
export async function shutdown(server: Server, live: Live): Promise<void> {
  server.close(); // no new connections; upgrades that still arrive are answered 503
  await live.close(); // WebSocket 1001, SSE gets a retry: hint, long-polls are answered
}

// Run standalone when executed directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp({ maxBufferedBytes: 256 * 1024, bufferPolicy: 'close' });
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`chat example on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/rooms/lobby`);
  });
  live.attach(server);
  process.once('SIGTERM', () => {
    void shutdown(server, live).then(() => console.log('closed'));
  });
}
