// Prometheus metrics of a chat lobby: `registerMetrics` puts express-channel's collectors on
// a prom-client registry, and GET /metrics is the scrape route. docs/operations.md lists the
// metrics and a few alerting rules.
//
// Run it:  node --import tsx docs/examples/metrics.ts
// Then:    curl localhost:3000/metrics
//
// In your project, import from 'express-channel' and 'express-channel/metrics' instead.
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { Registry } from 'prom-client';
import { channels, type ChannelGroup, type Live } from '../../lib/index.js';
import { registerMetrics } from '../../lib/metrics/index.js';

export function createApp(): { app: Express; live: Live; registry: Registry; lobby: ChannelGroup } {
  const live = channels();
  const app = express();
  app.use(live);

  // One registry for the app: add prom-client's own collectDefaultMetrics({ register: registry })
  // or your own metrics to it as well. Group names are labels only when listed here.
  const registry = new Registry();
  registerMetrics(live, { registry, groups: ['lobby'] });

  // The scrape route. Keep it off the public internet: serve it on an internal port, or put
  // your auth middleware in front of it.
  app.get('/metrics', (_req, res, next) => {
    registry.metrics().then((text) => res.type(registry.contentType).send(text), next);
  });

  const lobby = live.group('lobby');
  app.get('/lobby', (req) => {
    const ch = req.channel!;
    lobby.add(ch);
    ch.onReceive((message) => lobby.broadcast(message));
  });

  return { app, live, registry, lobby };
}

// Run standalone when executed directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp();
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`metrics example on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/metrics`);
  });
  live.attach(server);
}
