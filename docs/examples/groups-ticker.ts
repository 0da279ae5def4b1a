// A price ticker: one broadcast a tick to every subscriber of GET /ticker, as SSE events with
// `event: tick` and an `id:` (or WebSocket text frames). Ticks are worth nothing once stale,
// so a subscriber that cannot keep up has ticks dropped (`bufferPolicy: 'drop'`) rather than
// being disconnected; the drops are counted in live.stats().dropped.
//
// Run it:  node --import tsx docs/examples/groups-ticker.ts
// Then:    curl -N -H 'accept: text/event-stream' localhost:3000/ticker
//          curl localhost:3000/stats
//
// In your project, import from 'express-channel' instead of '../../lib/index.js'.
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { channels, type Live } from '../../lib/index.js';

export interface TickerOptions {
  /** Milliseconds between ticks; 0 to tick only when `tick()` is called. @defaultValue 1000 */
  interval?: number;
}

export function createApp({ interval = 1000 }: TickerOptions = {}): { app: Express; live: Live; tick(): number; stop(): void } {
  const live = channels({
    maxBufferedBytes: 64 * 1024, // at most 64 KiB waiting for one subscriber...
    bufferPolicy: 'drop', // ...past which its ticks are skipped, and counted
  });
  const app = express();
  app.use(live);

  // Hold the group: it stays the one live.group('ticker') returns even while it is empty.
  const subscribers = live.group('ticker');
  app.get('/ticker', (req) => {
    subscribers.add(req.channel!);
  });
  app.get('/stats', (_req, res) => {
    res.json({ subscribers: subscribers.size, ...live.stats() });
  });

  let seq = 0;
  let price = 100;
  /** Sends one tick to every subscriber; returns how many it reached. */
  function tick(): number {
    seq++;
    price = Math.round((price + Math.sin(seq) * 0.5) * 100) / 100;
    // Encoded once per transport, whatever the number of subscribers.
    return subscribers.broadcast(JSON.stringify({ seq, price }), { event: 'tick', id: seq });
  }
  const timer = interval > 0 ? setInterval(tick, interval) : undefined;
  timer?.unref();

  return { app, live, tick, stop: () => clearInterval(timer) };
}

// Run standalone when executed directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp();
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`ticker example on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/ticker`);
  });
  live.attach(server);
}
