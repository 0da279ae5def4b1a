// http-kit's long-polling example, in TypeScript. Every GET /poll waits for the next event;
// when one comes, every waiting request is answered with it (one send answers a long-poll
// and closes it), and each client polls again.
//
// Run it:  node --import tsx docs/examples/long-polling.ts
// Then:    curl localhost:3000/poll      (waits)
//          curl -X POST -H 'content-type: application/json' -d '{"hi":1}' localhost:3000/publish
//
// In your project, import from 'express-channel' instead of '../../lib/index.js'.
import { pathToFileURL } from 'node:url';
import express, { type Express } from 'express';
import { channels, type Channel, type Live } from '../../lib/index.js';

export interface LongPollingOptions {
  /** Where the example says what happens. @defaultValue console.log */
  log?: (line: string) => void;
}

export function createApp({ log = console.log }: LongPollingOptions = {}): { app: Express; live: Live; publish(data: unknown): number } {
  const live = channels();
  const app = express();
  app.use(live);

  // http-kit's `channel-hub`: the requests waiting for the next event.
  const waiting = new Set<Channel>();

  app.get('/poll', (req) => {
    const ch = req.channel!;
    waiting.add(ch);
    // Remove the channel when it closes: answered, or the client went away.
    ch.onClose((reason) => {
      waiting.delete(ch);
      log(`poll closed: ${reason}`);
    });
    log(`waiting: ${waiting.size}`);
  });

  // http-kit's `on-some-event`: answer every waiting request with the event.
  function publish(data: unknown): number {
    const body = JSON.stringify(data);
    let answered = 0;
    for (const ch of waiting) {
      const sent = ch.send({ status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body });
      if (sent) answered++;
    }
    return answered;
  }

  app.post('/publish', express.json(), (req, res) => {
    res.json({ answered: publish(req.body) });
  });

  return { app, live, publish };
}

// Run standalone when executed directly.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, live } = createApp();
  const server = app.listen(Number(process.env['PORT'] ?? 3000), '127.0.0.1', () => {
    const address = server.address();
    console.log(`long-polling example on http://127.0.0.1:${typeof address === 'object' && address ? address.port : ''}/poll`);
  });
  live.attach(server);
}
